"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, STARTTLS required with a
throwaway self-signed certificate (made here with openssl), AUTH LOGIN/PLAIN required,
every accepted message kept for the test to read."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.wait import wait_until

USER = "clock@example.org"
PASSWORD = "s3cret-mail-Pa55"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(cert, key) for 127.0.0.1 and localhost, valid for a day."""
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]
    subprocess.run(
        [*command, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:
        wait_until(lambda: len(self.messages) >= count, timeout, f"{count} message(s)")
        with self.lock:
            return list(self.messages)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    cert: Path
    inbox: Inbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(directory: Path) -> Iterator[SmtpServer]:
    cert, key = self_signed(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == USER
            and data.password.decode() == PASSWORD
        )
        if ok:
            inbox.logins.append(USER)
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
        ready_timeout=30,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, cert, inbox)
    finally:
        controller.stop()
