"""Matches as stored by a poll: once per (item, watch), re-matched on update, rematch after a query
change, and `monitor explain` on a polled item."""
from __future__ import annotations

import json
import subprocess
import sys

import yaml
from helpers.feedserver import Response
from helpers.polling import rss, run_poll, setup
from sqlalchemy import select

from monitor.pipeline.rematch import rematch
from monitor.store.models import Item, Match, Watch


def stored_matches(db) -> set[tuple[str, str]]:
    with db.session() as s:
        rows = s.execute(select(Item.title, Watch.name).join(Match, Match.item_id == Item.id)
                         .join(Watch, Watch.id == Match.watch_id))
        return {(t, w) for t, w in rows}


def test_poll_stores_matches_once_and_rematches_updates(make_config, feed_server):
    items = [("a1", "服務新市民的消費金融產品"), ("a2", "普惠金融新规"), ("a3", "头部消金拉新")]
    feed_server.routes["/f.xml"] = Response(200, rss(items), {"Content-Type": "application/rss+xml"})
    config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml")}])

    result = run_poll(config, db, due_only=False)["f"]
    assert result.new == 3 and result.matches == 3
    assert stored_matches(db) == {
        ("服務新市民的消費金融產品", "新市民"), ("服務新市民的消費金融產品", "消费金融"), ("头部消金拉新", "消费金融"),
    }
    with db.session() as s:
        hits = s.scalar(select(Match.hits).join(Watch).join(Item).where(Watch.name == "新市民"))
    assert hits[0]["field"] == "title" and "服務新市民的消費金融產品"[hits[0]["start"]:hits[0]["end"]] == "新市民"

    # The same feed again: nothing new, no second match row.
    run_poll(config, db, due_only=False)
    assert len(stored_matches(db)) == 3

    # An item is edited upstream: it is re-matched from scratch.
    items[2] = ("a3", "头部机构拉新")
    feed_server.routes["/f.xml"] = Response(200, rss(items), {"Content-Type": "application/rss+xml"})
    result = run_poll(config, db, due_only=False)["f"]
    assert result.updated == 1
    assert ("头部机构拉新", "消费金融") not in stored_matches(db)
    assert len(stored_matches(db)) == 2


def test_query_change_applies_after_rematch(make_config, feed_server):
    items = [("a1", "新市民贷款"), ("a2", "新市民招聘会")]
    feed_server.routes["/f.xml"] = Response(200, rss(items), {"Content-Type": "application/rss+xml"})
    config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml")}])
    run_poll(config, db, due_only=False)
    assert {t for t, w in stored_matches(db) if w == "新市民"} == {"新市民贷款", "新市民招聘会"}

    path = config.source_path
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["watches"][0]["query"] = "新市民 -招聘"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    from monitor.config import load_config

    config = load_config(path)
    r = rematch(db, config, watch="新市民")
    assert (r.items, r.before, r.after) == (2, 2, 1)
    assert {t for t, w in stored_matches(db) if w == "新市民"} == {"新市民贷款"}
    with db.session() as s:
        assert s.scalar(select(Watch.query).where(Watch.name == "新市民")) == "新市民 -招聘"


def test_explain_cli_on_a_polled_item(make_config, feed_server):
    feed_server.routes["/f.xml"] = Response(200, rss([("a1", "頭部消金已開啟新市民拉新")]),
                                            {"Content-Type": "application/rss+xml"})
    config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml")}])
    run_poll(config, db, due_only=False)
    with db.session() as s:
        item_id = s.scalar(select(Item.id).where(Item.feed_id.is_not(None)))

    cli = [sys.executable, "-m", "monitor", "--config", str(config.source_path), "explain", str(item_id)]
    out = subprocess.run(cli + ["--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    by_watch = {w["watch"]: w for w in report["watches"]}
    assert by_watch["新市民"]["matched"] and by_watch["新市民"]["stored"]
    assert by_watch["消费金融"]["matched"]
    hit = next(h for h in by_watch["消费金融"]["hits"] if h["field"] == "title")
    assert report["title"][hit["start"]:hit["end"]] == "消金"

    text = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0
    assert "MATCH    新市民" in text.stdout and "»消金«" in text.stdout
    missing = subprocess.run(cli[:-1] + ["999999"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no item 999999" in missing.stderr
