"""Items: storing a feed's entries (the same GUID or canonical URL in a feed is the same article,
updated rather than stored twice; the same URL in another feed is that feed's item, which dedupe
links to the first), the records that storing hands on to dedupe and
matching, and the reads that commands share."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import ColumnDefault, Table, delete, insert, select, update
from sqlalchemy.orm import Session, aliased

from ..dedupe.decide import Article
from ..sources.entries import FeedEntry
from ..text.normalize import content_hash
from . import driver, fingerprints, search
from .chunks import chunked
from .models import Duplicate, Feed, Item, Match, Watch


@dataclass(frozen=True)
class StoredItem:
    """An item as stored, handed forward to dedupe and matching (nothing is read back)."""

    id: int
    title: str
    summary: str
    content: str
    source: str | None
    url: str | None  # the link to show: canonical (tracking dropped, redirects unwrapped)
    feed: str | None
    content_hash: str | None
    published: datetime
    backlog: bool  # back catalogue: stored and indexed, never alerted or mailed

    @property
    def body(self) -> str:
        return self.content or self.summary


@dataclass
class Saved:
    new: list[StoredItem]
    updated: list[StoredItem]
    unchanged: int = 0


def _key(e: FeedEntry) -> str | None:
    """An entry's identity in its feed: its GUID, else its canonical URL (stored as the guid)."""
    return e.guid or e.canonical_url


Known = dict[str, "KnownRow"]  # an entry's identity in its feed (``_key``) -> its stored row


class KnownRow(NamedTuple):
    id: int
    guid: str
    canonical_url: str | None
    title: str
    summary: str | None
    content: str | None
    source: str | None
    url: str | None
    feed_id: int | None
    backlog: bool


def known_rows(session: Session, feed_id: int, entries: Sequence[FeedEntry]) -> Known:
    """Stored rows of this feed that these entries are. Another feed's item at the same URL is
    not one of them: it is that feed's item, and dedupe links the two. One prepared statement
    for any number of entries (``driver.one_of``), read as plain tuples: every feed of a poll
    makes this look-up on the writer thread."""
    keys = list({k for e in entries if (k := _key(e))})
    if not keys:
        return {}
    where, param = driver.one_of(session, "guid", keys)
    found: Known = {}
    for row in driver.rows(session, f"SELECT {', '.join(KnownRow._fields)} FROM items WHERE feed_id = {{}} AND {where}",
                           (feed_id, param)):
        known = KnownRow._make((*row[:-1], bool(row[-1])))  # (SQLite gives the boolean as 0 or 1)
        found[known.guid] = known
    return found


def new_entries(entries: Sequence[FeedEntry], known: Known) -> list[FeedEntry]:
    """The entries none of the ``known`` rows is: what full text and text work are done for
    before storing."""
    return [e for e in entries if _key(e) not in known]


def save_entries(session: Session, feed_id: int, feed_name: str, entries: Sequence[FeedEntry],
                 now: datetime, news_since: datetime | None = None, known: Known | None = None) -> Saved:
    """Insert new entries, update changed ones, count the rest. A new entry published before
    ``news_since`` is back catalogue. ``known``: ``known_rows`` of these entries, when the caller
    has just read them (a poll does, to know which entries need text work); not read again.

    Core statements, not ORM objects: a poll of 1,000 feeds touches 50,000 rows, and the unit of
    work's per-object bookkeeping would cost more than parsing them."""
    known = known_rows(session, feed_id, entries) if known is None else known
    saved = Saved([], [])
    new_rows: list[dict] = []
    new_entries: list[FeedEntry] = []
    claimed: set[str | None] = set()  # keys of the rows this call inserts
    updated: set[int] = set()
    # Decided in published order (ids follow it): the earliest copy of a story is its root.
    for e in sorted(entries, key=lambda e: e.published):
        guid = _key(e)
        row = known.get(guid) if guid else None
        if row is None:
            if guid is not None and guid in claimed:
                continue  # a feed listing the same entry twice
            claimed.add(guid)
            new_rows.append(_new_row(feed_id, guid, e, now, news_since))
            new_entries.append(e)
        elif (row.title, row.summary or "", row.content or "") != (e.title, e.summary, e.content):
            if row.id not in updated:
                updated.add(row.id)
                values = _changed_values(e, now)
                session.execute(update(Item).where(Item.id == row.id).values(**values))
                # The row keeps its own outlet, link and feed (it may be another feed's article).
                saved.updated.append(StoredItem(row.id, e.title, e.summary, e.content, row.source,
                                                row.canonical_url or row.url,
                                                _feed_name(session, row.feed_id, feed_id, feed_name),
                                                values.get("content_hash"), e.published, row.backlog))
        else:
            saved.unchanged += 1
    if new_rows:
        ids = insert_items(session, new_rows)
        saved.new = [StoredItem(i, e.title, e.summary, e.content, e.source, e.canonical_url or e.url, feed_name,
                                row["content_hash"], e.published, row["backlog"])
                     for i, e, row in zip(ids, new_entries, new_rows, strict=True)]
    search.queue(session, [s.id for s in saved.new] + [s.id for s in saved.updated])
    return saved


