"""The archive's search index on a real database (SQLite FTS5 trigram, PostgreSQL pg_trgm):
folded like the watches, kept in step with the items, and only a narrowing step (the watch
matcher decides; see tests/web)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from web.conftest import fill

from monitor.pipeline.index import index_queued
from monitor.store import items, search
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


def pending(db) -> int:
    with db.session() as s:
        return search.pending(s)


def test_items_not_indexed_yet_are_searched_through_the_queue(make_config, feed_server):
    """A poll queues what it stores; until the index is written every queued item is a
    candidate (the matcher decides), so a search right after a poll finds everything."""
    from starlette.testclient import TestClient

    from monitor.web.app import create_app

    config, db, _path = fill(make_config, feed_server, indexed=False)
    queued = pending(db)
    assert queued >= 4
    assert len(found(db, "ｘｘ消費金融")) == queued  # not narrowed yet: every queued item
    with TestClient(create_app(config, db), base_url="http://testserver") as client:
        before = client.get("/search", params={"q": "消費金融"}).text
    assert "1 story" in before and "城商行加码" not in before  # the matcher's answer, as indexed
    assert index_queued(db) == queued
    assert pending(db) == 0
    assert found(db, "ｘｘ消費金融") == [] and len(found(db, "消费金融")) == 2
    assert index_queued(db) == 0
    db.dispose()


def test_an_item_changed_while_its_batch_is_indexed_stays_queued(make_config, feed_server, monkeypatch):
    config, db, _path = fill(make_config, feed_server)
    some = found(db, "消费金融")[0]
    with db.begin() as s:
        search.queue(s, [some])
    real = search.index_rows

    def changed_meanwhile(conn, rows, **kw):  # a poll changes the item again, and commits first
        with db.begin() as other:
            search.queue(other, [some])
        real(conn, rows, **kw)

    monkeypatch.setattr(search, "index_rows", changed_meanwhile)
    assert index_queued(db) == 1
    monkeypatch.setattr(search, "index_rows", real)
    assert pending(db) == 1  # the newer change still waits for its entry
    assert index_queued(db) == 1 and pending(db) == 0
    db.dispose()


def test_a_deleted_item_leaves_the_queue(make_config, feed_server):
    config, db, _path = fill(make_config, feed_server, indexed=False)
    with db.begin() as s:
        items.drop_older_than(s, datetime.now(UTC) + timedelta(days=1), 1000)
    assert pending(db) == 0
    db.dispose()


def test_a_batch_is_bounded_by_its_text_as_well(make_config, feed_server):
    """Indexing holds the write lock for as long as the text takes: past its first item, a batch
    stops at the characters bound, however many items it may take."""
    config, db, _path = fill(make_config, feed_server, indexed=False)
    queued = pending(db)
    with db.begin() as s:
        assert search.index_pending(s, 1000, 1) == (1, True)  # one item, whatever its length
    with db.begin() as s:
        assert search.index_pending(s, 1000, 10**9) == (queued - 1, False)
    assert pending(db) == 0
    db.dispose()


def test_the_queue_is_indexed_batch_after_batch(make_config, feed_server, monkeypatch):
    from monitor.pipeline import index

    monkeypatch.setattr(index, "BATCH", 1)
    config, db, _path = fill(make_config, feed_server, indexed=False)
    queued = pending(db)
    assert queued > 1 and index_queued(db) == queued and pending(db) == 0
    db.dispose()
