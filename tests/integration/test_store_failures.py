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
