"""The dedupe index in the database: the ``Lookup`` the dedupe decision reads through, and the
writes its outcomes ask for (fingerprint rows, duplicate links)."""
from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ..dedupe.decide import Outcome
from ..dedupe.fingerprint import EMPTY_SKETCH
from ..dedupe.lookup import BODY_FROM
from . import feedback
from .chunks import chunked
from .driver import driver_sql as _driver_sql
from .driver import one_of
from .driver import rows as _rows
from .models import Duplicate, Item, Sketch


def _postings(session: Session, hashes: Sequence[int]) -> list[tuple[int, int]]:
    """The index rows of these hashes, in one prepared statement (``driver.one_of``): formatted
    into its text, each look-up was a new statement of a few thousand characters to parse."""
    if not hashes:
        return []
    where, values = one_of(session, "hash", hashes, "bigint")
    return _rows(session, f"SELECT hash, item_id FROM fingerprints WHERE {where}", (values,))


def _items_where(session: Session, column: str, values: Sequence[str]) -> list[tuple[int, str, str]]:
    """(id, title, value) of the items whose ``column`` is one of ``values``, by id (built by
    SQLAlchemy with one parameter per value, these two look-ups of the dedupe prefetch cost
    more than their queries)."""
    if not values:
        return []
    where, param = one_of(session, column, values)
    return _rows(session, f"SELECT id, title, {column} FROM items WHERE {where} ORDER BY id", (param,))


