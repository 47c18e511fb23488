"""Watches in the database, and matches stored per (item, watch) once.

Matching runs inside the transaction that stores the items (see ``pipeline``), so an item is
never stored without its match decision, even if the process dies right after.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator
from urllib.parse import urlsplit

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from .config import Config
from .match import Doc, Matcher
from .models import Feed, Item, Match, Watch
from .query import parse_watch

BATCH = 500


def matcher_for(config: Config) -> Matcher:
    return Matcher((w.name, parse_watch(w)) for w in config.watches)


def watch_query_text(w) -> str:
    return w.query if w.query is not None else " OR ".join(f'"{k}"' for k in w.keywords)


def sync_watches(session: Session, config: Config, now: datetime | None = None) -> dict[str, int]:
    """Rows for the configured watches (name → id). A removed watch is deactivated, not deleted,
    so its past matches stay explainable; a changed query applies to items matched from now on."""
    now = now or datetime.now(timezone.utc)
    rows = {w.name: w for w in session.scalars(select(Watch))}
    wanted = {w.name: watch_query_text(w) for w in config.watches}
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


@dataclass(frozen=True)
class ItemText:
    id: int
    doc: Doc


def load_docs(session: Session, ids: Iterable[int]) -> Iterator[ItemText]:
    ids = list(ids)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        stmt = (select(Item.id, Item.title, Item.summary, Item.content, Item.source, Item.url, Feed.name)
                .outerjoin(Feed, Feed.id == Item.feed_id).where(Item.id.in_(chunk)))
        for row in session.execute(stmt):
            yield ItemText(row.id, doc_of(row.title, row.summary, row.content, row.source, row.url, row.name))


def doc_of(title, summary, content, source, url, feed_name) -> Doc:
    host = urlsplit(url).hostname if url else None
    return Doc(
        title=title or "",
        summary=summary or "",
        content=content or "",
        source=" | ".join(s for s in (source, feed_name, host) if s),
    )


def match_items(session: Session, matcher: Matcher, watch_ids: dict[str, int], item_ids: Iterable[int],
                *, replace: bool = True, now: datetime | None = None,
                only_watches: set[str] | None = None) -> dict[str, int]:
    """Match items and store the results. ``replace`` drops earlier matches of these items (an
    updated item is re-matched from scratch). Returns matches stored per watch name."""
    now = now or datetime.now(timezone.utc)
    item_ids = list(item_ids)
    counts: dict[str, int] = {}
    if not item_ids:
        return counts
    scope = [watch_ids[n] for n in (only_watches or watch_ids) if n in watch_ids]
    rows: list[dict] = []
    matched_items: list[int] = []
    for it in load_docs(session, item_ids):
        for result in matcher.match(it.doc):
            if only_watches and result.watch not in only_watches:
                continue
            wid = watch_ids.get(result.watch)
            if wid is None:
                continue
            rows.append(dict(item_id=it.id, watch_id=wid, hits=[h.as_json() for h in result.hits], matched_at=now))
            counts[result.watch] = counts.get(result.watch, 0) + 1
            matched_items.append(it.id)
    if replace:
        for start in range(0, len(item_ids), BATCH):
            session.execute(delete(Match).where(Match.item_id.in_(item_ids[start:start + BATCH]),
                                                Match.watch_id.in_(scope)))
    if rows:
        session.execute(insert(Match), rows)
    return counts


@dataclass
class RematchResult:
    items: int = 0
    before: int = 0
    after: int = 0


def rematch(sessions: sessionmaker[Session], config: Config, *, watch: str | None = None,
            since: datetime | None = None) -> RematchResult:
    """Re-run the current queries over stored feed items (seed articles are reference material)."""
    matcher = matcher_for(config)
    result = RematchResult()
    with sessions.begin() as session:
        watch_ids = sync_watches(session, config)
    only = {watch} if watch else None
    stmt = select(Item.id).where(Item.seed_file.is_(None))
    if since is not None:
        stmt = stmt.where(Item.published_at >= since)
    with sessions() as session:
        ids = list(session.scalars(stmt.order_by(Item.id)))
    scope = [watch_ids[watch]] if watch else list(watch_ids.values())
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        with sessions.begin() as session:
            result.before += _count(session, chunk, scope)
            match_items(session, matcher, watch_ids, chunk, only_watches=only)
            result.after += _count(session, chunk, scope)
        result.items += len(chunk)
    return result


def _count(session: Session, ids: list[int], watch_ids: list[int]) -> int:
    return session.scalar(select(func.count()).select_from(Match)
                          .where(Match.item_id.in_(ids), Match.watch_id.in_(watch_ids))) or 0
