"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the tests: it keeps every message it accepts,
can require AUTH, can refuse mail on purpose, and can be stopped and started on the same port."""
from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(self, port: int | None = None, *, username: str | None = None, password: str | None = None,
                 starttls=None, implicit_tls=None):
        self.port = port or free_port()
        self.starttls, self.implicit_tls = starttls, implicit_tls  # ssl.SSLContext (server side) or None
        self.username, self.password = username, password
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: str | None = None  # e.g. "451 4.3.0 try again later"
        self.hang: float = 0.0  # seconds to sit on a message before answering (a server that hangs)
        self.hung = 0  # messages that arrived while hanging
        self.logins: list[str] = []
        self._controller: Controller | None = None

    # aiosmtpd handler hook
    async def handle_DATA(self, server, session, envelope) -> str:
        if self.hang:
            self.hung += 1
            await asyncio.sleep(self.hang)
            return "451 4.3.0 hung up"
        if self.refuse:
            return self.refuse
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.username
              and auth_data.password.decode() == self.password)
        if ok:
            self.logins.append(self.username)
        return AuthResult(success=ok)

    def start(self) -> SmtpServer:
        kwargs: dict = {}
        if self.username:
            kwargs = dict(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=bool(self.starttls))  # implicit TLS: aiosmtpd cannot tell
        if self.starttls:
            kwargs.update(tls_context=self.starttls, require_starttls=True)
        if self.implicit_tls:
            kwargs.update(ssl_context=self.implicit_tls)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