class SqlLookup:
    """Indexed look-ups, straight or from what ``prefetch`` loaded for a batch. Articles the batch
    adds are seen through ``add`` (their rows are written after the batch is decided)."""

    def __init__(self, session: Session):
        self.session = session
        self._by_hash: dict[str, list[tuple[int, str]]] = {}
        self._hashes_loaded: set[str] = set()
        self._by_url: dict[str, list[tuple[int, str]]] = {}
        self._urls_loaded: set[str] = set()
        self._postings: dict[int, list[int]] = {}
        self._postings_loaded: set[int] = set()
        self._roots: dict[int, int] = {}
        self._sketches: dict[int, tuple[str, bytes]] = {}

    def prefetch(self, content_hashes: Sequence[str], hashes: Sequence[int], urls: Sequence[str] = ()) -> None:
        fresh_urls = [u for u in dict.fromkeys(urls) if u not in self._urls_loaded]
        for item_id, title, url in _items_where(self.session, "canonical_url", fresh_urls):
            self._by_url.setdefault(url, []).append((item_id, title))
        self._urls_loaded.update(fresh_urls)
        wanted = [h for h in dict.fromkeys(content_hashes) if h not in self._hashes_loaded]
        for item_id, title, digest in _items_where(self.session, "content_hash", wanted):
            self._by_hash.setdefault(digest, []).append((item_id, title))
        self._hashes_loaded.update(wanted)
        fresh = [h for h in hashes if h not in self._postings_loaded]
        for fp, item_id in _postings(self.session, fresh):
            self._postings.setdefault(fp, []).append(item_id)
        self._postings_loaded.update(fresh)

    def by_hash(self, content_hash: str) -> list[tuple[int, str]]:
        if content_hash not in self._hashes_loaded:
            self.prefetch([content_hash], [])
        return self._by_hash.get(content_hash, [])[:3]

    def by_url(self, url: str) -> list[tuple[int, str]]:
        if url not in self._urls_loaded:
            self.prefetch([], [], [url])
        return self._by_url.get(url, [])[:3]

    def postings(self, hashes: Sequence[int]) -> list[tuple[int, int]]:
        missing = [h for h in hashes if h not in self._postings_loaded]
        if missing:
            self.prefetch([], missing)
        return [(h, i) for h in hashes for i in self._postings.get(h, ())]

    def articles(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        out = {}
        for chunk in chunked(list(ids)):
            for item_id, title, summary, content in self.session.execute(
                    select(Item.id, Item.title, Item.summary, Item.content).where(Item.id.in_(chunk))):
                out[item_id] = (title, content or summary or "")
        return out

    def sketches(self, ids: Sequence[int]) -> dict[int, tuple[str, bytes]]:
        out = {i: self._sketches[i] for i in ids if i in self._sketches}
        for chunk in chunked([i for i in ids if i not in out]):
            sql = ("SELECT s.item_id, i.title, s.data FROM sketches s JOIN items i ON i.id = s.item_id "
                   f"WHERE s.item_id IN ({','.join('{}' for _ in chunk)})")
            for item_id, title, data in _rows(self.session, sql, list(chunk)):
                out[item_id] = (title, data)
        return out

    def titles(self, ids: Sequence[int]) -> dict[int, tuple[str, bool]]:
        out: dict[int, tuple[str, bool]] = {}
        body_length = func.length(func.coalesce(Item.content, Item.summary, ""))
        for chunk in chunked(list(ids)):
            for i, t, n in self.session.execute(select(Item.id, Item.title, body_length).where(Item.id.in_(chunk))):
                out[i] = (t, (n or 0) >= BODY_FROM)
        return out

    def published(self, ids: Sequence[int]) -> dict[int, datetime]:
        out: dict[int, datetime] = {}
        for chunk in chunked(list(ids)):
            out.update((i, p) for i, p in self.session.execute(
                select(Item.id, Item.published_at).where(Item.id.in_(chunk))))
        return out

    def root(self, item_id: int) -> int:
        if item_id in self._roots:
            return self._roots[item_id]
        rows = _rows(self.session, "SELECT duplicate_of_id FROM duplicates WHERE item_id = {}", (item_id,))
        return rows[0][0] if rows else item_id

    def add(self, item_id: int, title: str, body: str, content_hash: str | None,
            fingerprints: Sequence[int], duplicate_of: int | None, url: str | None = None,
            published: datetime | None = None, sketch: bytes | None = None) -> None:
        if sketch:
            self._sketches[item_id] = (title, sketch)
        if url:
            self._by_url.setdefault(url, []).append((item_id, title))
        if content_hash:
            self._by_hash.setdefault(content_hash, []).append((item_id, title))
        for h in fingerprints:
            self._postings.setdefault(h, []).append(item_id)
        self._roots[item_id] = duplicate_of if duplicate_of is not None else item_id


def save_outcomes(session: Session, outcomes: Sequence[Outcome], now: datetime | None = None, *,
                  judged: Sequence[int] | None = None) -> int:
    """Index the decided articles and record their duplicate links; returns how many were duplicates.
    ``judged``: the items among them a reader may have judged already (None: any). An item stored
    in this transaction has no verdict (verdicts are deleted with their items, so not even under
    a reused id): a poll's new items skip that look-up, 3 % of the writer's time."""
    now = now or datetime.now(UTC)
    links = {o.item_id: {"item_id": o.item_id, "duplicate_of_id": o.decision.duplicate_of,
                         "similarity": float(o.decision.similarity), "method": o.decision.method, "decided_at": now}
             for o in outcomes if o.decision.is_duplicate}
    judged = [o.item_id for o in outcomes] if judged is None else judged
    if judged:
        _apply_readers(session, links, judged, now)
    # A copy a reader unlinked is an original after all: it indexes what it shares with the story too.
    rows = []
    sketches = []
    for o in outcomes:
        own = o.fingerprints if o.item_id in links else o.fingerprints + o.shared
        rows += [(h, o.item_id) for h in own]
        if o.sketch or own:
            sketches.append((o.item_id, o.sketch or EMPTY_SKETCH, _packed(own)))
    if rows:
        _driver_sql(session, "INSERT INTO fingerprints (hash, item_id) VALUES ({}, {})", rows)
    if sketches:
        _driver_sql(session, "INSERT INTO sketches (item_id, data, indexed) VALUES ({}, {}, {})", sketches)
    if links:
        session.execute(insert(Duplicate), list(links.values()))
    return len(links)


def _packed(hashes: Sequence[int]) -> bytes | None:
    return struct.pack(f"<{len(hashes)}q", *hashes) if hashes else None


def _apply_readers(session: Session, links: dict[int, dict], item_ids: Sequence[int], now: datetime) -> None:
    """A reader's verdict on an article outranks a fresh decision about it: "not the same story"
    keeps it out of that story, "same story" keeps it in."""
    for item_id, (same, other) in feedback.overrides(session, item_ids).items():
        other_root = feedback.root_of(session, other)
        link = links.get(item_id)
        if not same and link is not None and link["duplicate_of_id"] in (other, other_root):
            del links[item_id]
        elif same and other_root != item_id:
            links[item_id] = {"item_id": item_id, "duplicate_of_id": other_root, "similarity": 1.0,
                              "method": "reader", "decided_at": now}


def forget(session: Session, item_ids: Sequence[int]) -> None:
    """Drop the index rows and links of items about to be decided again (their text changed)."""
    unindex(session, item_ids)
    for chunk in chunked(sorted(item_ids)):
        session.execute(delete(Sketch).where(Sketch.item_id.in_(chunk)))
        session.execute(delete(Duplicate).where(Duplicate.item_id.in_(chunk)))


def unindex(session: Session, item_ids: Sequence[int]) -> None:
    """Delete these items' fingerprint rows, found by the hashes their sketch rows list: the rows
    have no index by item and no foreign key (models.Fingerprint says why), so this must run
    before the items or their sketches are deleted."""
    for chunk in chunked(sorted(item_ids)):
        where, param = one_of(session, "item_id", chunk, "integer")
        found = _rows(session, f"SELECT item_id, indexed FROM sketches WHERE indexed IS NOT NULL AND {where}",
                      (param,))
        pairs = [(h, item_id) for item_id, data in found
                 for h in struct.unpack(f"<{len(data) // 8}q", data)]
        if pairs:
            _driver_sql(session, "DELETE FROM fingerprints WHERE hash = {} AND item_id = {}", pairs)


def is_indexed(session: Session, item_id: int) -> bool:
    """Decided already: it has a sketch row (every article decided since 0006, and every one with
    fingerprint rows since 0008; a copy of its story may index no fingerprint at all)."""
    return session.scalar(select(Sketch.item_id).where(Sketch.item_id == item_id)) is not None
