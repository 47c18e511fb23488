"""The one entry shape every parse adapter produces, whatever the format it read."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..errors import Failure


@dataclass(frozen=True)
class FeedEntry:
    guid: str | None
    url: str | None
    canonical_url: str | None
    title: str
    author: str | None
    summary: str
    content: str
    published: datetime
    source: str | None = None  # the outlet: the entry's <source> (search feeds), else the channel title

    @property
    def body(self) -> str:
        return self.content or self.summary


@dataclass
class ParsedFeed:
    entries: list[FeedEntry] = field(default_factory=list)
    title: str | None = None
    ttl: timedelta | None = None
    encoding: str | None = None
    warning: str | None = None  # usable, but something was off (bozo, encoding mismatch)
    failure: Failure | None = None  # not usable: the reason