def insert_items(session: Session, rows: list[dict]) -> list[int]:
    """Insert item rows (each with the same keys) in multi-row statements; their ids, in the order
    of ``rows``.

    On SQLite the statements go to the driver as written, each value converted by the column's own
    bind processor, once per distinct value: the rows of one feed share their fetch times, and
    SQLAlchemy's per-parameter processing was half the insert's cost in a cold poll (123 of 255
    samples). SQLite numbers the rows of one INSERT as it takes them, in VALUES order, each above
    every id before it: the ids returned, sorted, are the rows' ids in order. PostgreSQL keeps
    SQLAlchemy's insert, with its ordered RETURNING."""
    table = cast(Table, Item.__table__)
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return list(connection.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows))
    if not rows:
        return []
    names = list(rows[0])
    defaults = {c.name: c.default.arg for c in table.c if isinstance(c.default, ColumnDefault) and c.default.is_scalar
                and c.name not in rows[0]}
    convert = [(n, _bind(connection.dialect, table.c[n])) for n in names]
    fixed = tuple(_bind(connection.dialect, table.c[n])(v) for n, v in defaults.items())
    into = f"INSERT INTO items ({', '.join([*names, *defaults])}) VALUES "
    one = f"({', '.join('?' * (len(names) + len(defaults)))})"
    ids: list[int] = []
    for chunk in chunked(rows, _INSERT_ROWS):
        values = tuple(v for row in chunk for v in (*(c(row[n]) for n, c in convert), *fixed))
        ids += sorted(i for (i,) in connection.exec_driver_sql(into + ", ".join([one] * len(chunk)) + " RETURNING id",
                                                               values))
    return ids


_INSERT_ROWS = 500  # rows a statement: 17 columns, well under SQLite's 32,766 parameters


def _bind(dialect, column) -> Callable[[object], object]:
    """The column's bind processing (a TypeDecorator's included), remembering its last value: a
    batch's rows share their fetch and update times."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return lambda v: v
    last: list = [object(), None]

    def once(value):
        if value is not last[0]:
            last[:] = [value, process(value)]
        return last[1]
    return once


def _feed_name(session: Session, row_feed: int | None, feed_id: int, feed_name: str) -> str | None:
    if row_feed == feed_id:
        return feed_name
    return session.scalar(select(Feed.name).where(Feed.id == row_feed)) if row_feed is not None else None


def _new_row(feed_id: int, guid: str | None, e: FeedEntry, now: datetime, news_since: datetime | None) -> dict:
    return dict(backlog=news_since is not None and e.published < news_since,
        feed_id=feed_id, guid=guid, url=e.url, canonical_url=e.canonical_url, title=e.title,
        title_derived=False, author=e.author, source=e.source, summary=e.summary or None,
        content=e.content or None, content_hash=content_hash(e.body) if e.body else None,
        published_at=e.published, fetched_at=now, updated_at=now,
    )


def _changed_values(e: FeedEntry, now: datetime) -> dict:
    values: dict = dict(title=e.title, summary=e.summary or None, content=e.content or None, updated_at=now)
    if e.author:
        values["author"] = e.author
    if e.body:
        values["content_hash"] = content_hash(e.body)
    return values


# ---------------------------------------------------------------------------------------------
# Reads

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
                "url": item.canonical_url or item.url,
                "link": item.url,
                "title": item.title,
                "source": item.source,
                "feed": feed_name,
                "seed": item.seed_file,
                "published": item.published_at.isoformat(),
                "watches": watches.get(item.id, []),
                "duplicate_of": dups.get(item.id),
                "backlog": item.backlog,
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
            "url": orig.canonical_url or orig.url,
            "title": orig.title,
            "seed": orig.seed_file,
            "similarity": round(similarity, 4),
        }
        for item_id, similarity, orig in rows
    }


@dataclass(frozen=True)
class ItemView(StoredItem):
    """An item as the digest, ``explain`` and the web view show it."""

    seed: str | None
    fetched: datetime


def item_views(session: Session, ids: Sequence[int]) -> dict[int, ItemView]:
    out: dict[int, ItemView] = {}
    for chunk in chunked(sorted(set(ids))):
        stmt = select(Item, Feed.name).outerjoin(Feed, Feed.id == Item.feed_id).where(Item.id.in_(chunk))
        for it, feed_name in session.execute(stmt):
            out[it.id] = ItemView(it.id, it.title, it.summary or "", it.content or "", it.source,
                                  it.canonical_url or it.url, feed_name, it.content_hash, it.published_at,
                                  it.backlog, it.seed_file, it.fetched_at)
    return out


def item_view(session: Session, item_id: int) -> ItemView | None:
    return item_views(session, [item_id]).get(item_id)


@dataclass(frozen=True)
class DuplicateLink:
    duplicate_of: int
    method: str
    similarity: float


def duplicate_link(session: Session, item_id: int) -> DuplicateLink | None:
    dup = session.get(Duplicate, item_id)
    return None if dup is None else DuplicateLink(dup.duplicate_of_id, dup.method, dup.similarity)


def article(session: Session, item_id: int) -> Article:
    """A stored item as the dedupe decision takes it."""
    row = session.execute(select(Item.title, Item.summary, Item.content, Item.content_hash)
                          .where(Item.id == item_id)).one()
    return Article(item_id, row.title, row.content or row.summary or "", row.content_hash)


def drop_older_than(session: Session, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` non-seed items published and fetched before ``cutoff`` (retention);
    their matches, links and sketches go with them (foreign keys cascade), their fingerprint rows
    first (they have no foreign key: models.Fingerprint)."""
    ids = list(session.scalars(select(Item.id).where(
        Item.seed_file.is_(None), Item.published_at < cutoff, Item.fetched_at < cutoff).limit(limit)))
    if ids:
        fingerprints.unindex(session, ids)
        session.execute(delete(Item).where(Item.id.in_(ids)))
        search.unindex(session, ids)
    return len(ids)
