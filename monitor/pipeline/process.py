"""What happens to items once they are stored: link duplicates to the first-seen article of their
story, and match them against the watches, inside the transaction that stored them. Storing
hands the stored records over; nothing is read back."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..config import Config
from ..dedupe.decide import Article, Deduper
from ..dedupe.fingerprint import Prepared
from ..store import Database, Session, fingerprints, matches
from ..store.items import StoredItem
from ..watch.matcher import Matcher, WatchResult, doc_of
from ..watch.query import query_text
from .workers import MatchKey


@dataclass
class Processed:
    matched: dict[str, int] = field(default_factory=dict)  # per watch
    duplicates: int = 0

    @property
    def matches(self) -> int:
        return sum(self.matched.values())


class Processor:
    """Built once per config load: the automaton is compiled here, not per poll; the dedupe cache
    lives as long as it does."""

    def __init__(self, config: Config):
        self.config = config
        self.matcher = Matcher.for_watches(config.watches)
        self.deduper = Deduper()
        self.watch_ids: dict[str, int] | None = None

    def prepare(self, db: Database) -> dict[str, int]:
        """Make sure the watch rows exist; once per config load."""
        if self.watch_ids is None:
            self.watch_ids = matches.ensure_watches(db, {w.name: query_text(w) for w in self.config.watches})
        return self.watch_ids

    def process(self, session: Session, new: Sequence[StoredItem], updated: Sequence[StoredItem] = (),
                *, searched_for: str | None = None,
                prepared: Mapping[tuple[str, str], Prepared] | None = None,
                matched: Mapping[MatchKey, list[WatchResult]] | None = None) -> Processed:
        """``new``: items stored in this transaction; ``updated``: stored ones whose text changed.
        ``searched_for``: the watch whose search feed these items came from; ``prepared``:
        dedupe forms made in a worker, by (title, body); ``matched``: what a worker's matcher,
        built from the same watches, made of new entries, by what ``doc_of`` reads (``workers.MatchKey``)."""
        prepared = prepared or {}
        assert self.watch_ids is not None, "Processor.prepare() first"
        result = Processed()
        if updated:
            ids = [u.id for u in updated]
            fingerprints.forget(session, ids)
            self.deduper.forget(ids)
        items = [*new, *updated]
        lookup = fingerprints.SqlLookup(session)
        outcomes = self.deduper.decide(lookup, [Article(i.id, i.title, i.body, i.content_hash, i.url, i.published,
                                                        prepared.get((i.title, i.body))) for i in items])
        result.duplicates = fingerprints.save_outcomes(session, outcomes, judged=[u.id for u in updated])
        found = [(i.id, self._match(i, searched_for, matched)) for i in items]
        result.matched = matches.save_matches(session, found, self.watch_ids, replace=[u.id for u in updated])
        return result

    def _match(self, item: StoredItem, searched_for: str | None,
               matched: Mapping[MatchKey, list[WatchResult]] | None) -> list[WatchResult]:
        fields = (item.title, item.summary, item.content, item.source, item.url, item.feed)
        got = matched.get(fields) if matched else None
        return got if got is not None else self.matcher.match(doc_of(*fields), searched_for=searched_for)
