"""The dedupe decision: is this article one we already have (again, reprinted, or in the seed corpus)?

Order of tests, cheapest first:
1. exact: the same canonical URL (another feed's item for the same article), or the same
   normalised-content hash (the same GUID or URL in one feed is already one row);
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
* titles, only when one side has no text: one headline rewritten only at its edges
  (fingerprint.title_match) and the same figures.

Every duplicate links to the first-seen article of its story (the cluster root). The decision
reads the store only through a ``Lookup`` and writes nothing: what to index and which link to
record come back as ``Outcome`` values for the store to write.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np

from ..text.normalize import content_hash
from .fingerprint import (
    ANCHOR_MOD,
    Prepared,
    TextKind,
    numbers,
    overlap,
    pack,
    prepare,
    same_headline,
    title_form,
    title_match,
    unpack,
)
from .lookup import Lookup

NEAR_JACCARD = 0.35
NEAR_CONTAINED = 0.55
FIGURES_AGREE = 0.7
NEAR_MIN_RATIO = 0.25
SHORT_CONTAINED = 0.7
STORED_SMALLER_CONTAINED = 0.9
STORED_SMALLER_RATIO = 0.5
MAX_CANDIDATES = 8
MIN_SHARED_FROM = 8  # an article with this many anchors must share two with a candidate (one is chance)
POSTING_CAP = 16  # an anchor shared by this many articles is boilerplate: stop indexing it
STOCK_MAX = 50_000  # saturated hashes remembered (about 4 MB), so their postings are not read again
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
    rule: str = ""  # in words: what decided


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
    published: datetime | None = None
    prepared: Prepared | None = None  # prepare(title, body), when a worker process made it already


@dataclass(frozen=True)
class Outcome:
    """What the store must write for one decided article."""

    item_id: int
    decision: Decision
    fingerprints: tuple[int, ...]  # hashes to index for it
    sketch: bytes = b""  # its prepared form (fingerprint.pack), read back when it is a candidate
    shared: tuple[int, ...] = ()  # a copy's hashes its story has: indexed only if a reader unlinks it


class Deduper:
    """Stateless but for a bounded cache of prepared stored articles (memory does not grow with
    the store)."""

    def __init__(self, cache_size: int = 2048):
        self._cache: OrderedDict[int, tuple[str, Prepared]] = OrderedDict()
        self._cache_size = cache_size
        # Hashes known to be saturated (stock phrases): each look-up of one read its POSTING_CAP
        # rows only to learn that again (a quarter of the rows a 200-feed cold poll read). A
        # hash never leaves saturation but by retention deleting articles, and a hash taken
        # for saturated a while longer only goes unindexed.
        self._stock: dict[int, None] = {}

    # -- deciding --------------------------------------------------------------------------

    def check(self, lookup: Lookup, title: str, body: str, *, prepared: Prepared | None = None,
              before: int | None = None, exclude: frozenset[int] = frozenset(),
              body_hash: str | None = None, url: str | None = None, published: datetime | None = None) -> Decision:
        """Decide without writing. ``before``: only articles stored earlier than this id count;
        ``exclude``: ids to ignore (``monitor explain`` leaves the item itself out)."""
        p = prepared or prepare(title, body)
        decision = Decision(kind=p.kind)
        seen: dict[int, Candidate] = {}

        def eligible(i: int) -> bool:
            return (before is None or i < before) and i not in exclude

        for item_id, t in lookup.by_url(url) if url else ():
            if eligible(item_id):
                seen[item_id] = Candidate(item_id, t, 1.0, "url", True, item_id, "the same article URL")
        if p.kind != "title" and not seen:
            for item_id, t in lookup.by_hash(body_hash or content_hash(body)):
                if eligible(item_id):
                    seen[item_id] = Candidate(item_id, t, 1.0, "hash", True, item_id, "the same text")
            if not seen and len(p.anchors):
                self._body_candidates(lookup, p, decision, eligible, seen)
        self._title_candidates(lookup, p, decision, eligible, seen)
        decision.nearest = sorted(seen.values(), key=lambda c: (-c.duplicate, _RANK[c.method], -c.similarity,
                                                                 c.id))[:MAX_CANDIDATES]
        best = _closest(lookup, [c for c in decision.nearest if c.duplicate], published)
        if best is not None:
            best.root = lookup.root(best.id)
            decision.duplicate_of, decision.matched = best.root, best.id
            decision.similarity, decision.method = best.similarity, best.method
        return decision

    def _postings(self, lookup: Lookup, hashes: list[int], decision: Decision) -> list[tuple[int, int]]:
        """Postings of the hashes not known to be stock phrases; those known and those found
        saturated are added to ``decision.saturated``."""
        known = [h for h in hashes if h in self._stock]
        postings = lookup.postings([h for h in hashes if h not in self._stock] if known else hashes)
        found = _saturated(postings)
        decision.saturated.update(known, found)
        for h in found:
            self._stock[h] = None
        while len(self._stock) > STOCK_MAX:
            del self._stock[next(iter(self._stock))]  # the oldest first
        return postings

    def _body_candidates(self, lookup: Lookup, p: Prepared, decision: Decision, eligible,
                         seen: dict[int, Candidate]) -> None:
        postings = self._postings(lookup, p.indexed[:len(p.anchors)], decision)
        # A saturated anchor is a stock phrase ("同比增长…"): it says nothing about which
        # article this is, so it neither nominates candidates nor costs a verification.
        shared: dict[int, int] = {}
        for h, item_id in postings:
            if h not in decision.saturated and eligible(item_id):
                shared[item_id] = shared.get(item_id, 0) + 1
        # Counted at the sparse rate every stored text is indexed at (a short text samples more).
        sparse = len(p.anchors) - int(np.count_nonzero(p.anchors & np.uint64(ANCHOR_MOD - 1)))
        least = 2 if sparse >= MIN_SHARED_FROM else 1
        top = sorted((i for i, n in shared.items() if n >= least), key=lambda i: (-shared[i], i))[:MAX_CANDIDATES]
        for item_id, (t, q) in self._prepared(lookup, top).items():
            seen[item_id] = _verify_body(p, item_id, t, q)

    def _title_candidates(self, lookup: Lookup, p: Prepared, decision: Decision, eligible,
                          seen: dict[int, Candidate]) -> None:
        """Titles decide only when one side has no text: where both have a body, the bodies decide
        (two wire stories under one click-bait headline are two stories)."""
        # Title keys are looked up (and their saturation known) for every kind: a key shared by
        # POSTING_CAP articles (a daily series' "北向资金净流入…") is neither used nor indexed further.
        posts = self._postings(lookup, p.indexed[len(p.anchors):], decision) if len(p.title_keys) else []
        hot = decision.saturated
        if p.kind == "full" or any(c.duplicate for c in seen.values()) or not posts:
            return
        ids = sorted({i for h, i in posts if h not in hot and eligible(i)}, reverse=True)
        for item_id, (t, q_title, q_numbers, q_has_body) in self._titles(lookup, ids[:MAX_CANDIDATES * 4]).items():
            # Both have text: the body tests above had their say. A title-only item already
            # linked to a story with text is that story's: the text tests saw its text.
            if p.kind != "title" and (q_has_body or lookup.root(item_id) != item_id):
                continue
            m = title_match(p.title_form, q_title)
            few, many = sorted((p.title_numbers, q_numbers), key=len)
            dup = m.same and few <= many  # a title may leave a figure out, not change it
            if item_id not in seen or dup:
                rule = "the same headline" if dup else "titles differ inside, or one is only a topic"
                seen[item_id] = Candidate(item_id, t, m.shared, "title", dup, item_id, rule)

    def decide(self, lookup: Lookup, articles: Sequence[Article]) -> list[Outcome]:
        """Decide stored articles in id order (one may duplicate one stored just before it in the
        same batch); each is made visible to the rest of the batch through ``lookup.add``."""
        ordered = sorted(articles, key=lambda a: a.id)
        out = []
        for start in range(0, len(ordered), BATCH):
            chunk = ordered[start:start + BATCH]
            prepared = [a.prepared or prepare(a.title, a.body) for a in chunk]
            # One look-up for the whole chunk's hashes instead of one per article.
            lookup.prefetch([a.content_hash for a in chunk if a.content_hash],
                            sorted({h for p in prepared for h in p.indexed if h not in self._stock}),
                            [a.url for a in chunk if a.url])
            for a, p in zip(chunk, prepared, strict=True):
                decision = self.check(lookup, a.title, a.body, prepared=p, before=a.id, body_hash=a.content_hash,
                                      url=a.url, published=a.published)
                hashes, shared = self._to_index(lookup, p, decision)
                sketch = p.sketch or pack(p)
                lookup.add(a.id, a.title, a.body, a.content_hash, hashes, decision.duplicate_of, a.url, a.published,
                           sketch)
                self._remember(a.id, a.title, p)
                out.append(Outcome(a.id, decision, hashes, sketch, shared))
        return out

    @staticmethod
    def _to_index(lookup: Lookup, p: Prepared, decision: Decision) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The hashes an article adds to the index: not the saturated ones, and for a copy not
        those its story already has. A copy's passages find the story through the article they
        came from; indexed again they would only lengthen the postings every later check of that
        story reads (issue 21 measured the check slowing as a story's cluster of reprints grows)."""
        own = dict.fromkeys(h for h in p.indexed if h not in decision.saturated)
        shared: dict[int, None] = {}
        if decision.is_duplicate and own:
            story = {decision.matched, decision.duplicate_of}
            for h, item_id in lookup.postings(list(own)):
                if item_id in story and h in own:
                    del own[h]
                    shared[h] = None
        return tuple(own), tuple(shared)

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
        # A stored sketch is read in microseconds; only an article stored before sketches were
        # kept (or by another version of prepare) is prepared from its text again.
        for item_id, (title, sketch) in (lookup.sketches(missing) if missing else {}).items():
            if (q := unpack(sketch)) is not None:
                out[item_id] = (title, q)
                self._remember(item_id, title, q)
        unsketched = [i for i in missing if i not in out]
        for item_id, (title, body) in (lookup.articles(unsketched) if unsketched else {}).items():
            out[item_id] = (title, prepare(title, body))
            self._remember(item_id, title, out[item_id][1])
        return out

    def _titles(self, lookup: Lookup, ids: list[int]) -> dict[int, tuple[str, str, frozenset[str], bool]]:
        """Title candidates need the title, and whether there is a body: no stored body is read
        or prepared for them."""
        out = {}
        missing = []
        for i in ids:
            if i in self._cache:
                t, q = self._cache[i]
                out[i] = (t, q.title_form, q.title_numbers, q.kind != "title")
            else:
                missing.append(i)
        for item_id, (title, has_body) in lookup.titles(missing).items():
            out[item_id] = (title, title_form(title), numbers(title or ""), has_body)
        return out

    def reset(self) -> None:
        """Forget everything remembered (after a rollback)."""
        self._cache.clear()
        self._stock.clear()

    def forget(self, ids: Iterable[int]) -> None:
        """Drop cached articles whose text changed."""
        for i in ids:
            self._cache.pop(i, None)

    def _remember(self, item_id: int, title: str, p: Prepared) -> None:
        self._cache[item_id] = (title, p)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _closest(lookup: Lookup, dups: list[Candidate], published: datetime | None) -> Candidate | None:
    """The best duplicate candidate. When the best evidence fits copies of several stories alike (a
    headline, an excerpt with no figures, both another day's report and this one), the story
    published nearest in time wins, whatever order the copies arrived in."""
    if not dups:
        return None
    top = [c for c in dups if (_RANK[c.method], c.similarity) == (_RANK[dups[0].method], dups[0].similarity)]
    if len(top) < 2 or published is None:
        return dups[0]
    when = lookup.published([c.id for c in top])
    return min(top, key=lambda c: (abs((when[c.id] - published).total_seconds()) if c.id in when else 1e18, c.id))


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
        rule = f"texts share {o.jaccard:.2f} (Jaccard), the shorter is {contained:.2f} inside the longer"
        if dup and min(len(a), len(b)) >= 3:
            agree = len(a & b) / min(len(a), len(b))
            dup = agree >= FIGURES_AGREE
            rule += f"; figures agree {agree:.2f}" + ("" if dup else f" (< {FIGURES_AGREE}: another report)")
        return Candidate(item_id, title, max(o.jaccard, contained if dup else o.jaccard), "near", dup, item_id, rule)
    # One side is a summary: it must sit inside the other, figures included. A new text that
    # merely quotes a stored short item (a headline, a wire sentence) is its own story: when
    # the stored one is the smaller, it must be nearly all there and most of the new text.
    theirs = large.body_numbers | large.title_numbers
    missing = small.body_numbers - theirs
    if small.cut_figure in missing and any(f.startswith(small.cut_figure) for f in theirs):
        missing = missing - {small.cut_figure}  # the excerpt ends inside that figure
    figures_ok = not missing
    dup = contained >= SHORT_CONTAINED and figures_ok
    same_title = bool(small.body_numbers) and same_headline(p.title_form, q.title_form)
    if small is q and not same_title:
        # Without the same headline, a new text that holds a stored short one must be mostly it:
        # a long article quoting a wire sentence is its own story.
        dup = dup and contained >= STORED_SMALLER_CONTAINED and ratio >= STORED_SMALLER_RATIO
    rule = (f"the shorter text is {contained:.2f} inside the other" + ("" if figures_ok else ", its figures are not")
            + (", under the same headline" if same_title else ""))
    return Candidate(item_id, title, contained, "summary", dup, item_id, rule)
