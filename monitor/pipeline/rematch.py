"""``monitor rematch``: the current queries run again over stored items, after a query changed."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..config import Config
from ..store import Database, matches
from ..store.chunks import chunked
from ..store.items import item_views
from ..watch.matcher import Hit, Matcher
from ..watch.query import Node, query_text


@dataclass(frozen=True)
class TryMatch:
    id: int
    title: str
    source: str
    published: datetime
    hits: list[Hit]


def try_query(db: Database, node: Node, *, since: datetime | None, limit: int) -> tuple[list[TryMatch], int]:
    """A query run over stored items without saving anything (``monitor watches test``): the
    newest ``limit`` matches, and how many items were looked at."""
    matcher = Matcher([("test", node)])
    found: list[tuple[int, list[Hit]]] = []
    with db.session() as session:
        ids = matches.feed_item_ids(session, since)[::-1]  # newest stored first
        for chunk in chunked(ids):
            for d in matches.docs(session, chunk):
                found += [(d.id, r.hits) for r in matcher.match(d.doc) if r.matched]
            if len(found) >= limit:
                break
        found = found[:limit]
        views = item_views(session, [i for i, _ in found])
    return [TryMatch(i, views[i].title, views[i].source or views[i].feed or "", views[i].published, hits)
            for i, hits in found], len(ids)


@dataclass
class RematchResult:
    items: int = 0
    before: int = 0
    after: int = 0


def rematch(db: Database, config: Config, *, watch: str | None = None, since: datetime | None = None) -> RematchResult:
    matcher = Matcher.for_watches(config.watches)
    watch_ids = matches.ensure_watches(db, {w.name: query_text(w) for w in config.watches})
    scope = {watch: watch_ids[watch]} if watch else watch_ids
    with db.session() as session:
        ids = matches.feed_item_ids(session, since)
    result = RematchResult()
    for chunk in chunked(ids):
        with db.begin() as session:
            result.before += matches.count_matches(session, chunk, list(scope.values()))
            found = [(d.id, [r for r in matcher.match(d.doc) if r.watch in scope])
                     for d in matches.docs(session, chunk)]
            matches.save_matches(session, found, scope, replace=list(chunk))
            result.after += matches.count_matches(session, chunk, list(scope.values()))
        result.items += len(chunk)
    return result
