"""The one entry shape every parse adapter produces, whatever the format it read."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..errors import Failure
from ..text.clean import clean_line, clean_text
from .urls import canonical_url

MAX_TITLE = 500
MAX_LINE = 2000  # a GUID, a URL, an author or an outlet name


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


def make_entry(*, guid: str | None, url: str | None, title: str, author: str | None, summary: str, content: str,
               published: datetime, source: str | None) -> FeedEntry:
    """The one way adapters make entries: every field cleaned of control characters and bounded,
    the canonical URL derived, so no adapter can let a NUL or a megabyte title through."""
    link = clean_line(url, MAX_LINE) or None
    return FeedEntry(
        guid=clean_line(guid, MAX_LINE) or None, url=link, canonical_url=canonical_url(link),
        title=clean_line(title, MAX_TITLE), author=clean_line(author, MAX_LINE) or None,
        summary=clean_text(summary), content=clean_text(content), published=published,
        source=clean_line(source, MAX_LINE) or None,
    )


@dataclass
class ParsedFeed:
    entries: list[FeedEntry] = field(default_factory=list)
    title: str | None = None
    ttl: timedelta | None = None
    encoding: str | None = None
    warning: str | None = None  # usable, but something was off (bozo, encoding mismatch)
    failure: Failure | None = None  # not usable: the reason
