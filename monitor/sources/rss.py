"""RSS, Atom and RDF through feedparser, from bytes we have already decoded (it never fetches
anything itself) into ``FeedEntry`` values."""
from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from ..text.clean import clean_text
from ..text.html import html_to_text
from . import fastrss
from .entries import FeedEntry, make_entry, plausible_time
from .outlets import channel_outlet
from .search import Engine, engine_of, result_outlet

_TAG = re.compile(r"<[a-zA-Z/!]")


def text_of(value: str | None) -> str:
    """Feed text that may be HTML, as plain text (control characters gone first: lxml refuses them)."""
    value = clean_text(value)
    if not value:
        return ""
    return html_to_text(value) if _TAG.search(value) else re.sub(r"[ \t\f\v]+", " ", value).strip()


def parse_xml(data: bytes) -> Any:
    """feedparser's result for UTF-8 XML bytes (its own decoding and fetching stay unused), or the
    same values from ``fastrss`` for a plain RSS 2.0 document."""
    fast = fastrss.parse(data)
    if fast is not None:
        return fast
    return feedparser.parse(data, response_headers={"content-type": "application/xml; charset=utf-8"},
                            sanitize_html=False, resolve_relative_uris=False)


def entries_of(parsed: Any, fetched_at: datetime, outlet: str | None = None) -> list[FeedEntry]:
    """``outlet``: the feed's ``source:`` from the config, for entries that name none."""
    feed = parsed.feed
    engine = engine_of(feed.get("link"), feed.get("generator"), [e.get("link") or "" for e in parsed.entries])
    channel = channel_outlet(text_of(feed.get("title")))
    out = []
    for x in parsed.entries:
        entry = _entry(x, fetched_at, engine, outlet or (None if engine.is_search else channel))
        if entry is not None:
            out.append(entry)
    return out


def ttl_of(parsed: Any) -> timedelta | None:
    ttl = parsed.feed.get("ttl")
    if ttl and str(ttl).strip().isdigit():
        return timedelta(minutes=int(str(ttl).strip()))
    return None


def _when(entry: Any, fetched_at: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = dict.get(entry, key)  # plain lookup: skips feedparser's deprecated key aliasing
        if parsed:
            try:
                return plausible_time(datetime.fromtimestamp(calendar.timegm(parsed), UTC), fetched_at)
            except (OverflowError, ValueError, OSError):
                continue
    return fetched_at


def _entry(entry: Any, fetched_at: datetime, engine: Engine, fallback: str | None) -> FeedEntry | None:
    title = text_of(entry.get("title"))
    summary = text_of(entry.get("summary")) if engine.own_text else ""
    contents = entry.get("content") or []
    content = max((text_of(c.get("value")) for c in contents), key=len, default="")
    link = entry.get("link") or None
    if not title and not summary and not content and not link:
        return None
    if not title:
        title = (summary or content)[:60] or (link or "")
    # The outlet: the entry's own (<source>, Bing's News:Source), else the feed's.
    own = text_of((entry.get("source") or {}).get("title")) or text_of(entry.get("news_source"))
    return make_entry(
        guid=entry.get("id"), url=link, title=title, author=text_of(entry.get("author")),
        summary=summary, content=content, published=_when(entry, fetched_at),
        source=own or fallback or result_outlet(engine, link),
    )
