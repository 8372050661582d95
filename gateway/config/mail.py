"""`[mail]`: the SMTP server the gateway sends its mail through, set like a mail client.

    [mail]
    host = "smtp.example.org"
    port = 587                 # 465 for TLS from the first byte (tls = true)
    starttls = true            # upgrade the plain connection before AUTH
    username = "clock@example.org"
    password_file = "/etc/clock-gateway/mail-password"   # or $CLOCK_GATEWAY_MAIL_PASSWORD
    from = "Clock <clock@example.org>"

The password never lives in this file, as the database password need not: it comes
from the environment (the service's EnvironmentFile, like the database URL) or from a
file of its own, read only when mail is sent (gateway/mail.py), so `config show` has
nothing to hide. No host: mail is off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from gateway.config.fields import Section, check_seconds

ENV_MAIL_PASSWORD = "CLOCK_GATEWAY_MAIL_PASSWORD"
_HOST = re.compile(r"^[A-Za-z0-9.:\[\]_-]{1,253}$")


@dataclass(frozen=True)
class MailConfig:
    host: str | None = None  # None: mail is off
    port: int = 587
    starttls: bool = True  # STARTTLS on a plain connection (port 587)
    tls: bool = False  # TLS from the first byte (port 465); excludes starttls
    username: str | None = None  # AUTH only when set
    password_file: Path | None = None  # else $CLOCK_GATEWAY_MAIL_PASSWORD
    sender: str = ""  # the From: address (key `from`)
    # A CA bundle to verify the server with (a private CA); default: the system's.
    ca_file: Path | None = None
    timeout_s: float = 30.0

    @property
    def enabled(self) -> bool:
        return self.host is not None


def check_address(value: Any) -> str | None:
    """None if `value` is one mail address (with or without a display name)."""
    name, address = parseaddr(value)
    if not address or "@" not in address or any(c in value for c in "\r\n"):
        return f"must be a mail address such as clock@example.org, got {value!r}"
    try:
        Address(display_name=name, addr_spec=address)
    except (ValueError, IndexError):
        return f"must be a mail address such as clock@example.org, got {value!r}"
    return None


def parse_mail(root: Section) -> MailConfig:
    sec = root.table("mail")
    host = sec.get("host", str, None, check=lambda v: None if _HOST.match(v) else "bad host name")
    port = sec.get(
        "port", int, None, check=lambda v: None if 1 <= v <= 65535 else "must be 1-65535"
    )
    tls = sec.get("tls", bool, False)
    starttls = sec.get("starttls", bool, not tls)
    if tls and starttls:
        sec.fail("starttls", "cannot be used with tls = true (the connection is already TLS)")
    username = sec.get("username", str, None, check=lambda v: None if v.strip() else "empty")
    password_file = sec.get("password_file", str, None, check=lambda v: None if v else "empty")
    if "password" in sec.data:
        sec.seen.add("password")
        sec.fail(
            "password",
            f"not in the file: use password_file or ${ENV_MAIL_PASSWORD} (a secret in a "
            "configuration file ends up in backups and screen shares)",
        )
    sender = sec.get("from", str, "", check=check_address)
    if host is not None and not sender:
        sec.fail("from", "missing: the address mail is sent from")
    ca_file = sec.get("ca_file", str, None, check=lambda v: None if v else "empty path")
    timeout = float(sec.get("timeout_s", (int, float), 30.0, check=check_seconds(1, 300)))
    sec.finish()
    return MailConfig(
        host=host,
        port=port if port is not None else (465 if tls else 587),
        starttls=bool(starttls) and not tls,
        tls=bool(tls),
        username=username.strip() if username else None,
        password_file=Path(password_file).expanduser() if password_file else None,
        sender=sender,
        ca_file=Path(ca_file).expanduser() if ca_file else None,
        timeout_s=timeout,
    )
