"""The schema comes only from migrations, and the models agree with it, on every backend."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from monitor.store.engine import current_revision, downgrade, head_revision, make_engine, sessions, upgrade
from monitor.store.models import Base, Delivery, Feed, Item


def test_upgrade_creates_schema_matching_models(db_url):
    engine = make_engine(db_url)
    assert "items" not in inspect(engine).get_table_names()
    upgrade(engine)
    upgrade(engine)  # idempotent: runs at every start
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"feeds", "items", "matches", "duplicates", "fingerprints", "deliveries", "delivery_items"} <= tables
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": _not_search}), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    downgrade(engine, "base")
    assert "items" not in inspect(engine).get_table_names()
    engine.dispose()


def test_the_revisions_read_without_alembic_agree_with_alembic(db_url):
    from alembic.script import ScriptDirectory

    from monitor.store.engine import _alembic_config

    assert head_revision() == ScriptDirectory.from_config(_alembic_config()).get_current_head()
    engine = make_engine(db_url)
    assert current_revision(engine) is None  # nothing yet, not even the version table
    for target in ("0003", "head", "0005"):
        if target == "0005":
            downgrade(engine, target)
        else:
            upgrade(engine, target)
        with engine.connect() as conn:
            assert current_revision(engine) == MigrationContext.configure(conn).get_current_revision()
    assert current_revision(engine) == "0005"
    upgrade(engine)  # behind the head: Alembic runs
    assert current_revision(engine) == head_revision()
    downgrade(engine, "base")
    engine.dispose()


def _not_search(name, kind, _parent) -> bool:
    """The search index is SQL of its own (an FTS5 table, pg_trgm indexes), not a model."""
    return not (name or "").startswith(("item_search", "ix_item_search"))


def test_sqlite_pragmas(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'm.db'}")  # parent folder is created
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    engine.dispose()


def test_datetimes_round_trip_timezone_aware(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    shanghai = datetime(2026, 1, 19, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    with sessions(engine).begin() as s:
        s.add(Item(title="t", published_at=shanghai, fetched_at=shanghai, updated_at=shanghai))
    with sessions(engine)() as s:
        got = s.scalar(select(Item.published_at))
    assert got.tzinfo is not None and got == shanghai
    with pytest.raises(StatementError, match="naive"), sessions(engine).begin() as s:
        s.add(Item(title="t", published_at=datetime(2026, 1, 1), fetched_at=shanghai, updated_at=shanghai))
    engine.dispose()


def test_constraints_hold(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    now = datetime.now(UTC)
    with sessions(engine).begin() as s:
        feed = Feed(name="f", url="http://127.0.0.1/f", config_url="http://127.0.0.1/f", created_at=now, updated_at=now)
        s.add(feed)
        s.flush()
        s.add(Item(feed_id=feed.id, guid="g1", title="a", published_at=now, fetched_at=now, updated_at=now))
    # same GUID in the same feed: one article
    with pytest.raises(IntegrityError), sessions(engine).begin() as s:
        s.add(Item(feed_id=feed.id, guid="g1", title="b", published_at=now, fetched_at=now, updated_at=now))
    # foreign keys are enforced (SQLite needs the pragma for this)
    with pytest.raises(IntegrityError), sessions(engine).begin() as s:
        s.add(Item(feed_id=999, guid="g2", title="c", published_at=now, fetched_at=now, updated_at=now))
    # a digest period can be recorded once per recipient list
    def delivery(mid):
        return Delivery(kind="digest", recipients="a@example.com", period="2026-11-22", message_id=mid,
                        subject="s", body_html="", body_text="", created_at=now)
    with sessions(engine).begin() as s:
        s.add(delivery("<1@x>"))
    with pytest.raises(IntegrityError), sessions(engine).begin() as s:
        s.add(delivery("<2@x>"))
    engine.dispose()


def test_a_migration_that_fails_on_sqlite_leaves_the_store_as_it_was(tmp_path):
    """The migrations run as one transaction, DDL included: cut short (here by a table that
    migration 0006 wants to create; in life by `kill -9` or a power cut at the first start), they
    leave no table behind, and the next start migrates from the beginning."""
    import sqlite3

    path = tmp_path / "monitor.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE sketches (x INTEGER)")
    engine = make_engine(f"sqlite:///{path}")
    with pytest.raises(Exception, match="sketches"):
        upgrade(engine)
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"sketches"}, tables  # not items, feeds or alembic_version from 0001-0005
        conn.execute("DROP TABLE sketches")
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
