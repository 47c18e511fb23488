"""The links every email carries when the web view has an address (``web.base_url``): its copy
in the browser, and signed one-click feedback (not relevant, mute a watch, unsubscribe)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlencode

from .. import signing
from ..config import Config
from ..store import Session, settings


def link_secret(config: Config, session: Session) -> str:
    """The variable the config names, else the key the database keeps (made on first use)."""
    if config.web.secret_env:
        value = os.environ.get(config.web.secret_env)
        if value:
            return value
    return settings.link_secret(session)


@dataclass(frozen=True)
class Links:
    """Builds one recipient's links; every method returns None without a ``base_url``."""

    base: str | None
    secret: str
    recipient: str

    @classmethod
    def of(cls, config: Config, session: Session, recipient: str) -> Links:
        secret = link_secret(config, session) if config.web.base_url else ""
        return cls(config.web.base_url, secret, recipient)

    def _act(self, action: str, target: str) -> str | None:
        return signing.action_url(self.base, self.secret, action, self.recipient, target) if self.base else None

    def not_relevant(self, story: int, watch: str) -> str | None:
        return self._act("not-relevant", f"{story}:{watch}")

    def mute(self, watch: str) -> str | None:
        return self._act("mute", watch)

    def unsubscribe(self) -> str | None:
        return self._act("unsubscribe", "*")

    def view(self, key: str) -> str | None:
        return signing.view_url(self.base, self.secret, key) if self.base else None

    def story(self, story: int) -> str | None:
        return f"{self.base}/stories/{story}" if self.base else None

    def watch(self, watch: str) -> str | None:
        return f"{self.base}/?{urlencode({'watch': watch})}" if self.base else None
