"""Mail (issue 22 item 4): sent to a real local SMTP server that requires STARTTLS
(a throwaway self-signed certificate) and AUTH; the message as received; the one line
of each failure, never with the password in it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config import parse_config
from gateway.config.mail import ENV_MAIL_PASSWORD, MailConfig
from gateway.errors import ConfigError
from gateway.mail import Letter, MailError, send, send_blocking
from tests.support.smtp import PASSWORD, USER, SmtpServer, smtp_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path_factory.mktemp("smtp")) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_env_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MAIL_PASSWORD, raising=False)


def _config(server: SmtpServer, tmp_path: Path, password: str, **extra: Any) -> MailConfig:
    secret = tmp_path / "mail-password"
    secret.write_text(password + "\n", encoding="utf-8")
    table = {
        "host": server.host,
        "port": server.port,
        "starttls": True,
        "username": USER,
        "password_file": str(secret),
        "from": "Clock <clock@example.org>",
        "ca_file": str(server.cert),
        "timeout_s": 20,
        **extra,
    }
    return parse_config({"mail": table}, "test.toml").mail


def test_a_letter_arrives_over_starttls_with_auth(server: SmtpServer, tmp_path: Path) -> None:
    before = len(server.inbox.messages)
    config = _config(server, tmp_path, PASSWORD)
    letter = Letter("Ana García <ana@example.org>", "Jornada sin salida", "Línea 1\nLínea 2\n")
    assert asyncio.run(send(config, [letter])) == [None]
    got = server.inbox.wait_for(before + 1)[-1]
    assert got["From"] == "Clock <clock@example.org>"
    assert got["To"] == "Ana García <ana@example.org>"
    assert got["Subject"] == "Jornada sin salida"
    assert got.get_content().replace("\r\n", "\n") == "Línea 1\nLínea 2\n"
    assert got["Message-ID"].endswith("@example.org>")
    assert USER in server.inbox.logins


def test_the_password_can_come_from_the_environment(
    server: SmtpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = len(server.inbox.messages)
    monkeypatch.setenv(ENV_MAIL_PASSWORD, PASSWORD)
    config = _config(server, tmp_path, "not the one in the file")
    assert send_blocking(config, [Letter("b@example.org", "s", "b")]) == [None]
    assert len(server.inbox.wait_for(before + 1)) == before + 1


def test_a_wrong_password_is_one_line_without_the_secret(
    server: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "wrong-Secret-9876"
    before = len(server.inbox.messages)
    config = _config(server, tmp_path, wrong)
    with pytest.raises(MailError) as caught:
        send_blocking(config, [Letter("ana@example.org", "s", "b")])
    text = str(caught.value)
    assert text == (
        f"mail: {server.host}:{server.port} refused the login of {USER!r} "
        "(wrong username or password)"
    )
    assert wrong not in text and "\n" not in text
    out = capsys.readouterr()
    assert wrong not in out.out + out.err
    assert len(server.inbox.messages) == before  # nothing sent


def test_an_untrusted_certificate_is_refused(server: SmtpServer, tmp_path: Path) -> None:
    config = _config(server, tmp_path, PASSWORD)
    config = MailConfig(**{**config.__dict__, "ca_file": None})  # the system's CAs only
    with pytest.raises(MailError, match="certificate is not trusted"):
        send_blocking(config, [Letter("ana@example.org", "s", "b")])


def test_no_starttls_means_no_login_on_this_server(server: SmtpServer, tmp_path: Path) -> None:
    """AUTH in clear text is refused by the server: said in one line, nothing sent."""
    config = _config(server, tmp_path, PASSWORD, starttls=False)
    with pytest.raises(MailError) as caught:
        send_blocking(config, [Letter("ana@example.org", "s", "b")])
    assert str(caught.value).startswith(f"mail: {server.host}:{server.port} ")
    assert PASSWORD not in str(caught.value)


def test_nobody_listening_is_one_line(tmp_path: Path) -> None:
    config = MailConfig(host="127.0.0.1", port=1, starttls=False, sender="a@example.org")
    with pytest.raises(MailError, match=r"^mail: cannot connect to 127\.0\.0\.1:1: "):
        send_blocking(config, [Letter("ana@example.org", "s", "b")])


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"host": "h", "from": "a@b.org", "password": "x"}, "mail.password: not in the file"),
        ({"host": "h", "from": "a@b.org", "tls": True, "starttls": True}, "mail.starttls"),
        ({"host": "h"}, "mail.from: missing"),
        ({"host": "h", "from": "nobody"}, "mail.from: must be a mail address"),
        ({"host": "h", "from": "a@b.org", "port": 0}, "mail.port: must be 1-65535"),
        ({"host": "h", "from": "a@b.org", "user": "x"}, "mail.user: unknown key"),
    ],
)
def test_bad_mail_settings_are_named(table: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"mail": table}, "c.toml")
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_defaults_follow_the_mode() -> None:
    assert not parse_config({}, "c").mail.enabled
    tls = parse_config({"mail": {"host": "h", "from": "a@b.org", "tls": True}}, "c").mail
    assert (tls.port, tls.tls, tls.starttls) == (465, True, False)
    plain = parse_config({"mail": {"host": "h", "from": "a@b.org"}}, "c").mail
    assert (plain.port, plain.tls, plain.starttls) == (587, False, True)
