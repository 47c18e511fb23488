"""Feed bytes → entries: decode with the encoding ladder, hand the text to the adapter for its
format, and turn everything that is not a usable feed into a ``Failure`` with a reason, never an
exception."""
from __future__ import annotations

from datetime import UTC, datetime

from ..errors import Failure, FailureKind
from . import jsonfeed, rss
from .encoding import as_utf8_xml, charset_from_content_type, decode
from .entries import ParsedFeed


def parse_feed(
    body: bytes,
    *,
    content_type: str | None = None,
    encoding: str | None = None,
    fetched_at: datetime | None = None,
    outlet: str | None = None,
) -> ParsedFeed:
    """``outlet``: the feed's ``source:`` from the config, for entries that name none. The format
    is told by the content, not by the URL or the content type (servers label JSON as text/html)."""
    fetched_at = fetched_at or datetime.now(UTC)
    if not body.strip():
        return ParsedFeed(failure=Failure(FailureKind.EMPTY, "empty body"))
    decoded = decode(body, http_charset=charset_from_content_type(content_type), override=encoding)
    stripped = decoded.text.lstrip()
    if stripped.startswith("{"):
        return _json_feed(stripped, decoded.encoding, fetched_at, outlet)
    try:
        parsed = rss.parse_xml(as_utf8_xml(decoded))
    except Exception as e:  # feedparser is robust, but a parser bug must not stop the poll
        return ParsedFeed(failure=Failure(FailureKind.PARSER, f"feedparser failed: {type(e).__name__}: {e}"),
                          encoding=decoded.encoding)
    entries = rss.entries_of(parsed, fetched_at, outlet)
    result = ParsedFeed(entries=entries, encoding=decoded.encoding, title=rss.text_of(parsed.feed.get("title")) or None,
                        ttl=rss.ttl_of(parsed))
    if not parsed.version and not entries:
        result.failure = _not_a_feed(stripped, content_type, parsed.get("bozo_exception"))
        return result
    warnings = []
    if decoded.mismatch:
        warnings.append(f"declared {decoded.declared} but the bytes are not; decoded as {decoded.encoding}")
    if decoded.how == "lossy":
        warnings.append(f"some bytes are not valid {decoded.encoding}; they were replaced")
    if parsed.bozo:
        warnings.append(f"not well-formed: {parsed.get('bozo_exception')}")
    if warnings:
        result.warning = "; ".join(str(w) for w in warnings)
    return result


def _json_feed(text: str, encoding: str, fetched_at: datetime, outlet: str | None) -> ParsedFeed:
    try:
        data = jsonfeed.load(text)
    except jsonfeed.NotJsonFeed as e:
        return ParsedFeed(failure=Failure(FailureKind.NOT_A_FEED, str(e)), encoding=encoding)
    return ParsedFeed(entries=jsonfeed.entries_of(data, fetched_at, outlet), title=jsonfeed.title_of(data),
                      encoding=encoding)


def _not_a_feed(text: str, content_type: str | None, reason: object) -> Failure:
    head = text[:500].lower()
    ctype = (content_type or "").split(";")[0] or "no content type"
    if "<html" in head or "<!doctype html" in head or "<body" in head:
        return Failure(FailureKind.HTML_PAGE,
                       f"got an HTML page ({ctype}), not a feed: check the URL or find the page's RSS link")
    return Failure(FailureKind.NOT_A_FEED, f"not a feed ({ctype}): {reason or 'no RSS/Atom/JSON feed structure'}")
