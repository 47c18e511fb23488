"""Item rows inserted many to a statement come back with their ids in row order, on every backend."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from monitor.store.engine import Database
from monitor.store.items import insert_items
from monitor.store.models import Item


def test_ids_follow_the_rows_across_statements(db_url):
    db = Database(db_url)
    db.migrate()
    now = datetime.now(UTC)
    with db.begin() as s:
        first = insert_items(s, [dict(title="seed", published_at=now, fetched_at=now, updated_at=now,
                                      title_derived=False)])
        rows = [dict(title=f"条目{n}", published_at=now, fetched_at=now, updated_at=now, title_derived=False)
                for n in range(2500)]  # more than one multi-row statement (SQLAlchemy sends 1,000 a time)
        ids = insert_items(s, rows)
    assert len(ids) == 2500 and len(set(ids)) == 2500 and min(ids) > first[0]
    with db.session() as s:
        stored = dict(s.execute(select(Item.id, Item.title).where(Item.id.in_(ids[:900]))).all())
        stored.update(s.execute(select(Item.id, Item.title).where(Item.id.in_(ids[900:]))).all())
    assert [stored[i] for i in ids] == [r["title"] for r in rows]
    db.dispose()


def test_rows_the_caller_read_are_not_read_again(db_url):
    """``save_entries(known=...)`` uses the caller's read of the stored rows (the poll reads them
    before its text work): given them, an update is found; told nothing is stored, it inserts
    (and the feed's unique key refuses the second copy), so the rows given are what it went by."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    from monitor.sources.entries import make_entry
    from monitor.store.items import known_rows, new_entries, save_entries
    from monitor.store.models import Feed

    db = Database(db_url)
    db.migrate()
    now = datetime.now(UTC)

    def entry(n: int, text: str):
        return make_entry(guid=f"g{n}", url=f"http://127.0.0.1/{n}", title=f"标题{n}", author=None, summary=text,
                          content="", published=now, source=None)

    with db.begin() as s:
        feed = Feed(name="f", url="http://127.0.0.1/f", config_url="http://127.0.0.1/f", created_at=now, updated_at=now)
        s.add(feed)
        s.flush()
        feed_id = feed.id
        first = save_entries(s, feed_id, "f", [entry(1, "一"), entry(2, "二")], now)
    assert len(first.new) == 2
    again = [entry(1, "一"), entry(2, "二改"), entry(3, "三")]
    with db.session() as s:
        known = known_rows(s, feed_id, again)
    assert sorted(known) == ["g1", "g2"] and [e.guid for e in new_entries(again, known)] == ["g3"]
    with db.begin() as s:
        saved = save_entries(s, feed_id, "f", again, now, known=known)
    assert (len(saved.new), len(saved.updated), saved.unchanged) == (1, 1, 1)
    assert saved.updated[0].summary == "二改"
    with pytest.raises(IntegrityError), db.begin() as s:
        save_entries(s, feed_id, "f", [entry(1, "一")], now, known={})
    db.dispose()


def test_rows_are_stored_as_sqlalchemy_stores_them(db_url):
    """On SQLite ``insert_items`` writes through the driver with the columns' own conversions:
    what lands in the file (dates as text SQLite compares as strings, booleans, defaults) is what
    SQLAlchemy's insert writes, so queries and retention read both alike."""
    from datetime import timedelta, timezone

    from sqlalchemy import insert

    db = Database(db_url)
    db.migrate()
    shanghai = timezone(timedelta(hours=8))
    rows = [dict(guid="g", title="标题", summary=None, content="正文", published_at=datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
                 fetched_at=datetime(2026, 12, 6, 8, 0, tzinfo=shanghai),
                 updated_at=datetime(2026, 12, 6, 0, 0, 0, 7, tzinfo=UTC), backlog=True),
            dict(guid="h", title="t", summary="s", content=None, published_at=datetime(2026, 1, 1, tzinfo=UTC),
                 fetched_at=datetime(2026, 1, 1, tzinfo=UTC), updated_at=datetime(2026, 1, 1, tzinfo=UTC), backlog=False)]
    columns = "guid, title, title_derived, summary, content, published_at, fetched_at, updated_at, backlog"
    with db.begin() as s:
        ours = insert_items(s, rows)
        theirs = list(s.execute(insert(Item).returning(Item.id, sort_by_parameter_order=True), rows).scalars())
        raw = {i: r for i, *r in s.connection().exec_driver_sql(f"SELECT id, {columns} FROM items").all()}
    assert [raw[i] for i in ours] == [raw[i] for i in theirs]
    assert raw[ours[0]][2] in (False, 0) and raw[ours[0]][8] in (True, 1)  # the default, and the value given
    if db.dialect == "sqlite":
        assert raw[ours[0]][5:8] == ["0999-01-02 03:04:05.000000", "2026-12-06 00:00:00.000000",
                                     "2026-12-06 00:00:00.000007"]
    db.dispose()
