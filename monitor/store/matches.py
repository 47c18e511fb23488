"""Watch rows, and matches stored per (item, watch) once.

Matching runs inside the transaction that stores the items (see ``pipeline.process``), so an item
is never stored without its match decision, even if the process dies right after.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..watch.matcher import Doc, WatchResult, doc_of
from .chunks import chunked
from .engine import Database
from .models import Feed, Item, Match, Watch


def sync_watches(session: Session, wanted: dict[str, str], now: datetime | None = None) -> dict[str, int]:
    """Rows for the configured watches (name → query text; returns name → id). A removed watch is
    deactivated, not deleted, so its past matches stay explainable; a changed query applies to
    items matched from now on."""
    now = now or datetime.now(UTC)
    rows = {w.name: w for w in session.scalars(select(Watch))}
    for name, query in wanted.items():
        row = rows.get(name)
        if row is None:
            row = Watch(name=name, query=query, active=True, updated_at=now)
            session.add(row)
            rows[name] = row
        elif row.query != query or not row.active:
            row.query, row.active, row.updated_at = query, True, now
    for name, row in rows.items():
        if name not in wanted and row.active:
            row.active, row.updated_at = False, now
    session.flush()
    return {name: rows[name].id for name in wanted}


def ensure_watches(db: Database, wanted: dict[str, str]) -> dict[str, int]:
    """``sync_watches`` in a transaction of its own. Two daemons starting together may race on the
    insert: the loser retries and finds the winner's rows."""
    for attempt in range(3):
        try:
            with db.begin() as session:
                return sync_watches(session, wanted)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def save_matches(session: Session, results: Sequence[tuple[int, list[WatchResult]]], watch_ids: dict[str, int],
                 *, replace: Sequence[int] = (), now: datetime | None = None) -> dict[str, int]:
    """Store (item, watch) matches. Earlier matches of the items in ``replace`` with the watches in
    ``watch_ids`` are dropped first (an updated item is matched from scratch). Returns matches
    stored per watch name."""
    now = now or datetime.now(UTC)
    counts: dict[str, int] = {}
    rows = []
    for item_id, matched in results:
        for result in matched:
            wid = watch_ids.get(result.watch)
            if wid is None:
                continue
            rows.append(dict(item_id=item_id, watch_id=wid, hits=[h.as_json() for h in result.hits], matched_at=now,
                             via=result.via))
            counts[result.watch] = counts.get(result.watch, 0) + 1
    scope = list(watch_ids.values())
    for chunk in chunked(sorted(replace)):
        session.execute(delete(Match).where(Match.item_id.in_(chunk), Match.watch_id.in_(scope)))
    if rows:
        # The table's insert, not the ORM's bulk insert of the class: the same rows, at half the
        # cost of each call (a poll makes one per feed on its writer thread).
        session.execute(insert(cast(Table, Match.__table__)), rows)
    return counts


def matched_watches(session: Session, item_id: int) -> dict[str, str | None]:
    """Watch name -> how it matched (None: on the text, "search": its search feed returned it)."""
    return {name: via for name, via in session.execute(
        select(Watch.name, Match.via).join(Match, Match.watch_id == Watch.id).where(Match.item_id == item_id))}


def search_watch_of(session: Session, item_id: int) -> str | None:
    """The watch whose search feed an item came from, if it came from one."""
    return session.scalar(select(Feed.watch_name).join(Item, Item.feed_id == Feed.id)
                          .where(Item.id == item_id, Feed.kind == "search"))


# ---------------------------------------------------------------------------------------------
# Re-matching stored items (after a query changed)


def feed_item_ids(session: Session, since: datetime | None = None) -> list[int]:
    """Ids of stored feed items (seed articles are reference material, never matched)."""
    stmt = select(Item.id).where(Item.seed_file.is_(None))
    if since is not None:
        stmt = stmt.where(Item.published_at >= since)
    return list(session.scalars(stmt.order_by(Item.id)))


@dataclass(frozen=True)
class ItemDoc:
    id: int
    doc: Doc


def docs(session: Session, ids: Iterable[int]) -> Iterator[ItemDoc]:
    """What a watch looks at for stored items, read in chunks."""
    for chunk in chunked(list(ids)):
        stmt = (select(Item.id, Item.title, Item.summary, Item.content, Item.source, Item.url, Feed.name)
                .outerjoin(Feed, Feed.id == Item.feed_id).where(Item.id.in_(chunk)))
        for row in session.execute(stmt):
            yield ItemDoc(row.id, doc_of(row.title, row.summary, row.content, row.source, row.url, row.name))


def count_matches(session: Session, item_ids: Sequence[int], watch_ids: Sequence[int]) -> int:
    total = 0
    for chunk in chunked(list(item_ids)):
        total += session.scalar(select(func.count()).select_from(Match)
                                .where(Match.item_id.in_(chunk), Match.watch_id.in_(watch_ids))) or 0
    return total
