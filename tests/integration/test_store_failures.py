"""A feed whose items cannot be stored is a failing feed like any other: its lease is released, the
failure is recorded with a short reason and its kind, it backs off, and the other feeds of the poll
are stored. And commands that only read refuse an old schema instead of migrating it."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from helpers.feedserver import Response
from helpers.polling import feed_row, rss, run_poll, setup
from sqlalchemy import func, select, text

from monitor.store.models import Item

BOOM = "炸弹"


def refuse_titles_with(db, word: str) -> None:
    """A database that rejects one item: what a full disk or a broken constraint looks like."""
    with db.begin() as s:
        if db.dialect == "sqlite":
            s.execute(text(f"CREATE TRIGGER refuse BEFORE INSERT ON items WHEN NEW.title LIKE '%{word}%' "
                           "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"))
        else:
            s.execute(text(f"""CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN
                IF NEW.title LIKE '%{word}%' THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
                RETURN NEW; END $$ LANGUAGE plpgsql"""))
            s.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION refuse()"))


def test_a_failed_store_is_recorded_released_and_backed_off(make_config, feed_server):
    feed_server.routes["/bad.xml"] = Response(200, rss([("b1", "正常稿件"), ("b2", f"{BOOM}新闻")]))
    feed_server.routes["/good.xml"] = Response(200, rss([("g1", "新市民金融服务提速")]))
    config, db = setup(make_config, [{"name": "bad", "url": feed_server.url("/bad.xml"), "interval": "15m"},
                                     {"name": "good", "url": feed_server.url("/good.xml")}])
    refuse_titles_with(db, BOOM)
    before = datetime.now(UTC)
    results = run_poll(config, db)
    assert results["good"].status == "ok" and results["good"].new == 1
    bad = results["bad"]
    assert bad.status == "error" and bad.error.startswith("storing failed:") and "refused by the test trigger" in bad.error
    assert "INSERT" not in bad.error and len(bad.error) < 400  # the driver's words, not the SQL and its parameters
    row = feed_row(db, "bad")
    assert row.lease_owner is None and row.consecutive_failures == 1 and row.last_error_kind == "store"
    assert row.next_poll_at - before >= timedelta(minutes=15 * 0.84)  # backed off like any failure
    with db.session() as s:  # the whole transaction rolled back: nothing half-stored
        assert s.scalar(select(func.count()).select_from(Item).where(Item.feed_id == row.id)) == 0
    again = run_poll(config, db, names=["bad"], due_only=False)["bad"]
    assert again.status == "error" and "another process" not in (again.error or "")  # not "skipped"
    assert feed_row(db, "bad").consecutive_failures == 2


def test_read_only_commands_check_the_schema_instead_of_migrating(make_config):
    path = make_config()
    for command in (["items"], ["status"], ["feeds"], ["explain", "1"]):
        out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), *command],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 1, (command, out.stdout, out.stderr)
        assert "run `monitor db upgrade`" in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    up = subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), "db", "upgrade"],
                        capture_output=True, text=True, timeout=60)
    assert up.returncode == 0 and "at revision" in up.stdout
    items = subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), "items", "--json"],
                           capture_output=True, text=True, timeout=60)
    assert items.returncode == 0 and items.stdout == ""


def test_stores_queued_behind_the_writer_share_a_transaction_and_a_bad_one_fails_alone(tmp_path):
    """Stores queued while the writer is busy run in one transaction; when one of them fails, the
    group is rolled back and each runs again alone: the others are stored, the bad one's rows
    are not, and each rollback is undone (the deduper's memory, in a poll)."""
    import asyncio
    import threading

    from monitor.pipeline.workers import Workers
    from monitor.store import Database

    db = Database(f"sqlite:///{tmp_path / 'writer.db'}")
    with db.begin() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
    undone: list[int] = []

    def undo() -> None:  # one for all, as a poll's stores share their processor's
        undone.append(1)

    def insert(x: int, fail: bool = False):
        def call(session):
            session.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
            if fail:
                raise ValueError("refused")
            return session.info.setdefault("transaction", object())  # one object per session
        return call

    async def behind_busy_writer(calls):
        workers, release = Workers(processes=1), threading.Event()
        held = asyncio.ensure_future(workers.db(release.wait, 5))
        await asyncio.sleep(0.1)  # the writer is in the held job now
        stores = [asyncio.ensure_future(workers.store(db, c, size=1, on_rollback=undo))
                  for c in calls]
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
    with db.session() as s:
        assert sorted(s.scalars(text("SELECT x FROM t"))) == [1, 2, 3, 4, 6]
    db.dispose()
