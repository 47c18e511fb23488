"""Feed bytes → clean entries. feedparser does the parsing, from bytes we have already decoded
(it never fetches anything itself); everything that is not a usable feed becomes an error with a
reason, never an exception.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import feedparser

from .encoding import as_utf8_xml, charset_from_content_type, decode
from .extract import html_to_text
from .urls import canonical_url

MAX_TITLE = 500
_TAG = re.compile(r"<[a-zA-Z/!]")


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


@dataclass
class ParsedFeed:
    entries: list[FeedEntry] = field(default_factory=list)
    title: str | None = None
    ttl: timedelta | None = None
    encoding: str | None = None
    warning: str | None = None  # usable, but something was off (bozo, encoding mismatch)
    error: str | None = None  # not usable: the reason


def _text(value: str | None) -> str:
    if not value:
        return ""
    return html_to_text(value) if _TAG.search(value) else re.sub(r"[ \t\r\f\v]+", " ", value).strip()


def _when(entry, fetched_at: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = dict.get(entry, key)  # plain lookup: skips feedparser's deprecated key aliasing
        if parsed:
            try:
                when = datetime.fromtimestamp(calendar.timegm(parsed), timezone.utc)
            except (OverflowError, ValueError, OSError):
                continue
            # A date far in the future is a broken clock or a typo; it would pin the item on top.
            return min(when, fetched_at + timedelta(days=1))
    return fetched_at


def _entry(entry, fetched_at: datetime, channel: str | None = None) -> FeedEntry | None:
    title = _text(entry.get("title"))[:MAX_TITLE]
    summary = _text(entry.get("summary"))
    contents = entry.get("content") or []
    content = max((_text(c.get("value")) for c in contents), key=len, default="")
    link = entry.get("link") or None
    if not title and not summary and not content and not link:
        return None
    if not title:
        title = (summary or content)[:60] or (link or "")
    return FeedEntry(
        guid=(entry.get("id") or None),
        url=link,
        canonical_url=canonical_url(link),
        title=title,
        author=_text(entry.get("author")) or None,
        summary=summary,
        content=content,
        published=_when(entry, fetched_at),
        source=(_text((entry.get("source") or {}).get("title")) or channel or None),
    )


def parse_feed(
    body: bytes,
    *,
    content_type: str | None = None,
    encoding: str | None = None,
    fetched_at: datetime | None = None,
) -> ParsedFeed:
    fetched_at = fetched_at or datetime.now(timezone.utc)
    if not body.strip():
        return ParsedFeed(error="empty body")
    decoded = decode(body, http_charset=charset_from_content_type(content_type), override=encoding)
    stripped = decoded.text.lstrip()
    if stripped.startswith("{"):
        data = stripped.encode("utf-8")  # JSON Feed: feedparser reads it from bytes as well
        headers = {"content-type": "application/json"}
    else:
        data = as_utf8_xml(decoded)
        headers = {"content-type": "application/xml; charset=utf-8"}
    try:
        parsed = feedparser.parse(data, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    except Exception as e:  # feedparser is robust, but a parser bug must not stop the poll
        return ParsedFeed(error=f"feedparser failed: {type(e).__name__}: {e}", encoding=decoded.encoding)

    channel = _text(parsed.feed.get("title")) or None
    entries = [e for e in (_entry(x, fetched_at, channel) for x in parsed.entries) if e is not None]
    result = ParsedFeed(entries=entries, encoding=decoded.encoding, title=channel)
    ttl = parsed.feed.get("ttl")
    if ttl and str(ttl).strip().isdigit():
        result.ttl = timedelta(minutes=int(str(ttl).strip()))

    warnings = []
    if decoded.mismatch:
        warnings.append(f"declared {decoded.declared} but the bytes are not; decoded as {decoded.encoding}")
    if parsed.bozo:
        warnings.append(f"not well-formed: {parsed.get('bozo_exception')}")

    if not parsed.version and not entries:
        head = stripped[:500].lower()
        ctype = (content_type or "").split(";")[0] or "no content type"
        if "<html" in head or "<!doctype html" in head or "<body" in head:
            result.error = f"got an HTML page ({ctype}), not a feed: check the URL or find the page's RSS link"
        else:
            reason = parsed.get("bozo_exception") or "no RSS/Atom/JSON feed structure"
            result.error = f"not a feed ({ctype}): {reason}"
        return result
    if warnings:
        result.warning = "; ".join(str(w) for w in warnings)
    return result
