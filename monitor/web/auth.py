"""Who may use the web view, and proof that a form came from it.

Bound to a loopback address with no users configured, the view is open to whoever can reach the
port (the person at this machine). Bound anywhere else, or with users or a token configured,
every page needs a sign-in: a user from ``web.users`` (scrypt password hashes made by ``monitor
web hash-password``) or the token in the variable ``web.token_env`` names. The session is a
cookie signed with the link secret. Every form carries a CSRF token tied to the session, and
failed sign-ins are limited per client address.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

from ..config import Config

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
FAILED_SIGNINS = 5  # per client address and window
WINDOW = 300.0  # seconds
LOCAL_USER = "local"


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64): what ``web.users[].password_hash`` holds."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Policy:
    """Whether sign-in is required, and how a name and secret are checked."""

    required: bool
    users: dict[str, str]  # name → password hash
    token: str | None

    @classmethod
    def of(cls, config: Config, host: str) -> Policy:
        token = os.environ.get(config.web.token_env) if config.web.token_env else None
        users = {u.name: u.password_hash for u in config.web.users}
        return cls(bool(users or token) or not is_loopback(host), users, token or None)

    @property
    def usable(self) -> bool:
        """Sign-in required but nobody could sign in: the server refuses to start."""
        return not self.required or bool(self.users or self.token)

    def check(self, name: str, password: str) -> str | None:
        """The signed-in name, or None."""
        if self.token and not name and hmac.compare_digest(password.encode(), self.token.encode()):
            return "token"
        stored = self.users.get(name)
        return name if stored is not None and check_password(password, stored) else None


@dataclass
class Throttle:
    """Failed sign-ins per client address in a sliding window (memory bounded by ``limit`` per
    address and by the addresses seen in the window)."""

    limit: int = FAILED_SIGNINS
    window: float = WINDOW
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def blocked(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self._expire(now)
        return len(self._failures.get(client, ())) >= self.limit

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._failures.setdefault(client, deque(maxlen=self.limit)).append(now)

    def _expire(self, now: float) -> None:
        for client in [c for c, q in self._failures.items() if not q or q[-1] < now - self.window]:
            del self._failures[client]


def csrf_token(session: dict) -> str:
    """The session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


def csrf_ok(session: dict, sent: str | None) -> bool:
    want = session.get("csrf")
    return bool(want) and hmac.compare_digest(str(want), sent or "")
