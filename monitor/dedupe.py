"""The dedupe stage: is this article one we already have (again, reprinted, or in the seed corpus)?

Order of tests, cheapest first:
1. exact: same normalised-content hash (same GUID in a feed and same canonical URL are already
   merged into one row by the store);
2. near: stored articles sharing anchors with this one (one indexed look-up), each verified with
   the real shingle overlap;
3. title: for an entry with no body (a search-feed title) or a short one no body test settled,
   stored articles whose normalised title keys match, verified by title similarity.

Thresholds were set by measurement (bench/dedupe_bench.py prints precision and recall per kind):

* full vs full: Jaccard >= NEAR_JACCARD, or the shorter text contained >= NEAR_CONTAINED in the
  longer while being at least NEAR_MIN_RATIO of its length (a reprint with paragraphs dropped),
  and the shorter one's figures found in the longer (FIGURES_AGREE; templated daily reports);
* a summary (short body) vs anything: contained >= SHORT_CONTAINED in the other text, and every
  figure it states present there too (the 北向资金 trap: one sentence, a different figure each
  day, separate facts);
* titles: similarity >= TITLE_SIMILAR (>= TITLE_SIMILAR_FALLBACK when a summary had no body match)
  and the same figures.

Every duplicate links to the first-seen article of its story (the cluster root).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from .fingerprint import Prepared, normalize_title, numbers, overlap, prepare, title_similarity, to_signed
from .models import Duplicate, Fingerprint, Item
from .normalize import content_hash

NEAR_JACCARD = 0.35
NEAR_CONTAINED = 0.55
FIGURES_AGREE = 0.7
FIGURES_BELOW_JACCARD = 0.6  # above it the texts are the same but for a few figures: a reprint
NEAR_MIN_RATIO = 0.25
SHORT_CONTAINED = 0.7
STORED_SMALLER_CONTAINED = 0.9
STORED_SMALLER_RATIO = 0.5
TITLE_SIMILAR = 0.85
TITLE_SIMILAR_FALLBACK = 0.9
MAX_CANDIDATES = 8
MIN_SHARED_FROM = 8  # an article with this many anchors must share two with a candidate (one is chance)
POSTING_CAP = 64  # an anchor shared by this many articles is boilerplate: stop indexing it
CHUNK = 500


@dataclass
class Candidate:
    id: int
    title: str
    similarity: float
    method: str  # hash | near | summary | title
    duplicate: bool
    root: int  # first-seen article of the candidate's story


@dataclass
class Decision:
    kind: str  # full | summary | title (what the new text is)
    duplicate_of: int | None = None  # cluster root
    matched: int | None = None  # the stored article it was matched to
    similarity: float = 0.0
    method: str | None = None
    nearest: list[Candidate] = field(default_factory=list)
    saturated: set[int] = field(default_factory=set, repr=False)  # anchors not worth indexing more

    @property
    def is_duplicate(self) -> bool:
        return self.duplicate_of is not None


def item_body(summary: str | None, content: str | None) -> str:
    return content or summary or ""


def _paramstyle(session: Session, sql: str) -> str:
    """``{}`` placeholders in the driver's own style (sqlite3: ?, psycopg: %s)."""
    mark = "?" if session.get_bind().dialect.paramstyle == "qmark" else "%s"
    return sql.replace("{}", mark)


def _sql(session: Session, sql: str, params: tuple):
    return session.connection().exec_driver_sql(_paramstyle(session, sql), params)


class _StoreLookup:
    """Look-ups straight against the database: for a single check."""

    def __init__(self, session: Session):
        self.session = session

    def by_hash(self, h: str) -> list[tuple[int, str]]:
        return [tuple(r) for r in _sql(self.session,
                                       "SELECT id, title FROM items WHERE content_hash = {} ORDER BY id LIMIT 3", (h,))]

    def postings(self, hashes: list[int]) -> list[tuple[int, int]]:
        return _postings(self.session, hashes)


