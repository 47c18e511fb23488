"""The dedupe decision: is this article one we already have (again, reprinted, or in the seed corpus)?

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

Every duplicate links to the first-seen article of its story (the cluster root). The decision
reads the store only through a ``Lookup`` and writes nothing: what to index and which link to
record come back as ``Outcome`` values for the store to write.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..text.normalize import content_hash
from .fingerprint import Prepared, TextKind, normalize_title, numbers, overlap, prepare, title_similarity, to_signed
from .lookup import Lookup

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
BATCH = 500  # articles prepared and looked up together

Method = Literal["url", "hash", "near", "summary", "title"]
_RANK = {"url": 0, "hash": 0, "near": 1, "summary": 2, "title": 3}  # same-shape evidence first


@dataclass
class Candidate:
    id: int
    title: str
    similarity: float
    method: Method
    duplicate: bool
    root: int  # first-seen article of the candidate's story


@dataclass
class Decision:
    kind: TextKind  # what the new text is
    duplicate_of: int | None = None  # cluster root
    matched: int | None = None  # the stored article it was matched to
    similarity: float = 0.0
    method: Method | None = None
    nearest: list[Candidate] = field(default_factory=list)
    saturated: set[int] = field(default_factory=set, repr=False)  # anchors not worth indexing more

    @property
    def is_duplicate(self) -> bool:
        return self.duplicate_of is not None


@dataclass(frozen=True)
class Article:
    """A stored article to decide: what the store hands over after inserting it."""

    id: int
    title: str
    body: str
    content_hash: str | None = None
    url: str | None = None  # canonical: another feed's item at the same URL is the same article


@dataclass(frozen=True)
class Outcome:
    """What the store must write for one decided article."""

    item_id: int
    decision: Decision
    fingerprints: tuple[int, ...]  # hashes to index for it


class Deduper:
    """Stateless but for a bounded cache of prepared stored articles (memory does not grow with
    the store)."""

    def __init__(self, cache_size: int = 2048):
        self._cache: OrderedDict[int, tuple[str, Prepared]] = OrderedDict()
        self._cache_size = cache_size

    # -- deciding --------------------------------------------------------------------------

    def check(self, lookup: Lookup, title: str, body: str, *, prepared: Prepared | None = None,
              before: int | None = None, exclude: frozenset[int] = frozenset(),
              body_hash: str | None = None, url: str | None = None) -> Decision:
        """Decide without writing. ``before``: only articles stored earlier than this id count;
        ``exclude``: ids to ignore (``monitor explain`` leaves the item itself out)."""
        p = prepared or prepare(title, body)
        decision = Decision(kind=p.kind)
        seen: dict[int, Candidate] = {}

        def eligible(i: int) -> bool:
            return (before is None or i < before) and i not in exclude

        for item_id, t in lookup.by_url(url) if url else ():
            if eligible(item_id):
                seen[item_id] = Candidate(item_id, t, 1.0, "url", True, item_id)
        if p.kind != "title" and not seen:
            for item_id, t in lookup.by_hash(body_hash or content_hash(body)):
                if eligible(item_id):
                    seen[item_id] = Candidate(item_id, t, 1.0, "hash", True, item_id)
            if not seen and len(p.anchors):
                self._body_candidates(lookup, p, decision, eligible, seen)
        self._title_candidates(lookup, p, decision, eligible, seen)
        decision.nearest = sorted(seen.values(), key=lambda c: (-c.duplicate, _RANK[c.method], -c.similarity,
                                                                 c.id))[:MAX_CANDIDATES]
        best = next((c for c in decision.nearest if c.duplicate), None)
        if best is not None:
            best.root = lookup.root(best.id)
            decision.duplicate_of, decision.matched = best.root, best.id
            decision.similarity, decision.method = best.similarity, best.method
        return decision

    def _body_candidates(self, lookup: Lookup, p: Prepared, decision: Decision, eligible,
                         seen: dict[int, Candidate]) -> None:
        postings = lookup.postings(to_signed(p.anchors))
        decision.saturated = _saturated(postings)
        # A saturated anchor is a stock phrase ("同比增长…"): it says nothing about which
        # article this is, so it neither nominates candidates nor costs a verification.
        shared: dict[int, int] = {}
        for h, item_id in postings:
            if h not in decision.saturated and eligible(item_id):
                shared[item_id] = shared.get(item_id, 0) + 1
        least = 2 if len(p.anchors) >= MIN_SHARED_FROM else 1
        top = sorted((i for i, n in shared.items() if n >= least), key=lambda i: (-shared[i], i))[:MAX_CANDIDATES]
        for item_id, (t, q) in self._prepared(lookup, top).items():
            seen[item_id] = _verify_body(p, item_id, t, q)

    def _title_candidates(self, lookup: Lookup, p: Prepared, decision: Decision, eligible,
                          seen: dict[int, Candidate]) -> None:
        # Title keys are looked up (and their saturation known) for every kind: a key shared by
        # POSTING_CAP articles (a daily series' "北向资金净流入…") is neither used nor indexed further.
        posts = lookup.postings(to_signed(p.title_keys)) if len(p.title_keys) else []
        hot = _saturated(posts)
        decision.saturated |= hot
        if p.kind == "full" or any(c.duplicate for c in seen.values()) or not posts:
            return
        threshold = TITLE_SIMILAR if p.kind == "title" else TITLE_SIMILAR_FALLBACK
        ids = sorted({i for h, i in posts if h not in hot and eligible(i)}, reverse=True)
        for item_id, (t, q_title, q_numbers) in self._titles(lookup, ids[:MAX_CANDIDATES * 4]).items():
            sim = title_similarity(p.title, q_title, at_least=threshold)
            few, many = sorted((p.title_numbers, q_numbers), key=len)
            dup = sim >= threshold and few <= many  # a title may leave a figure out, not change it
            if item_id not in seen or dup:
                seen[item_id] = Candidate(item_id, t, sim, "title", dup, item_id)

    def decide(self, lookup: Lookup, articles: Sequence[Article]) -> list[Outcome]:
        """Decide stored articles in id order (one may duplicate one stored just before it in the
        same batch); each is made visible to the rest of the batch through ``lookup.add``."""
        ordered = sorted(articles, key=lambda a: a.id)
        out = []
        for start in range(0, len(ordered), BATCH):
            chunk = ordered[start:start + BATCH]
            prepared = [prepare(a.title, a.body) for a in chunk]
            # One look-up for the whole chunk's hashes instead of one per article.
            lookup.prefetch([a.content_hash for a in chunk if a.content_hash],
                            sorted({h for p in prepared for h in to_signed(p.anchors) + to_signed(p.title_keys)}),
                            [a.url for a in chunk if a.url])
            for a, p in zip(chunk, prepared, strict=True):
                decision = self.check(lookup, a.title, a.body, prepared=p, before=a.id, body_hash=a.content_hash,
                                      url=a.url)
                hashes = tuple(dict.fromkeys(h for h in to_signed(p.anchors) + to_signed(p.title_keys)
                                             if h not in decision.saturated))
                lookup.add(a.id, a.title, a.body, a.content_hash, hashes, decision.duplicate_of, a.url)
                self._remember(a.id, a.title, p)
                out.append(Outcome(a.id, decision, hashes))
        return out

    # -- stored articles, prepared once ----------------------------------------------------

    def _prepared(self, lookup: Lookup, ids: list[int]) -> dict[int, tuple[str, Prepared]]:
        out: dict[int, tuple[str, Prepared]] = {}
        missing = []
        for i in ids:
            if i in self._cache:
                self._cache.move_to_end(i)
                out[i] = self._cache[i]
            else:
                missing.append(i)
        for item_id, (title, body) in lookup.articles(missing).items():
            out[item_id] = (title, prepare(title, body))
            self._remember(item_id, title, out[item_id][1])
        return out

    def _titles(self, lookup: Lookup, ids: list[int]) -> dict[int, tuple[str, str, frozenset[str]]]:
        """Title candidates need the title only: no stored body is read or prepared for them."""
        out = {}
        missing = []
        for i in ids:
            if i in self._cache:
                t, q = self._cache[i]
                out[i] = (t, q.title, q.title_numbers)
            else:
                missing.append(i)
        for item_id, title in lookup.titles(missing).items():
            out[item_id] = (title, normalize_title(title), numbers(title or ""))
        return out

    def forget(self, ids: Iterable[int]) -> None:
        """Drop cached articles whose text changed."""
        for i in ids:
            self._cache.pop(i, None)

    def _remember(self, item_id: int, title: str, p: Prepared) -> None:
        self._cache[item_id] = (title, p)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _saturated(postings: list[tuple[int, int]]) -> set[int]:
    per_hash: dict[int, int] = {}
    for h, _ in postings:
        per_hash[h] = per_hash.get(h, 0) + 1
    return {h for h, n in per_hash.items() if n >= POSTING_CAP}


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
