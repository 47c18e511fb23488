"""Watchlist matching: every term of every watch in one Aho-Corasick automaton, then each watch's
boolean tree evaluated over the hits.

Both sides go through ``normalize.match_form`` (NFKC, traditional → simplified, case-folded,
punctuation variants unified, white space dropped except between Latin words), so 消費金融
matches 消费金融 and ``消费 金融`` matches 消费金融. Chinese terms match as substrings; a term that
starts or ends with a Latin letter or digit must start or end on a word boundary, so ``AI``
does not match inside ``said`` (see ``_char_class``).

Deciding is the fast path (one automaton pass per field); spans mapped back onto the original
text are computed from the same pass, only for the watches that matched.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

import ahocorasick_rs

from ..text.normalize import Folded, match_form, match_form_folded, match_origin
from .query import And, Node, Not, Term, WatchLike, parse_watch, terms

_LETTER = re.compile("[a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]")
_DIGIT = re.compile("[0-9]")


def _char_class(ch: str) -> re.Pattern | None:
    """Latin (Greek, Cyrillic) letters and digits form words; a term starting with a letter must
    not continue a run of letters, one starting with a digit not a run of digits. So AI does not
    match inside said, 3亿 not inside 13亿, but ETF does match 科创50ETF."""
    if _LETTER.match(ch):
        return _LETTER
    if _DIGIT.match(ch):
        return _DIGIT
    return None


TEXT_FIELDS = ("title", "summary", "content")
_SCANNED = (*TEXT_FIELDS, "source")
MAX_SPANS_PER_TERM = 5
_FIELDS_OF = {None: TEXT_FIELDS, "title": ("title",), "source": ("source",)}
# Up to this many terms the automaton is a DFA: three times faster to run than pyahocorasick over
# a news item (13.6 µs against 45 for a 533-character item with 255 terms). Its memory grows with
# the terms (1.6 MB for 255, 3.6 for 1,000, 20 for 5,000): a larger watchlist gets the NFA.
DFA_MAX_TERMS = 1000
SOURCE_FORMS_MAX = 4096

_Hits = list[tuple[int, int, int]]  # (pattern id, start, end) in the match form


class _Field(NamedTuple):
    """A scanned field of a Doc: its match form, the automaton's hits in it, and the fold the
    form was made from (None: made elsewhere), for the highlights."""

    form: str
    hits: _Hits
    folded: Folded | None


_Scan = dict[str, _Field]
_Present = tuple[set[int], set[int], set[int]]  # pattern ids found in title, text, source


@dataclass(frozen=True)
class Doc:
    """What a watch looks at. ``source`` is the outlet, feed name and host, for ``source:``."""

    title: str
    summary: str = ""
    content: str = ""
    source: str = ""


def doc_of(title: str | None, summary: str | None, content: str | None, source: str | None,
           url: str | None, feed_name: str | None) -> Doc:
    """What ``source:`` looks at: the outlet, the feed's name and the link's host."""
    host = _host(url) if url else None
    return Doc(title=title or "", summary=summary or "", content=content or "",
               source=" | ".join(s for s in (source, feed_name, host) if s))


_HOSTS: dict[str, str | None] = {}  # the start of a link, up to its path -> its host


def _host(url: str) -> str | None:
    """``urlsplit(url).hostname``, remembered for the link's start (scheme and host, up to the
    first "/" after them): a feed's items share a few hosts, and splitting each link was a fifth
    of matching's time in the writer (py-spy, a cold poll). The start holds the whole host, so its
    host is the link's. A bounded memo, emptied when full: looked up once, as another thread may
    empty it between two look-ups."""
    cut = url.find("/", url.find("//") + 2) if "//" in url else -1
    start = url[:cut] if cut > 0 else url
    try:
        return _HOSTS[start]
    except KeyError:
        pass
    if len(_HOSTS) >= SOURCE_FORMS_MAX:
        _HOSTS.clear()
    host = _HOSTS[start] = urlsplit(start).hostname
    return host


class Hit(NamedTuple):
    """A matched term: ``start``/``end`` index the original (display) text of ``field``. A tuple:
    an item that matched makes a few dozen of them, and a frozen dataclass made and hashed each
    in Python (99,689 ``__hash__`` calls for 3,000 bench items)."""

    term: str
    field: str
    start: int
    end: int

    def as_json(self) -> dict:
        return {"term": self.term, "field": self.field, "start": self.start, "end": self.end}


@dataclass(slots=True)  # made once per matched watch of every item
class WatchResult:
    watch: str
    matched: bool
    hits: list[Hit] = field(default_factory=list)  # positive terms found (for a match: why)
    via: str | None = None  # "search": the watch's own search engine returned it


@dataclass(frozen=True)
class _Pattern:
    text: str  # match form
    left: re.Pattern | None  # the class the character before a hit must not be in
    right: re.Pattern | None


class NamedWatch(WatchLike, Protocol):
    @property
    def name(self) -> str: ...


class Matcher:
    """Compiled once per config load; ``decide`` is safe to call from any thread."""

    @classmethod
    def for_watches(cls, watches: Iterable[NamedWatch]) -> Matcher:
        return cls((w.name, parse_watch(w)) for w in watches)

    def __init__(self, watches: Iterable[tuple[str, Node]]):
        self.watches: list[tuple[str, Node]] = list(watches)
        self._patterns: list[_Pattern] = []
        index: dict[str, int] = {}
        self._term_pattern: dict[Term, int] = {}
        for _, tree in self.watches:
            for term in terms(tree):
                key = match_form(term.text).strip()
                if not key:
                    continue
                if key not in index:
                    index[key] = len(self._patterns)
                    self._patterns.append(_Pattern(key, _char_class(key[0]), _char_class(key[-1])))
                self._term_pattern[term] = index[key]
        # An item is checked only against the watches it may match: those with a hit among their
        # guard terms (``_guard``), the terms one of which must be there for the watch to match.
        self._by_pattern: dict[int, list[int]] = {}
        for w, (_, tree) in enumerate(self.watches):
            guard = _guard(tree)
            for term in _positive_terms(tree) if guard is None else guard:
                if term in self._term_pattern:
                    self._by_pattern.setdefault(self._term_pattern[term], []).append(w)
        self._positives: dict[str, list[tuple[str, int, tuple[str, ...]]]] = {
            name: list(dict.fromkeys((t.text, self._term_pattern[t], _FIELDS_OF[t.field])
                                     for t in _positive_terms(tree) if t in self._term_pattern))
            for name, tree in self.watches
        }
        self._pids = {name: frozenset(pid for _, pid, _ in keys) for name, keys in self._positives.items()}
        # Watches naming one term twice (新市民 and title:新市民): only theirs can repeat a hit.
        self._repeats = {name for name, keys in self._positives.items() if len({t for t, _, _ in keys}) < len(keys)}
        # Built from our own tree (integers and operators only), never from query text.
        self._compiled = [eval(f"lambda T, X, S: {self._compile(tree)}") for _, tree in self.watches]
        self._vetoes = [eval(f"lambda T, X, S: {self._compile(tree, positives_hold=True)}")
                        for _, tree in self.watches]
        self._needs_boundary = {i for i, p in enumerate(self._patterns) if p.left is not None or p.right is not None}
        self._automaton = _automaton([p.text for p in self._patterns]) if self._patterns else None
        self._source_forms: dict[str, str] = {}

    # -- deciding --------------------------------------------------------------------------

    def _scan(self, doc: Doc) -> _Scan:
        """One automaton pass over each field's match form: what deciding and spans both read."""
        scan: _Scan = {}
        if self._automaton is None:
            return scan
        for name in _SCANNED:
            original = getattr(doc, name)
            if original:
                form, folded = (self._source_form(original), None) if name == "source" else match_form_folded(original)
                scan[name] = _Field(form, self._automaton.find_matches_as_indexes(form, overlapping=True), folded)
        return scan

    def _source_form(self, source: str) -> str:
        """A feed's outlet, name and host recur on each of its items: their form is remembered
        (a bounded memo, emptied when full; a dict's get and set are atomic across threads)."""
        form = self._source_forms.get(source)
        if form is None:
            if len(self._source_forms) >= SOURCE_FORMS_MAX:
                self._source_forms.clear()
            form = self._source_forms[source] = match_form(source)
        return form

    def _found(self, form: str, hits: _Hits) -> set[int]:
        """Pattern ids among ``hits`` (in ``form``) whose occurrence respects word boundaries."""
        found = {pid for pid, _, _ in hits}
        # Most terms are Chinese and need no boundary: only a Latin or digit term that occurred is
        # checked, occurrence by occurrence.
        pending = found & self._needs_boundary
        if pending:
            found -= pending
            for pid, start, end in hits:
                if pid in pending and self._bounded(form, start, end, pid):
                    found.add(pid)
                    pending.discard(pid)
                    if not pending:
                        break
        return found

    def _bounded(self, text: str, start: int, end: int, pid: int) -> bool:
        """A Latin word or number matches whole (AI not in said); Chinese needs no boundary."""
        p = self._patterns[pid]
        if p.left is not None and start > 0 and p.left.match(text[start - 1]):
            return False
        return not (p.right is not None and end < len(text) and p.right.match(text[end]))

    def _present(self, scan: _Scan) -> _Present:
        def found(name: str) -> set[int]:
            got = scan.get(name)
            return self._found(got.form, got.hits) if got else set()

        return found("title"), found("content") | found("summary"), found("source")

    def _decide(self, present: _Present) -> list[str]:
        title, text, source = present
        candidates = sorted({w for field_hits in present for pid in field_hits for w in self._by_pattern.get(pid, ())})
        return [self.watches[w][0] for w in candidates if self._compiled[w](title, text, source)]

    def decide(self, doc: Doc) -> list[str]:
        """Names of the watches ``doc`` matches."""
        return self._decide(self._present(self._scan(doc)))

    def _compile(self, node: Node, *, positives_hold: bool = False, negated: bool = False) -> str:
        """The tree as a Python expression over the hit sets T (title), X (text), S (source):
        evaluated by the interpreter directly, several times faster than walking the tree.
        ``positives_hold``: every positive term counts as found, so only the NOT terms decide."""
        if isinstance(node, Term):
            if positives_hold and not negated:
                return "True"
            pid = self._term_pattern.get(node)
            if pid is None:
                return "False"
            if node.field == "title":
                return f"({pid} in T)"
            if node.field == "source":
                return f"({pid} in S)"
            return f"({pid} in T or {pid} in X)"
        if isinstance(node, Not):
            return f"(not {self._compile(node.child, positives_hold=positives_hold, negated=not negated)})"
        joiner = " and " if isinstance(node, And) else " or "
        return "(" + joiner.join(self._compile(c, positives_hold=positives_hold, negated=negated)
                                 for c in node.children) + ")"

    # -- explaining ------------------------------------------------------------------------

    def match(self, doc: Doc, *, searched_for: str | None = None) -> list[WatchResult]:
        """Matched watches with their hits mapped onto the original text. ``searched_for``: the
        watch whose search feed returned this item. The engine matched the whole article, and we
        see only its headline, so the item counts for that watch unless one of the watch's NOT
        terms is in what we see."""
        scan = self._scan(doc)
        present = self._present(scan)
        names = self._decide(present)
        extra = (searched_for if searched_for and searched_for not in names and self._allows(present, searched_for)
                 else None)
        if not names and extra is None:
            return []
        shown = [*names, extra] if extra is not None else names
        spans = _SpanFinder(self, doc, scan, frozenset().union(*(self._pids[n] for n in shown)))
        positives, repeats = self._positives, self._repeats
        out = [WatchResult(n, True, spans.hits_for(positives[n], n in repeats)) for n in names]
        if extra is not None:
            out.append(WatchResult(extra, True, spans.hits_for(positives[extra], extra in repeats), via="search"))
        return out

    def _allows(self, present: _Present, name: str) -> bool:
        index = next((i for i, (n, _) in enumerate(self.watches) if n == name), None)
        return index is not None and bool(self._vetoes[index](*present))

    def explain(self, doc: Doc, *, searched_for: str | None = None) -> list[WatchResult]:
        """Every watch, matched or not, with the positive terms found and where."""
        scan = self._scan(doc)
        present = self._present(scan)
        matched = set(self._decide(present))
        via_search = searched_for not in matched and searched_for is not None and self._allows(present, searched_for)
        spans = _SpanFinder(self, doc, scan)
        return [WatchResult(name, name in matched or (via_search and name == searched_for),
                            spans.hits_for(self._positives[name], name in self._repeats),
                            via="search" if via_search and name == searched_for else None)
                for name, _ in self.watches]


