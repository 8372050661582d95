"""Sending mail through the configured SMTP server (`[mail]`, gateway/config/mail.py).

The standard library's smtplib and email are enough: one connection per batch,
STARTTLS (or TLS from the first byte) verified against the system's CAs or
`ca_file`, AUTH when a username is set. No library beats that for a few messages an
hour. smtplib blocks, so `send` runs it in a worker thread, off the event loop.

Every failure becomes one line (`MailError`) naming the server and what went wrong,
never the password: it is registered with gateway.redact before the first connection,
so even a server that echoes it back is masked.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from gateway.config.mail import ENV_MAIL_PASSWORD, MailConfig, check_address
from gateway.errors import ConfigError, GatewayError
from gateway.logs import get_logger
from gateway.redact import redact_text, remember_secret

log = get_logger("mail")
MAX_PASSWORD_FILE = 4096


class MailError(GatewayError):
    """The server could not be reached, refused the login, or refused the message."""


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    body: str
    # (file name, PDF bytes): a worker's monthly summary goes with its letter.
    attachments: tuple[tuple[str, bytes], ...] = ()


def password(config: MailConfig) -> str | None:
    """The SMTP password: $CLOCK_GATEWAY_MAIL_PASSWORD, else `password_file`'s first line."""
    secret = os.environ.get(ENV_MAIL_PASSWORD)
    if not secret and config.password_file is not None:
        path = config.password_file
        try:
            with path.open("rb") as f:
                raw = f.read(MAX_PASSWORD_FILE + 1)
        except OSError as exc:
            raise ConfigError(str(path), None, f"cannot read: {exc.strerror}") from None
        if len(raw) > MAX_PASSWORD_FILE:
            raise ConfigError(str(path), None, "too long for a password file")
        try:
            secret = raw.decode("utf-8").splitlines()[0] if raw.strip() else ""
        except UnicodeDecodeError:
            raise ConfigError(str(path), None, "not UTF-8 text") from None
    if secret:
        remember_secret(secret)
        return secret
    return None


def message(config: MailConfig, letter: Letter) -> EmailMessage:
    if problem := check_address(letter.to):
        raise MailError(f"mail: recipient {problem}")
    msg = EmailMessage()
    msg["From"] = config.sender
    msg["To"] = letter.to
    msg["Subject"] = letter.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2].strip("> ") or None)
    msg.set_content(letter.body)
    for name, data in letter.attachments:
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return msg


def _context(config: MailConfig) -> ssl.SSLContext:
    ca = str(config.ca_file) if config.ca_file else None
    try:
        return ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(str(config.ca_file), None, f"cannot load CA file: {exc}") from None


def _where(config: MailConfig) -> str:
    return f"{config.host}:{config.port}"


def _connect(config: MailConfig, secret: str | None) -> smtplib.SMTP:
    host = str(config.host)
    where = _where(config)
    smtp: smtplib.SMTP | None = None
    try:
        if config.tls:
            smtp = smtplib.SMTP_SSL(
                host, config.port, timeout=config.timeout_s, context=_context(config)
            )
        else:
            smtp = smtplib.SMTP(host, config.port, timeout=config.timeout_s)
        smtp.ehlo()
        if config.starttls:
            if not smtp.has_extn("starttls"):
                raise MailError(f"mail: {where} does not offer STARTTLS (set starttls = false?)")
            smtp.starttls(context=_context(config))
            smtp.ehlo()
        if config.username:
            if secret is None:
                raise MailError(
                    f"mail: [mail] username is set but no password "
                    f"(${ENV_MAIL_PASSWORD} or [mail] password_file)"
                )
            smtp.login(config.username, secret)
        return smtp
    except BaseException as exc:
        if smtp is not None:
            _close(smtp)
        if isinstance(exc, GatewayError):
            raise
        if isinstance(exc, Exception):
            raise MailError(_explain(exc, config)) from None
        raise


def _explain(exc: Exception, config: MailConfig) -> str:
    where = _where(config)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        who = config.username
        return f"mail: {where} refused the login of {who!r} (wrong username or password)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"mail: {where}: the server's certificate is not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"mail: {where}: TLS failed ({exc.reason or exc})"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"mail: {where} does not support what [mail] asks ({_reply(exc)})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"mail: {where} answered {exc.smtp_code} {_reply(exc)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"mail: {where} closed the connection"
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"mail: {where} did not answer within {config.timeout_s:g} s"
    if isinstance(exc, socket.gaierror):
        return f"mail: cannot resolve {config.host!r}"
    if isinstance(exc, OSError):
        return f"mail: cannot connect to {where}: {exc.strerror or exc}"
    return f"mail: {where}: {redact_text(str(exc))}"


def _reply(exc: Exception) -> str:
    raw = getattr(exc, "smtp_error", b"")
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or exc)
    return redact_text(" ".join(text.split()))[:200]


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def send_blocking(config: MailConfig, letters: Sequence[Letter]) -> list[str | None]:
    """Send each letter over one connection; per letter None (sent) or why it was not.

    A failure to connect or sign in raises MailError: nothing was sent."""
    if not config.enabled:
        raise MailError("mail: no [mail] host is configured")
    built = [message(config, letter) for letter in letters]
    smtp = _connect(config, password(config))
    results: list[str | None] = []
    try:
        for letter, msg in zip(letters, built, strict=True):
            try:
                smtp.send_message(msg)
                results.append(None)
                log.info("mail_sent", to=letter.to, subject=letter.subject)
            except smtplib.SMTPRecipientsRefused:
                results.append(f"mail: {_where(config)} refused the recipient {letter.to!r}")
            except smtplib.SMTPResponseException as exc:
                results.append(f"mail: {_where(config)} answered {exc.smtp_code} {_reply(exc)}")
            except (smtplib.SMTPException, OSError) as exc:
                # The connection is gone: the rest are not sent either.
                why = _explain(exc, config)
                results.extend([why] * (len(letters) - len(results)))
                break
    finally:
        _close(smtp)
    for letter, refused in zip(letters, results, strict=True):
        if refused is not None:
            log.warning("mail_refused", to=letter.to, error=refused)
    return results


async def send(config: MailConfig, letters: Sequence[Letter]) -> list[str | None]:
    """`send_blocking` in a worker thread: SMTP never stalls the event loop."""
    return await asyncio.to_thread(send_blocking, config, list(letters))
