"""The writer thread's transactions (pipeline.workers): stores queued together share one; in a
pooled poll it is held open across stores, one commit for stores that come one after another, a
result only once committed, a failing store failing alone, writes on other connections not
locked out, nothing lost when the poll is cancelled."""
from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text

from monitor.pipeline import workers as workers_module
from monitor.pipeline.workers import Workers
from monitor.store import Database

FEED = "<rss version='2.0'><channel><title>t</title><item><title>新市民</title></item></channel></rss>".encode()
IDLE = 1.0  # COMMIT_IDLE in these tests: "run, not committed yet" holds even on a slow machine


@pytest.fixture(autouse=True)
def slow_commit(monkeypatch):
    monkeypatch.setattr(workers_module, "COMMIT_IDLE", IDLE)
    monkeypatch.setattr(workers_module, "COMMIT_SECONDS", 5 * IDLE)


@pytest.fixture
def db(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'writer.db'}")
    with db.begin() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
    yield db
    db.dispose()


@pytest.fixture
def commits(db) -> list[int]:
    """One entry per commit on the database's engine from now on."""
    made: list[int] = []
    event.listen(db.engine, "commit", lambda _conn: made.append(1))
    return made


def rows(db: Database) -> list[int]:
    with db.session() as s:
        return sorted(s.scalars(text("SELECT x FROM t")))


def insert(x: int, fail: bool = False):
    def call(session):
        session.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
        if fail:
            raise ValueError("refused")
        return session.info.setdefault("transaction", object())  # one object per session
    return call


def pooled() -> Workers:
    workers = Workers(processes=1)
    workers.pooled = True  # as in a cold poll (no process is started: stores run on the writer)
    return workers


def test_stores_one_after_another_share_one_commit_and_return_once_it_is_made(db, commits):
    seen: list[list[int]] = []

    async def one(workers: Workers, x: int) -> object:
        await asyncio.sleep(x * 0.02)  # each comes alone: the writer has drained the one before
        value = await workers.store(db, insert(x), size=1, on_rollback=lambda: None)
        seen.append(rows(db))  # read on another connection: committed by the time it returns
        return value

    async def run():
        workers = pooled()
        before = len(commits)
        out = await asyncio.gather(*(one(workers, x) for x in range(5)))
        await workers.close()
        return out, len(commits) - before

    values, made = asyncio.run(run())
    assert all(v is values[0] for v in values)  # one session, one transaction
    assert made == 1
    assert all(s == [0, 1, 2, 3, 4] for s in seen)


def test_stores_queued_behind_the_busy_writer_share_a_transaction_and_a_bad_one_fails_alone(db):
    """Without the pool too: when one of them fails, the group is rolled back and each runs again
    alone: the others are stored, the bad one's rows are not, and each rollback is undone (the
    deduper's memory, in a poll)."""
    import threading

    undone: list[int] = []

    def undo() -> None:  # one for all, as a poll's stores share their processor's
        undone.append(1)

    async def behind_busy_writer(calls):
        workers, release = Workers(processes=1), threading.Event()
        held = asyncio.ensure_future(workers.db(release.wait, 5))
        await asyncio.sleep(0.1)  # the writer is in the held job now
        stores = [asyncio.ensure_future(workers.store(db, c, size=1, on_rollback=undo)) for c in calls]
        await asyncio.sleep(0.1)
        release.set()
        await held
        out = await asyncio.gather(*stores, return_exceptions=True)
        await workers.close()
        return out

    together = asyncio.run(behind_busy_writer([insert(1), insert(2), insert(3)]))
    assert together[0] is together[1] is together[2]  # one session: one transaction for the three
    mixed = asyncio.run(behind_busy_writer([insert(4), insert(5, fail=True), insert(6)]))
    assert isinstance(mixed[1], ValueError) and not isinstance(mixed[0], Exception)
    assert mixed[0] is not mixed[2]  # run again alone, each in its own transaction
    assert undone == [1, 1]  # the group's rollback, then the bad store's own
    assert rows(db) == [1, 2, 3, 4, 6]


def test_without_the_pool_each_drain_commits_at_once(db):
    async def run():
        workers = Workers(processes=1)
        out = [await workers.store(db, insert(x), size=1, on_rollback=lambda: None) for x in range(3)]
        await workers.close()
        return out

    values = asyncio.run(run())
    assert values[0] is not values[1] and values[1] is not values[2]
    assert rows(db) == [0, 1, 2]


