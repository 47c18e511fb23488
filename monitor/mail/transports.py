"""Emails as MIME messages, and the two ways out: a folder of ``.eml`` files, or SMTP.

Both transports are synchronous (smtplib, file writes): the daemon runs them in a worker thread.
A transport raises on failure; the outbox decides about retries.
"""
from __future__ import annotations

import contextlib
import os
import smtplib
import socket
import ssl
import tempfile
import threading
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

from .. import __version__
from ..config import Config
from ..errors import DeliveryError
from .render import header_safe


class Transport(Protocol):
    def send(self, msg: EmailMessage, name: str) -> str | None:
        """Deliver or raise ``DeliveryError``; a returned string is a warning kept with the row."""

    def abort(self) -> None:
        """Stop a send in progress (called from another thread at shutdown)."""


def build_message(*, sender: str, recipients: list[str], subject: str, html: str, text: str,
                  message_id: str, date: datetime, kind: str, period: str,
                  headers: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = header_safe(sender)
    msg["To"] = ", ".join(header_safe(r) for r in recipients)
    msg["Subject"] = header_safe(subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Mailer"] = f"monitor/{__version__}"
    msg["X-Monitor-Delivery"] = header_safe(f"{kind} {period}")
    for name, value in (headers or {}).items():
        msg[name] = header_safe(value, limit=998)
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


class FileTransport:
    """Each email as ``<outbox>/<delivery id>-<kind>.eml``: written to a temporary name and renamed, so a
    crash leaves either the whole file or none, and a re-send rewrites the same file."""

    def __init__(self, folder: Path):
        self.folder = folder

    def send(self, msg: EmailMessage, name: str) -> str | None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as f:
                f.write(msg.as_bytes())
            os.replace(tmp, self.folder / f"{name}.eml")
        except OSError as e:
            raise DeliveryError(f"cannot write to outbox folder {self.folder}: {e}") from e
        return None

    def abort(self) -> None:
        pass  # a file write does not hang


class SmtpTransport:
    """STARTTLS or implicit TLS, AUTH with the password from the environment variable the config
    names. ``abort`` cuts a send in progress off from another thread: a daemon told to stop must not
    wait out a hanging server's timeout."""

    def __init__(self, config: Config, env: Mapping[str, str] | None = None):
        smtp = config.mail.smtp
        assert smtp is not None
        self.smtp = smtp
        values = os.environ if env is None else env
        self.password = values.get(smtp.password_env) if smtp.password_env else None
        self._client: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    def send(self, msg: EmailMessage, name: str) -> str | None:
        where = f"{self.smtp.host}:{self.smtp.port}"
        try:
            with self._connect() as client:
                self._greet(client, where)
                refused = client.send_message(msg)
                if refused:
                    # Some got it: a retry would duplicate it for them. Sent, with a warning kept.
                    return f"SMTP {where} refused {', '.join(sorted(refused))}"
        except DeliveryError:
            raise
        except smtplib.SMTPRecipientsRefused as e:  # every recipient refused
            codes = {code for code, _ in e.recipients.values()}
            raise DeliveryError(f"SMTP {where}: every recipient refused: {_refusals(e.recipients)}",
                                permanent=all(500 <= c < 600 for c in codes)) from e
        except smtplib.SMTPResponseException as e:
            said = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
            raise DeliveryError(f"SMTP {where}: {e.smtp_code} {said}", permanent=500 <= e.smtp_code < 600) from e
        except (smtplib.SMTPException, OSError) as e:
            raise DeliveryError(f"SMTP {where}: {type(e).__name__}: {e}") from e
        finally:
            with self._lock:
                self._client = None
        return None

    def _connect(self) -> smtplib.SMTP:
        s = self.smtp
        timeout = s.timeout.total_seconds()
        client: smtplib.SMTP
        if s.ssl:
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=timeout)
        with self._lock:
            self._client = client
        return client

    def _greet(self, client: smtplib.SMTP, where: str) -> None:
        s = self.smtp
        client.ehlo()
        if s.starttls and not s.ssl:
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if s.username:
            if self.password is None:
                raise DeliveryError(f"SMTP {where}: password variable {s.password_env} is not set")
            client.login(s.username, self.password)

    def abort(self) -> None:
        """Close the connection of the send in progress, if any: it fails at once."""
        with self._lock:
            sock = self._client.sock if self._client is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _refusals(recipients: dict) -> str:
    return "; ".join(f"{r}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                     for r, (code, msg) in sorted(recipients.items()))


def transport_for(config: Config) -> Transport:
    if config.mail.transport == "smtp":
        return SmtpTransport(config)
    return FileTransport(config.mail.outbox)