class _BatchLookup:
    """Look-ups for a batch of stored items, fetched in a few statements for the whole batch;
    each item's own rows are added as it is decided, so a later item of the batch sees them."""

    def __init__(self, session: Session, hashes: list[str], fingerprints: list[int]):
        self._by_hash: dict[str, list[tuple[int, str]]] = {}
        for start in range(0, len(hashes), CHUNK):
            chunk = hashes[start:start + CHUNK]
            rows = session.execute(select(Item.id, Item.title, Item.content_hash)
                                   .where(Item.content_hash.in_(chunk)).order_by(Item.id))
            for item_id, title, h in rows:
                self._by_hash.setdefault(h, []).append((item_id, title))
        self._postings: dict[int, list[int]] = {}
        for h, item_id in _postings(session, fingerprints):
            self._postings.setdefault(h, []).append(item_id)

    def by_hash(self, h: str) -> list[tuple[int, str]]:
        return self._by_hash.get(h, [])[:3]

    def postings(self, hashes: list[int]) -> list[tuple[int, int]]:
        return [(h, i) for h in hashes for i in self._postings.get(h, ())]

    def add(self, item_id: int, title: str, h: str | None, fingerprints: list[int]) -> None:
        if h:
            self._by_hash.setdefault(h, []).append((item_id, title))
        for f in fingerprints:
            self._postings.setdefault(f, []).append(item_id)


def _postings(session: Session, hashes: list[int]) -> list[tuple[int, int]]:
    rows: list[tuple[int, int]] = []
    for start in range(0, len(hashes), CHUNK):
        # Integers from numpy, formatted into the statement: one short statement, no
        # per-parameter binding (this is the hot path of every stored article).
        values = ",".join(str(int(h)) for h in hashes[start:start + CHUNK])
        rows += session.connection().exec_driver_sql(
            f"SELECT hash, item_id FROM fingerprints WHERE hash IN ({values})").all()
    return rows


