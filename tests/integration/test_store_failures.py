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


def test_stores_waiting_for_the_writer_share_a_transaction_and_a_bad_one_fails_alone(make_config, feed_server,
                                                                                     monkeypatch):
    """With the writer held on the first feed's store, the feeds parsed meanwhile are stored in one
    transaction; one of them refused by the database fails on its own, the others of its group
    are stored, and every item is stored once."""
    import threading

    from monitor.pipeline import poll as poll_module
    from monitor.pipeline import workers as workers_module

    names = [f"g{i}" for i in range(6)]
    for i, name in enumerate(names):
        title = f"{BOOM}新闻{i}" if name == "g3" else f"新市民金融服务第{i}期"
        feed_server.routes[f"/{name}.xml"] = Response(200, rss([(f"{name}-1", title), (f"{name}-2", f"消费金融第{i}期")]))
    config, db = setup(make_config, [{"name": n, "url": feed_server.url(f"/{n}.xml")} for n in names],
                       concurrency=6)
    refuse_titles_with(db, BOOM)
    release, store, stored = threading.Event(), poll_module._store, workers_module._stored
    groups: list[list[str]] = []

    def held_store(*args, **kw):
        if not release.is_set():
            release.wait(1.5)  # the other feeds are fetched, parsed and queued behind this one
            release.set()
        return store(*args, **kw)

    def recording(db_, group):
        groups.append([job.call.keywords["claim"].name for job in group])
        return stored(db_, group)

    monkeypatch.setattr(poll_module, "_store", held_store)
    monkeypatch.setattr(workers_module, "_stored", recording)
    results = run_poll(config, db)
    assert results["g3"].status == "error" and "refused by the test trigger" in results["g3"].error
    assert all(results[n].status == "ok" and results[n].new == 2 for n in names if n != "g3"), results
    shared = next(g for g in groups if "g3" in g)
    assert len(shared) > 1, groups  # the bad feed was grouped with others, and they were stored all the same
    assert feed_row(db, "g3").consecutive_failures == 1 and feed_row(db, "g3").lease_owner is None
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 2 * (len(names) - 1)
    db.dispose()
