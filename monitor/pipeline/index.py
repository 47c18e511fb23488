"""The search index written for what polls stored, after them (store/search.py says why it is
not written by the poll itself)."""
from __future__ import annotations

import logging
from collections.abc import Callable

from ..store import Database, search

log = logging.getLogger(__name__)

# Per transaction: FTS5 writes its index at each commit, and larger batches cost less per item
# (1,000 against 50: 262 against 349 µs per item of the bench's articles, measured here); the
# characters bound keeps the write lock short whatever the articles' length (FTS5 takes about
# 0.6 µs per character here: a batch holds it well under a second).
BATCH = 1000
BATCH_CHARS = 1_000_000
MAX_BATCHES = 100_000  # bounded: a queue of 100 million items would take days anyway


def index_queued(db: Database, *, stopping: Callable[[], bool] = lambda: False) -> int:
    """Index every queued item, a batch per transaction; how many. ``stopping`` (the shutdown) ends
    it between batches: what is left stays queued, searchable through the queue meanwhile."""
    done = 0
    for _ in range(MAX_BATCHES):
        if stopping():
            break
        with db.begin() as session:
            n, more = search.index_pending(session, BATCH, BATCH_CHARS)
        done += n
        if not more:
            break
    if done:
        log.info("search index: %d new or changed items indexed", done)
    return done
