"""Reads and writes of items that several commands share."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from .models import Duplicate, Feed, Item, Match, Watch


@dataclass(frozen=True)
class ItemFilter:
    watch: str | None = None
    since: datetime | None = None
    seeds_only: bool = False
    limit: int | None = None


def iter_items(session: Session, flt: ItemFilter) -> Iterator[dict]:
    """Items newest first as the public JSON shape of ``monitor items --json``."""
    stmt = select(Item, Feed.name).outerjoin(Feed, Item.feed_id == Feed.id)
    if flt.seeds_only:
        stmt = stmt.where(Item.seed_file.is_not(None))
    if flt.since is not None:
        stmt = stmt.where(Item.published_at >= flt.since)
    if flt.watch is not None:
        stmt = stmt.where(
            Item.id.in_(select(Match.item_id).join(Watch, Watch.id == Match.watch_id).where(Watch.name == flt.watch))
        )
    stmt = stmt.order_by(Item.published_at.desc(), Item.id.desc())
    if flt.limit:
        stmt = stmt.limit(flt.limit)

    # Stream in pages: the store can hold millions of rows.
    for page in session.execute(stmt.execution_options(yield_per=500)).partitions():
        ids = [item.id for item, _ in page]
        watches = _watches_of(session, ids)
        dups = _duplicates_of(session, ids)
        for item, feed_name in page:
            yield {
                "id": item.id,
                "url": item.url,
                "title": item.title,
                "source": item.source,
                "feed": feed_name,
                "seed": item.seed_file,
                "published": item.published_at.isoformat(),
                "watches": watches.get(item.id, []),
                "duplicate_of": dups.get(item.id),
            }


def _watches_of(session: Session, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    rows = session.execute(
        select(Match.item_id, Watch.name).join(Watch, Watch.id == Match.watch_id).where(Match.item_id.in_(ids))
        .order_by(Watch.name)
    )
    for item_id, name in rows:
        out.setdefault(item_id, []).append(name)
    return out


def _duplicates_of(session: Session, ids: list[int]) -> dict[int, dict]:
    original = aliased(Item)
    rows = session.execute(
        select(Duplicate.item_id, Duplicate.similarity, original)
        .join(original, original.id == Duplicate.duplicate_of_id)
        .where(Duplicate.item_id.in_(ids))
    )
    return {
        item_id: {
            "id": orig.id,
            "url": orig.url,
            "title": orig.title,
            "seed": orig.seed_file,
            "similarity": round(similarity, 4),
        }
        for item_id, similarity, orig in rows
    }