class Deduper:
    """Stateless but for a bounded cache of prepared stored articles (memory does not grow with
    the store)."""

    def __init__(self, cache_size: int = 2048):
        self._cache: OrderedDict[int, tuple[str, Prepared]] = OrderedDict()
        self._cache_size = cache_size

    # -- reading the store -----------------------------------------------------------------

    def _prepared(self, session: Session, ids: list[int]) -> dict[int, tuple[str, Prepared]]:
        out: dict[int, tuple[str, Prepared]] = {}
        missing = []
        for i in ids:
            if i in self._cache:
                self._cache.move_to_end(i)
                out[i] = self._cache[i]
            else:
                missing.append(i)
        if missing:
            rows = session.execute(select(Item.id, Item.title, Item.summary, Item.content).where(Item.id.in_(missing)))
            for row in rows:
                value = (row.title, prepare(row.title, item_body(row.summary, row.content)))
                out[row.id] = value
                self._cache[row.id] = value
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def _titles(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str, frozenset[str]]]:
        """Title candidates need the title only: no stored body is read or prepared for them."""
        out = {}
        missing = []
        for i in ids:
            if i in self._cache:
                t, q = self._cache[i]
                out[i] = (t, q.title, q.title_numbers)
            else:
                missing.append(i)
        if missing:
            for item_id, title in session.execute(select(Item.id, Item.title).where(Item.id.in_(missing))):
                out[item_id] = (title, normalize_title(title), numbers(title or ""))
        return out

    def forget(self, ids: Iterable[int]) -> None:
        for i in ids:
            self._cache.pop(i, None)

    @staticmethod
    def _root(session: Session, item_id: int) -> int:
        row = _sql(session, "SELECT duplicate_of_id FROM duplicates WHERE item_id = {}", (item_id,)).first()
        return row[0] if row else item_id

    # -- deciding --------------------------------------------------------------------------

    def check(self, session: Session, title: str, body: str, *, prepared: Prepared | None = None,
              before: int | None = None, exclude: frozenset[int] = frozenset(),
              body_hash: str | None = None, lookup: _StoreLookup | _BatchLookup | None = None) -> Decision:
        """Decide without writing. ``before``: only articles stored earlier than this id count;
        ``exclude``: ids to ignore (``monitor explain`` leaves the item itself out)."""
        p = prepared or prepare(title, body)
        lookup = lookup or _StoreLookup(session)
        decision = Decision(kind=p.kind)
        seen: dict[int, Candidate] = {}

        def eligible(i: int) -> bool:
            return (before is None or i < before) and i not in exclude

        if p.kind != "title":
            h = body_hash or content_hash(body)
            for item_id, t in lookup.by_hash(h):
                if eligible(item_id):
                    seen[item_id] = Candidate(item_id, t, 1.0, "hash", True, item_id)

            if not seen and len(p.anchors):
                postings = lookup.postings(to_signed(p.anchors))
                per_hash: dict[int, int] = {}
                for h_, _ in postings:
                    per_hash[h_] = per_hash.get(h_, 0) + 1
                decision.saturated = {h_ for h_, n in per_hash.items() if n >= POSTING_CAP}
                # A saturated anchor is a stock phrase ("同比增长…"): it says nothing about which
                # article this is, so it neither nominates candidates nor costs a verification.
                shared: dict[int, int] = {}
                sat = decision.saturated
                for h_, item_id in postings:
                    if h_ not in sat and eligible(item_id):
                        shared[item_id] = shared.get(item_id, 0) + 1
                least = 2 if len(p.anchors) >= MIN_SHARED_FROM else 1
                top = sorted((i for i, n in shared.items() if n >= least), key=lambda i: (-shared[i], i))[:MAX_CANDIDATES]
                for item_id, (t, q) in self._prepared(session, top).items():
                    seen[item_id] = self._verify_body(p, item_id, t, q)

        # Title keys are looked up (and their saturation known) for every kind: a key shared by
        # POSTING_CAP articles (a daily series' "北向资金净流入…") is neither used nor indexed further.
        title_posts = lookup.postings(to_signed(p.title_keys)) if len(p.title_keys) else []
        per_key: dict[int, int] = {}
        for h_, _ in title_posts:
            per_key[h_] = per_key.get(h_, 0) + 1
        hot_keys = {h_ for h_, n in per_key.items() if n >= POSTING_CAP}
        decision.saturated = decision.saturated | hot_keys
        if p.kind != "full" and not any(c.duplicate for c in seen.values()) and title_posts:
            threshold = TITLE_SIMILAR if p.kind == "title" else TITLE_SIMILAR_FALLBACK
            ids = sorted({i for h_, i in title_posts if h_ not in hot_keys and eligible(i)}, reverse=True)
            for item_id, (t, q_title, q_numbers) in self._titles(session, ids[:MAX_CANDIDATES * 4]).items():
                sim = title_similarity(p.title, q_title, at_least=threshold)
                few, many = sorted((p.title_numbers, q_numbers), key=len)
                dup = sim >= threshold and few <= many  # a title may leave a figure out, not change it
                if item_id not in seen or dup:
                    seen[item_id] = Candidate(item_id, t, sim, "title", dup, item_id)

        # A match of the same shape (full text to full text) beats a summary or title match.
        rank = {"hash": 0, "near": 1, "summary": 2, "title": 3}
        decision.nearest = sorted(seen.values(),
                                  key=lambda c: (-c.duplicate, rank[c.method], -c.similarity, c.id))[:MAX_CANDIDATES]
        best = next((c for c in decision.nearest if c.duplicate), None)
        if best is not None:
            best.root = self._root(session, best.id)
            decision.duplicate_of, decision.matched = best.root, best.id
            decision.similarity, decision.method = best.similarity, best.method
        return decision

    @staticmethod
    def _verify_body(p: Prepared, item_id: int, title: str, q: Prepared) -> Candidate:
        o = overlap(p, q)
        small, large = (p, q) if len(p.shingles) <= len(q.shingles) else (q, p)
        contained = o.contained_new if small is p else o.contained_old
        ratio = len(small.shingles) / max(1, len(large.shingles))
        if p.kind == "full" and q.kind == "full":
            dup = o.jaccard >= NEAR_JACCARD or (contained >= NEAR_CONTAINED and ratio >= NEAR_MIN_RATIO)
            # Templated reports (a daily market close, an open-market notice) share most words
            # and differ in their figures: a reprint keeps the figures of what it keeps.
            # (An editor's note may add figures, a cut may drop some: one side's must all be there.)
            a, b = p.body_numbers, q.body_numbers
            if dup and min(len(a), len(b)) >= 3 and o.jaccard < FIGURES_BELOW_JACCARD:
                dup = len(a & b) / min(len(a), len(b)) >= FIGURES_AGREE
            return Candidate(item_id, title, max(o.jaccard, contained if dup else o.jaccard), "near", dup, item_id)
        # One side is a summary: it must sit inside the other, figures included. A new text that
        # merely quotes a stored short item (a headline, a wire sentence) is its own story: when
        # the stored one is the smaller, it must be nearly all there and most of the new text.
        figures_ok = small.body_numbers <= (large.body_numbers | large.title_numbers)
        dup = contained >= SHORT_CONTAINED and figures_ok
        if small is q:
            dup = dup and contained >= STORED_SMALLER_CONTAINED and ratio >= STORED_SMALLER_RATIO
        return Candidate(item_id, title, contained, "summary", dup, item_id)

    # -- writing ---------------------------------------------------------------------------

    def process(self, session: Session, item_ids: list[int], *, replace: bool = False,
                now: datetime | None = None) -> int:
        """Decide and index stored items in id order (an item may duplicate one stored just
        before it in the same batch). Returns how many were duplicates."""
        now = now or datetime.now(timezone.utc)
        ids = sorted(item_ids)
        if replace and ids:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                session.execute(delete(Fingerprint).where(Fingerprint.item_id.in_(chunk)))
                session.execute(delete(Duplicate).where(Duplicate.item_id.in_(chunk)))
            self.forget(ids)
        duplicates = 0
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            rows = session.execute(select(Item.id, Item.title, Item.summary, Item.content, Item.content_hash)
                                   .where(Item.id.in_(chunk)).order_by(Item.id)).all()
            work = [(row, item_body(row.summary, row.content)) for row in rows]
            prepared = [prepare(row.title, body) for row, body in work]
            lookup = _BatchLookup(
                session, [row.content_hash for row, _ in work if row.content_hash],
                sorted({h for q in prepared for h in to_signed(q.anchors) + to_signed(q.title_keys)}))
            fingerprint_rows: list[tuple[int, int]] = []
            duplicate_rows: list[dict] = []
            for (row, body), p in zip(work, prepared):
                decision = self.check(session, row.title, body, prepared=p, before=row.id,
                                      body_hash=row.content_hash, lookup=lookup)
                hashes = self._index_rows(p, decision)
                lookup.add(row.id, row.title, row.content_hash, hashes)
                fingerprint_rows += [(h, row.id) for h in hashes]
                if decision.is_duplicate:
                    duplicate_rows.append(self._duplicate_row(row.id, decision, now))
                    duplicates += 1
                self._remember(row.id, row.title, p)
            self._write(session, fingerprint_rows, duplicate_rows)
        return duplicates

    @staticmethod
    def _index_rows(p: Prepared, decision: Decision) -> list[int]:
        hashes = [h for h in to_signed(p.anchors) + to_signed(p.title_keys) if h not in decision.saturated]
        return list(dict.fromkeys(hashes))

    @staticmethod
    def _duplicate_row(item_id: int, decision: Decision, now: datetime) -> dict:
        return {"item_id": item_id, "duplicate_of_id": decision.duplicate_of,
                "similarity": float(decision.similarity), "method": decision.method, "decided_at": now}

    @staticmethod
    def _write(session: Session, fingerprint_rows: list[tuple[int, int]], duplicate_rows: list[dict]) -> None:
        if fingerprint_rows:
            session.connection().exec_driver_sql(
                _paramstyle(session, "INSERT INTO fingerprints (hash, item_id) VALUES ({}, {})"), fingerprint_rows)
        if duplicate_rows:
            session.execute(insert(Duplicate), duplicate_rows)

    def _remember(self, item_id: int, title: str, p: Prepared) -> None:
        self._cache[item_id] = (title, p)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def record(self, session: Session, item_id: int, title: str, p: Prepared, decision: Decision,
               now: datetime) -> None:
        """Index one article and store its decision (``process`` does this for a whole batch)."""
        hashes = self._index_rows(p, decision)
        dup = [self._duplicate_row(item_id, decision, now)] if decision.is_duplicate else []
        self._write(session, [(h, item_id) for h in hashes], dup)
        self._remember(item_id, title, p)
