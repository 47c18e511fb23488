"""Full text for feeds that only carry a teaser (``full_text: true``): fetch each new entry's page
and extract the main text with trafilatura, an established extractor, then drop portal
boilerplate. Runs before the entries are stored, so an item is stored (and deduped and matched)
once, with its full text. Any failure leaves the feed's own text in place."""
from __future__ import annotations

import asyncio
import dataclasses
import logging

from ..text.boilerplate import strip_boilerplate
from .encoding import charset_from_content_type, decode
from .entries import FeedEntry
from .fetch import Fetcher, FetchRequest

log = logging.getLogger("monitor.fulltext")
MIN_CHARS = 80  # shorter than this is a cookie wall or an error page, not an article


def extract_article(body: bytes, content_type: str | None = None) -> str | None:
    import trafilatura

    html = decode(body, http_charset=charset_from_content_type(content_type)).text
    try:
        text = trafilatura.extract(html, include_comments=False, include_tables=False, favor_recall=True)
    except Exception as e:  # the extractor must never take the poll down
        log.info("extraction failed: %s", e)
        return None
    if not text:
        return None
    text = "\n".join(strip_boilerplate(text.split("\n")))
    return text if len(text) >= MIN_CHARS else None


async def with_full_text(fetcher: Fetcher, entries: list[FeedEntry]) -> list[FeedEntry]:
    """The entries, each with its page's text as content where one could be extracted."""

    async def one(entry: FeedEntry) -> FeedEntry:
        if not entry.url:
            return entry
        fetched = await fetcher.fetch(FetchRequest(entry.url))
        if not fetched.ok:
            log.info("full text for %s: %s", entry.url, fetched.problem)
            return entry
        text = await asyncio.to_thread(extract_article, fetched.body, fetched.headers.get("content-type"))
        return dataclasses.replace(entry, content=text) if text else entry

    return list(await asyncio.gather(*(one(e) for e in entries)))
