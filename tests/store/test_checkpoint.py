"""The write-ahead log reaches the database file through the checkpoint thread, not inside commits."""
from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

from sqlalchemy import insert, text

from monitor.store.engine import Database
from monitor.store.models import Item


def _write(db: Database, n: int, start: int) -> None:
    now = datetime.now(UTC)
    with db.begin() as s:
        s.execute(insert(Item), [dict(title=f"第{i}条", content="新市民金融服务" * 150, published_at=now,
                                      fetched_at=now, updated_at=now, title_derived=False)
                                 for i in range(start, start + n)])


def _wait(condition, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # bounded
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_commits_leave_the_log_to_the_checkpoint_thread(tmp_path):
    path = tmp_path / "m.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() >= 10_000
    assert db.checkpointer is not None
    db.checkpointer.close()  # first without the thread: what do the commits do themselves?
    keeper = sqlite3.connect(path)  # a connection left open: closing the last one checkpoints too
    keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()
    before = path.stat().st_size
    for k in range(3):
        _write(db, 400, k * 400)  # about 1.3 MB of text per transaction
    assert path.stat().st_size - before < 1_000_000  # no commit moved its pages into the file
    db.dispose()
    assert path.stat().st_size - before < 1_000_000  # the log is still the log
    db = Database(f"sqlite:///{path}")  # now with its thread, started by the next commit
    _write(db, 10, 1200)
    assert db.checkpointer is not None
    assert _wait(lambda: db.checkpointer.passes > 0), "the checkpoint thread never ran"
    assert _wait(lambda: path.stat().st_size - before > 3_000_000), "the log was not moved into the file"
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM items")).scalar() == 1210
    thread = db.checkpointer._thread
    db.dispose()
    keeper.close()
    assert thread is not None and not thread.is_alive()


def test_a_database_that_only_reads_starts_no_thread_and_an_idle_one_ends(tmp_path, monkeypatch):
    from monitor.store import checkpoint

    monkeypatch.setattr(checkpoint, "IDLE_SECONDS", 0.5)
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.migrate()  # on an engine of its own (store.engine._transactional_ddl): no thread here
    assert db.checkpointer is not None and db.checkpointer._thread is None
    _write(db, 1, 0)
    first = db.checkpointer._thread  # the commit started it
    assert first is not None and _wait(lambda: not first.is_alive()), "an idle thread did not end"
    assert db.checkpointer._thread is None
    with db.session() as s:
        s.execute(text("SELECT count(*) FROM items")).scalar()
    assert db.checkpointer._thread is None  # reading commits nothing
    _write(db, 1, 1)
    second = db.checkpointer._thread
    assert second is not None and second is not first and second.is_alive()  # a commit starts it again
    db.dispose()
    assert not second.is_alive()