def test_a_failing_store_fails_alone_and_the_ones_before_it_in_the_transaction_are_stored(db):
    undone: list[int] = []

    async def run():
        workers = pooled()

        async def one(x: int, delay: float, fail: bool = False):
            await asyncio.sleep(delay)
            return await workers.store(db, insert(x, fail), size=1, on_rollback=lambda: undone.append(x))

        out = await asyncio.gather(one(1, 0.0), one(2, 0.03, fail=True), one(3, 0.3), return_exceptions=True)
        await workers.close()
        return out

    first, bad, third = asyncio.run(run())
    assert isinstance(bad, ValueError) and not isinstance(first, Exception) and not isinstance(third, Exception)
    assert rows(db) == [1, 3]
    assert sorted(undone) == [1, 2, 2]  # the transaction's rollback (1 and 2), then the bad store's own


def test_a_write_on_the_writer_commits_the_open_transaction_first(db):
    """A job that writes on a connection of its own (a feed's failure recorded) would wait on
    SQLite's lock for the busy timeout, and fail, behind a transaction held open."""
    def other(session_db: Database) -> None:
        with session_db.begin() as s:
            s.execute(text("INSERT INTO t VALUES (99)"))

    async def run():
        workers = pooled()
        store = asyncio.ensure_future(workers.store(db, insert(1), size=1, on_rollback=lambda: None))
        await asyncio.sleep(0.05)  # run, not committed yet
        start = time.monotonic()
        await workers.db(other, db)
        took = time.monotonic() - start
        await store
        await workers.close()
        return took

    assert asyncio.run(run()) < 2.0
    assert rows(db) == [1, 99]


def test_a_cancelled_poll_keeps_the_stores_that_ran(db):
    async def run():
        workers = pooled()
        store = asyncio.ensure_future(workers.store(db, insert(7), size=1, on_rollback=lambda: None))
        await asyncio.sleep(0.05)
        store.cancel()
        await workers.close()

    asyncio.run(run())
    assert rows(db) == [7]


def test_the_caller_hears_when_its_store_has_run_before_the_commit(db):
    """So a feed gives up its processing slot while it only waits for the commit."""
    async def run():
        workers, heard = pooled(), asyncio.Event()
        store = asyncio.ensure_future(workers.store(db, insert(1), size=1, on_rollback=lambda: None,
                                                    on_ran=heard.set))
        await asyncio.wait_for(heard.wait(), IDLE / 2)  # well before the commit
        stored_then = rows(db)
        await store
        await workers.close()
        return stored_then

    assert asyncio.run(run()) == []  # heard before the commit, which had not happened
    assert rows(db) == [1]


def test_close_reports_the_cpu_the_writer_thread_spent_and_not_other_threads(db):
    """The writer is the one thread a cold poll's every feed waits for: its CPU is the poll's
    floor, which the poll logs and bench/poll_bench.py prints."""
    def burn(seconds: float):
        def call(session):
            end = time.thread_time() + seconds
            while time.thread_time() < end:  # bounded: this thread's CPU
                pass
        return call

    async def run():
        workers = Workers(processes=1)
        await workers.store(db, burn(0.3), size=1, on_rollback=lambda: None)
        end = time.thread_time() + 0.6  # on the event loop's thread: not the writer's
        while time.thread_time() < end:
            pass
        await workers.close()
        return workers.writer_seconds

    seconds = asyncio.run(run())
    assert 0.3 <= seconds < 0.8


def test_the_parse_processes_run_below_the_job_s_priority():
    """The writer thread is the poll's serial path: the processes feeding it take the CPU it leaves."""
    async def go() -> tuple[int, str]:
        workers = Workers(processes=1)
        try:
            niceness = await asyncio.get_running_loop().run_in_executor(workers._processes(), os.nice, 0)
            workers.pooled = True
            parsed = await workers.parse(FEED, content_type="application/rss+xml", encoding=None,
                                         fetched_at=datetime.now(UTC))
            return niceness, parsed.entries[0].title
        finally:
            await workers.close()

    niceness, title = asyncio.run(go())
    assert niceness == min(19, os.nice(0) + workers_module.POOL_NICE)
    assert title == "新市民"  # and the pool still parses