class _SpanFinder:
    """Places the scan's hits on each field's original text once, then answers per watch."""

    def __init__(self, matcher: Matcher, doc: Doc, scan: _Scan, wanted: frozenset[int] | None = None):
        """``wanted``: the patterns whose spans will be asked for (the matched watches' terms);
        None for all of them."""
        self.spans: dict[str, dict[int, list[tuple[int, int]]]] = {}
        self._hits: dict[tuple[str, int, tuple[str, ...]], list[Hit]] = {}  # shared by the watches
        for name, (form, hits, folded) in scan.items():
            if wanted is not None:
                hits = [h for h in hits if h[0] in wanted]
            if hits:
                self.spans[name] = _spans(matcher, form, hits, match_origin(getattr(doc, name), form, folded))
        self._present = {pid for per in self.spans.values() for pid in per}

    def hits_for(self, positives: list[tuple[str, int, tuple[str, ...]]], repeats: bool = True) -> list[Hit]:
        """The hits of one watch's positive terms. ``repeats``: the watch names a term twice with
        overlapping fields (新市民 and title:新市民), and its hits are given once."""
        hits: list[Hit] = []
        present, cache = self._present, self._hits
        for key in positives:
            if key[1] not in present:
                continue
            got = cache.get(key)
            if got is None:
                text, pid, fields = key
                got = cache[key] = [Hit(text, f, s, e) for f in fields for s, e in self.spans.get(f, {}).get(pid, ())]
            hits += got
        return list(dict.fromkeys(hits)) if repeats else hits


