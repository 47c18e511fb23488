"""Full text for feeds that only carry a teaser (``full_text: true``): fetch the article page and
extract the main text with trafilatura, an established extractor, then drop portal boilerplate.
Any failure leaves the feed's own text in place.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .encoding import charset_from_content_type, decode
from .extract import strip_boilerplate
from .fetch import FetchRequest, Fetcher
from .models import Item
from .normalize import content_hash

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


async def fetch_full_text(
    fetcher: Fetcher, sessions: sessionmaker[Session], item_ids: list[int],
    on_update: Callable[[Session, int], None] | None = None,
) -> int:
    """Replace the content of the given items by their pages' text; returns how many got one.
    ``on_update`` re-processes an item (matching, dedupe) in the transaction that changed it."""
    with sessions() as session:
        targets = session.execute(select(Item.id, Item.url).where(Item.id.in_(item_ids), Item.url.is_not(None))).all()

    async def one(item_id: int, url: str) -> tuple[int, str | None]:
        fetched = await fetcher.fetch(FetchRequest(url))
        if not fetched.ok:
            log.info("full text for item %d: %s", item_id, fetched.error or f"HTTP {fetched.status}")
            return item_id, None
        text = await asyncio.to_thread(extract_article, fetched.body, fetched.headers.get("content-type"))
        return item_id, text

    done = 0
    for item_id, text in await asyncio.gather(*(one(i, u) for i, u in targets)):
        if text is None:
            continue
        with sessions.begin() as session:
            item = session.get(Item, item_id)
            item.content, item.content_hash = text, content_hash(text)
            item.updated_at = datetime.now(timezone.utc)
            if on_update is not None:
                session.flush()
                on_update(session, item_id)
        done += 1
    return done
