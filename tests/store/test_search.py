"""The archive's search index on a real database (SQLite FTS5 trigram, PostgreSQL pg_trgm):
folded like the watches, kept in step with the items, and only a narrowing step (the watch
matcher decides; see tests/web)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from web.conftest import fill

from monitor.store import items
from monitor.store.search import candidates
from monitor.watch.query import parse_query


def found(db, query: str) -> list[int]:
    with db.session() as s:
        ids, cut = candidates(s, parse_query(query), limit=100)
    assert not cut
    return ids


def test_index_folds_script_and_width_and_follows_deletes(make_config, feed_server):
    config, db, _path = fill(make_config, feed_server)
    simplified = found(db, "消费金融")
    assert len(simplified) == 2  # the story and its reprint
    assert found(db, "消費金融") == simplified  # traditional script
    assert found(db, "ｘｘ消費金融") == []  # a phrase, not words in any order
    assert len(found(db, "新市")) >= 2  # two characters: LIKE on the folded text
    assert found(db, "title:八十亿元") == simplified
    assert set(found(db, "消费金融 OR 城商行")) > set(simplified)
    with db.begin() as s:
        dropped = items.drop_older_than(s, datetime.now(UTC) + timedelta(days=1), 1000)
    assert dropped >= 4
    assert found(db, "消费金融") == [] and found(db, "新市") == []
    db.dispose()