def _spans(matcher: Matcher, form: str, hits: _Hits, origin: Sequence[int]) -> dict[int, list[tuple[int, int]]]:
    """Each pattern's first MAX_SPANS_PER_TERM places in the original text. Each occurrence is
    checked for its own boundaries: "AI" elsewhere in a text does not make the "ai" inside
    "said" a highlight."""
    per: dict[int, list[tuple[int, int]]] = {}
    boundary = matcher._needs_boundary
    for pid, start, end in hits:
        got = per.get(pid)
        if got is not None and len(got) >= MAX_SPANS_PER_TERM:
            continue
        if pid in boundary and not matcher._bounded(form, start, end, pid):
            continue
        span = (origin[start], origin[end - 1] + 1)
        if got is None:
            per[pid] = [span]
        elif span not in got:
            got.append(span)
    return per


def _automaton(patterns: list[str]) -> ahocorasick_rs.AhoCorasick:
    implementation = ahocorasick_rs.Implementation.DFA if len(patterns) <= DFA_MAX_TERMS else None
    return ahocorasick_rs.AhoCorasick(patterns, implementation=implementation)


def _guard(node: Node) -> list[Term] | None:
    """Terms one of which an item must hold (in any field) for ``node`` to hold, as few as the
    tree allows: for AND, the guard of its child with the fewest terms (新市民 in ``新市民 (贷款 OR
    信用卡)``), for OR all of its children's. None where a NOT could make it hold with none present.
    With 500 watches and items built as the match bench builds them, indexing each watch by all of
    its positive terms made 32 candidates an item for 15 matches; by its guard, 21."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return None
    guards = [_guard(c) for c in node.children]
    if isinstance(node, And):
        return min((g for g in guards if g is not None), key=len, default=None)
    return None if any(g is None for g in guards) else [t for g in guards if g is not None for t in g]


def _positive_terms(node: Node, negated: bool = False) -> list[Term]:
    if isinstance(node, Term):
        return [] if negated else [node]
    if isinstance(node, Not):
        return _positive_terms(node.child, not negated)
    return [t for c in node.children for t in _positive_terms(c, negated)]
