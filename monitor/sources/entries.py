"""The one entry shape every parse adapter produces, whatever the format it read."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..errors import Failure
from ..text.clean import clean_line, clean_text
from .outlets import split_headline, strip_outlet
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


def plausible_time(when: datetime, fetched_at: datetime) -> datetime:
    """A published time more than a day ahead is a broken clock or a typo: it would pin the item
    on top of every list, so the time we first saw it stands in."""
    return fetched_at if when > fetched_at + timedelta(days=1) else when


def make_entry(*, guid: str | None, url: str | None, title: str, author: str | None, summary: str, content: str,
               published: datetime, source: str | None) -> FeedEntry:
    """The one way adapters make entries: every field cleaned of control characters and bounded,
    the canonical URL derived, the title a headline (one line, not past MAX_HEADLINE, without the
    outlet appended to it), so no adapter can let a NUL or a paragraph-long title through."""
    link = clean_line(url, MAX_LINE) or None
    outlet = clean_line(source, MAX_LINE) or None
    head, rest = split_headline(clean_text(title, MAX_TITLE * 8))
    summary = clean_text(summary)
    if rest:  # what ran into the title is text; a summary that only repeats the title gives way
        flat = " ".join(summary.split())
        summary = rest if not flat or " ".join(title.split()).startswith(flat) else f"{rest}\n{summary}"
    return FeedEntry(
        guid=clean_line(guid, MAX_LINE) or None, url=link, canonical_url=canonical_url(link),
        title=clean_line(strip_outlet(head, outlet), MAX_TITLE), author=clean_line(author, MAX_LINE) or None,
        summary=summary, content=clean_text(content), published=published, source=outlet,
    )


@dataclass
class ParsedFeed:
    entries: list[FeedEntry] = field(default_factory=list)
    title: str | None = None
    ttl: timedelta | None = None
    encoding: str | None = None
    warning: str | None = None  # usable, but something was off (bozo, encoding mismatch)
    failure: Failure | None = None  # not usable: the reason
