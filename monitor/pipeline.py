"""What happens to items once they are stored: link duplicates to the first-seen article of their
story, and match against the watches, inside the same transaction that stored them."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .config import Config
from .dedupe import Deduper
from .watches import match_items, matcher_for, sync_watches


@dataclass
class Processed:
    matched: dict[str, int] = field(default_factory=dict)  # per watch
    duplicates: int = 0

    @property
    def matches(self) -> int:
        return sum(self.matched.values())


class Pipeline:
    """Built once per config load: the automaton is compiled here, not per poll."""

    def __init__(self, config: Config):
        self.config = config
        self.matcher = matcher_for(config)
        self.deduper = Deduper()
        self.watch_ids: dict[str, int] | None = None

    def prepare(self, sessions: sessionmaker[Session]) -> None:
        """Make sure the watch rows exist. Two daemons starting together may race on the insert:
        the loser retries and finds the winner's rows."""
        for attempt in range(3):
            try:
                with sessions.begin() as session:
                    self.watch_ids = sync_watches(session, self.config)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def process(self, session: Session, new_ids: list[int], updated_ids: list[int]) -> Processed:
        assert self.watch_ids is not None, "Pipeline.prepare() first"
        result = Processed()
        result.duplicates = self.deduper.process(session, new_ids)
        result.duplicates += self.deduper.process(session, updated_ids, replace=True)
        result.matched = match_items(session, self.matcher, self.watch_ids, [*new_ids, *updated_ids])
        return result
