"""The poll stage against a real HTTP server on 127.0.0.1 (no mocked transport)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from helpers.feedserver import Response
from helpers.paths import CORPORA, DATA
from helpers.polling import feed_row, rss, run_poll, setup
from sqlalchemy import func, select

from monitor.store import Database
from monitor.store.models import Item

ZH = CORPORA / "zh_feeds"


ITEMS = [("a1", "新市民金融服务提速"), ("a2", "消费金融公司三季度业绩"), ("a3", "普惠金融新规")]


def test_poll_stores_items_then_uses_conditional_get(make_config, feed_server):
    feed_server.routes["/f.xml"] = lambda req: (
        Response(304) if req.headers.get("if-none-match") == '"v1"'
        else Response(200, rss(ITEMS, published="Mon, 16 Nov 2026 08:00:00 +0800"),
                      {"Content-Type": "application/rss+xml", "ETag": '"v1"',
                                        "Last-Modified": "Mon, 16 Nov 2026 00:00:00 GMT"}))
    config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml")}])
    first = run_poll(config, db)["f"]
    assert (first.status, first.http_status, first.new, first.updated, first.unchanged) == ("ok", 200, 3, 0, 0)
    with db.session() as s:
        items = s.scalars(select(Item).order_by(Item.guid)).all()
    assert [i.title for i in items] == [t for _, t in ITEMS]
    assert items[0].canonical_url == "https://news.example.com/a1.html"  # tracking parameter dropped
    assert "bad()" not in items[0].summary and "正文" in items[0].summary  # HTML stripped, script dropped
    assert items[0].published_at == datetime(2026, 11, 16, 0, 0, tzinfo=UTC)

    assert run_poll(config, db) == {}  # not due yet
    second = run_poll(config, db, due_only=False)["f"]
    assert second.status == "not_modified" and second.new == second.unchanged == 0
    req = feed_server.requests_to("/f.xml")[-1]
    assert req.headers["if-none-match"] == '"v1"'
    assert req.headers["if-modified-since"] == "Mon, 16 Nov 2026 00:00:00 GMT"
    assert "monitor/" in req.headers["user-agent"]


def test_changed_item_is_updated_not_duplicated(make_config, feed_server):
    feed_server.routes["/f.xml"] = Response(200, rss(ITEMS))
    config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml")}])
    run_poll(config, db)
    feed_server.routes["/f.xml"] = Response(200, rss([("a1", "新市民金融服务提速（更新）")] + ITEMS[1:] + [("a4", "助贷")]))
    r = run_poll(config, db, due_only=False)["f"]
    assert (r.new, r.updated, r.unchanged) == (1, 1, 2)
    with db.session() as s:
        assert s.scalar(select(func.count(Item.id))) == 4


def test_broken_feeds_do_not_stop_the_others(make_config, feed_server):
    feed_server.routes.update({
        "/good.xml": Response(200, rss(ITEMS)),
        "/html": Response(200, b"<!DOCTYPE html><html><body><p>Welcome</p></body></html>",
                          {"Content-Type": "text/html"}),
        "/empty": Response(200, b""),
        "/garbage": Response(200, bytes(range(256)) * 8, {"Content-Type": "application/octet-stream"}),
        "/gone": Response(410, b"gone"),
        "/loop1": Response(302, b"", {"Location": "/loop2"}),
        "/loop2": Response(302, b"", {"Location": "/loop1"}),
        "/stall": Response(200, rss(ITEMS), stall=6),
        "/huge": Response(200, b"<rss>" + b"x" * 65536, chunks=2000),  # 128 MB announced
    })
    names = ["good", "html", "empty", "garbage", "gone", "loop1", "stall", "huge"]
    feeds = [{"name": n, "url": feed_server.url("/" + (n + ".xml" if n == "good" else n))} for n in names]
    feeds.append({"name": "refused", "url": "http://127.0.0.1:9/nothing"})
    config, db = setup(make_config, feeds, max_bytes=1_000_000)
    results = run_poll(config, db)
    assert results["good"].status == "ok" and results["good"].new == 3
    reasons = {n: (r.error or "") for n, r in results.items() if r.status == "error"}
    assert set(reasons) == set(names[1:]) | {"refused"}
    assert "HTML page" in reasons["html"]
    assert "empty body" in reasons["empty"]
    assert "not a feed" in reasons["garbage"]
    assert reasons["gone"] == "HTTP 410"
    assert "redirect loop" in reasons["loop1"]
    assert "timeout" in reasons["stall"].lower() or "timed out" in reasons["stall"]
    assert "larger than 1000000 bytes" in reasons["huge"]
    row = feed_row(db, "html")
    assert row.consecutive_failures == 1 and "HTML page" in row.last_error and row.last_error_at is not None


def test_backoff_and_retry_after(make_config, feed_server):
    feed_server.routes["/busy"] = Response(429, b"slow down", {"Retry-After": "7200"})
    feed_server.routes["/down"] = Response(500, b"oops")
    config, db = setup(make_config, [{"name": "busy", "url": feed_server.url("/busy"), "interval": "15m"},
                                       {"name": "down", "url": feed_server.url("/down"), "interval": "15m"}])
    waits = []
    for _ in range(3):
        before = datetime.now(UTC)
        run_poll(config, db, due_only=False)
        waits.append(feed_row(db, "down").next_poll_at - before)
    busy = feed_row(db, "busy")
    assert busy.next_poll_at - before >= timedelta(hours=2) - timedelta(seconds=5)  # Retry-After honoured
    assert feed_row(db, "down").consecutive_failures == 3
    # 15m, 30m, 60m, each with jitter of at most 15%
    for wait, minutes in zip(waits, (15, 30, 60)):
        assert timedelta(minutes=minutes * 0.84) <= wait <= timedelta(minutes=minutes * 1.16), waits


def test_ttl_from_feed_sets_next_poll(make_config, feed_server):
    feed_server.routes["/f.xml"] = Response(200, rss(ITEMS, ttl=120), {"Cache-Control": "max-age=60"})
    config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml"), "interval": "15m"}])
    before = datetime.now(UTC)
    run_poll(config, db)
    wait = feed_row(db, "f").next_poll_at - before
    assert timedelta(minutes=119) < wait < timedelta(minutes=121)


def test_permanent_redirect_moves_feed(make_config, feed_server):
    feed_server.routes["/old.xml"] = Response(301, b"", {"Location": "/new.xml"})
    feed_server.routes["/new.xml"] = Response(200, rss(ITEMS))
    feed_server.routes["/tmp.xml"] = Response(302, b"", {"Location": "/new.xml"})
    config, db = setup(make_config, [{"name": "moved", "url": feed_server.url("/old.xml")},
                                       {"name": "temp", "url": feed_server.url("/tmp.xml")}])
    results = run_poll(config, db)
    assert results["moved"].status == "ok" and results["moved"].url == feed_server.url("/new.xml")
    assert feed_row(db, "moved").url == feed_server.url("/new.xml")
    assert feed_row(db, "temp").url == feed_server.url("/tmp.xml")  # 302 is not a move
    run_poll(config, db, due_only=False)
    assert len(feed_server.requests_to("/old.xml")) == 1  # the second poll went straight to the new URL


def test_config_changes_add_update_and_retire_feeds(make_config, feed_server, tmp_path):
    feed_server.routes["/a"] = Response(200, rss(ITEMS[:1]))
    feed_server.routes["/b"] = Response(200, rss(ITEMS[1:]))
    config, db = setup(make_config, [{"name": "a", "url": feed_server.url("/a")}])
    run_poll(config, db)
    config, _ = setup(make_config, [{"name": "b", "url": feed_server.url("/b")}])
    run_poll(config, db)
    assert feed_row(db, "a").active is False and feed_row(db, "a").retired_at is not None
    with db.session() as s:  # history of the retired feed is kept
        assert s.scalar(select(func.count(Item.id))) == 3


@pytest.mark.parametrize("declared", ["gb2312", "gbk"])
def test_gbk_declared_as_gb2312_decodes_as_gb18030(make_config, feed_server, declared):
    # 镕 and 昇 are outside GB2312: portals still label such feeds gb2312
    title = "朱镕基谈金融 昇兴股份 消费金融"
    feed_server.routes["/gb.xml"] = Response(200, rss([("g", title)], encoding="gb18030").replace(
        b'encoding="gb18030"', f'encoding="{declared}"'.encode()), {"Content-Type": "text/xml"})
    config, db = setup(make_config, [{"name": "gb", "url": feed_server.url("/gb.xml")}])
    assert run_poll(config, db)["gb"].new == 1
    with db.session() as s:
        assert s.scalar(select(Item.title)) == title


def test_lying_charset_still_readable_and_override(make_config, feed_server):
    def liar(guid: str) -> bytes:
        return rss([(guid, "消费金融")], encoding="gb18030").replace(b'encoding="gb18030"', b'encoding="utf-8"')

    feed_server.routes["/liar.xml"] = Response(200, liar("x1"), {"Content-Type": "application/xml; charset=utf-8"})
    feed_server.routes["/liar2.xml"] = Response(200, liar("x2"), {"Content-Type": "application/xml; charset=utf-8"})
    config, db = setup(make_config, [{"name": "liar", "url": feed_server.url("/liar.xml")},
                                       {"name": "fixed", "url": feed_server.url("/liar2.xml"), "encoding": "gbk"}])
    results = run_poll(config, db)
    assert results["liar"].new == 1 and "declared utf-8" in (results["liar"].warning or "")
    assert results["fixed"].new == 1 and results["fixed"].warning is None  # the override is trusted
    with db.session() as s:
        assert list(s.scalars(select(Item.title))) == ["消费金融", "消费金融"]


ZH_TITLES = {
    "chardet_big5_ebao.us.xml": "新年快樂",
    "chardet_gb2312_14.blog.westca.com.xml": "想要飞 却怎么样也飞不高",
    "chardet_gb2312_w3cn.org.xml": "如何以及何时使用sIFR",
    "wechat_MjM5MTI4OTQ3Ng.xml": "消费金融前景展望",
    "wechat_MjM5MTQ0NDEwMA.xml": "估值缩水？牌照还要整合？银联商务何时登陆科创板",
}


@pytest.mark.corpus("zh_feeds")
def test_real_chinese_feeds(make_config, feed_server):
    files = sorted(ZH.glob("*.xml"))
    for f in files:
        # served as the portals do: a generic type, no charset; the bytes must speak for themselves
        feed_server.routes["/" + f.name] = Response(200, f.read_bytes(), {"Content-Type": "text/xml"})
    config, db = setup(make_config, [{"name": f.stem, "url": feed_server.url("/" + f.name)} for f in files])
    results = run_poll(config, db)
    assert len(results) == len(files) == 30
    assert all(r.status == "ok" for r in results.values()), {n: r.error for n, r in results.items() if r.error}
    with db.session() as s:
        titles = set(s.scalars(select(Item.title)))
    for name, title in ZH_TITLES.items():
        assert title in titles, name
    assert not any("\ufffd" in t for t in titles if "coolloud" not in t)


def test_poll_cli_json(make_config, feed_server):
    feed_server.routes["/f.xml"] = Response(200, rss(ITEMS))
    path = make_config({"feeds": [{"name": "f", "url": feed_server.url("/f.xml")},
                                  {"name": "bad", "url": feed_server.url("/missing")}]})
    proc = subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), "poll", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr  # a feed failed
    rows = {r["feed"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(rows["f"]) == {"feed", "url", "status", "http_status", "new", "updated", "unchanged", "seconds", "error"}
    assert rows["f"]["status"] == "ok" and rows["f"]["new"] == 3
    assert rows["bad"]["status"] == "error" and rows["bad"]["error"] == "HTTP 404"
    proc = subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), "feeds"],
                          capture_output=True, text=True, timeout=120)
    assert "failing" in proc.stdout and "HTTP 404" in proc.stdout


ARTICLE_PAGE = """<html><head><title>消费金融新规</title><script>track()</script></head><body>
<div class="nav">首页 | 财经 | 股票</div>
<article><h1>消费金融新规发布</h1>
<p>监管部门今日发布消费金融公司管理办法，对助贷业务提出新要求，明确合作机构名单管理与综合融资成本上限。</p>
<p>多家持牌机构表示将积极落实新规，加强风险管理，提升新市民金融服务质量，并在三个月内完成整改。</p>
</article><div class="footer">免责声明：本站转载内容仅供参考</div></body></html>"""


def test_full_text_fetches_article_pages(make_config, feed_server):
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f'<item><title>消费金融新规发布</title><link>{feed_server.url("/article/1.html")}</link><guid>p1</guid>'
        "<description>摘要</description></item>"
        f'<item><title>页面打不开</title><link>{feed_server.url("/article/missing.html")}</link><guid>p2</guid>'
        "<description>只有摘要</description></item></channel></rss>"
    ).encode()
    feed_server.routes["/full.xml"] = Response(200, feed)
    feed_server.routes["/article/1.html"] = Response(200, ARTICLE_PAGE.encode("gbk"),
                                                     {"Content-Type": "text/html; charset=gbk"})
    config, db = setup(make_config, [{"name": "full", "url": feed_server.url("/full.xml"), "full_text": True}])
    assert run_poll(config, db)["full"].new == 2
    with db.session() as s:
        items = {i.guid: i for i in s.scalars(select(Item))}
    page = items["p1"].content
    assert "综合融资成本上限" in page and "三个月内完成整改" in page
    assert "track()" not in page and "免责声明" not in page and "首页 | 财经" not in page
    assert items["p2"].content is None and items["p2"].summary == "只有摘要"  # fell back to the feed's text


def test_feed_leased_by_another_process_is_skipped(make_config, feed_server):
    from monitor.store.feeds import claim_feeds

    feed_server.routes["/f.xml"] = Response(200, rss(ITEMS))
    config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml")},
                                       {"name": "g", "url": feed_server.url("/f.xml?g")}])
    run_poll(config, db)  # creates the rows
    with db.session() as s:
        claimed, _ = claim_feeds(s, "other-daemon", names=["f"], due_only=False)
    assert [c.name for c in claimed] == ["f"]
    results = run_poll(config, db, due_only=False)
    assert results["f"].status == "skipped" and "another process" in results["f"].error
    assert results["g"].status == "ok"
    assert len(feed_server.requests_to("/f.xml")) == 3  # first poll x2, then only g


def test_an_rsshub_route_is_read_from_the_configured_instance(make_config, feed_server):
    body = (DATA / "feeds" / "jsonfeed-rsshub-cls-telegraph-watch.json").read_bytes()
    feed_server.routes["/rsshub/cls/telegraph"] = Response(200, body, {"Content-Type": "application/json"})
    path = make_config({"rsshub_url": feed_server.url("/rsshub/"),
                        "feeds": [{"name": "财联社电报", "rsshub": "/cls/telegraph"}]})
    from monitor.config import load_config
    config = load_config(path)
    assert config.feeds[0].url == feed_server.url("/rsshub/cls/telegraph")
    db = Database(config.database)
    db.migrate()
    r = run_poll(config, db)["财联社电报"]
    assert r.status == "ok" and r.new == 15


def test_a_page_that_links_its_feed_is_followed_once_and_the_feed_moves(make_config, feed_server):
    feed_server.routes["/news/"] = Response(200, b'<html><head><link rel="alternate" type="application/rss+xml" '
                                                 b'href="/news/rss.xml"></head><body>news</body></html>',
                                            {"Content-Type": "text/html"})
    feed_server.routes["/news/rss.xml"] = Response(200, rss([("a1", "新市民"), ("a2", "消费金融")]))
    config, db = setup(make_config, [{"name": "site", "url": feed_server.url("/news/")}])
    r = run_poll(config, db, due_only=False)["site"]
    assert r.status == "ok" and r.new == 2 and "links" in (r.warning or "")
    assert feed_row(db, "site").url == feed_server.url("/news/rss.xml")
    pages = len(feed_server.requests_to("/news/"))
    assert run_poll(config, db, due_only=False)["site"].status in ("ok", "not_modified")
    assert len(feed_server.requests_to("/news/")) == pages  # the page is not asked again


NOTICES = """<html><head><meta charset="gbk"><title>通知公告</title></head><body><ul class="list">
<li><a href="/tzgg/1.html">关于做好新市民金融服务工作的通知</a><span>2026-11-24</span></li>
<li><a href="/tzgg/2.html">消费金融公司监管评级办法</a><span>2026年11月20日</span></li>
</ul></body></html>""".encode("gbk")


def test_a_page_without_a_feed_is_polled_by_its_selectors(make_config, feed_server):
    feed_server.routes["/tzgg/"] = Response(200, NOTICES, {"Content-Type": "text/html; charset=gbk"})
    feed_server.routes["/moved/"] = Response(200, b"<html><body><table></table></body></html>",
                                             {"Content-Type": "text/html"})
    path = make_config({"fetch": {"connect_timeout": "2s", "read_timeout": "2s"}, "feeds": [], "pages": [
        {"name": "通知公告", "url": feed_server.url("/tzgg/"), "item": "ul.list li", "title": "a", "date": "span"},
        {"name": "改版了", "url": feed_server.url("/moved/"), "item": "ul.list li", "title": "a"}]})
    from monitor.config import load_config
    config = load_config(path)
    db = Database(config.database)
    db.migrate()
    results = run_poll(config, db, due_only=False)
    assert results["通知公告"].status == "ok" and results["通知公告"].new == 2
    assert results["通知公告"].matches >= 1  # 新市民: the page's items go through matching like a feed's
    assert results["改版了"].status == "error" and "'ul.list li' matched nothing" in results["改版了"].error
    assert "matched nothing" in feed_row(db, "改版了").last_error
    with db.session() as s:
        urls = set(s.scalars(select(Item.url).where(Item.feed_id == feed_row(db, "通知公告").id)))
    assert urls == {feed_server.url("/tzgg/1.html"), feed_server.url("/tzgg/2.html")}


def test_feeds_waiting_for_the_writer_are_bounded(make_config, feed_server, monkeypatch):
    """With the writer stuck on the first feed, no more than IN_FLIGHT_PER_FETCH x concurrency feeds
    are fetched: the rest wait for a slot instead of all sitting parsed in memory."""
    import threading

    from monitor.pipeline import poll as poll_module

    for i in range(8):
        feed_server.routes[f"/f{i}.xml"] = Response(200, rss([(f"g{i}", f"新市民金融服务第{i}期")]))
    config, db = setup(make_config, [{"name": f"f{i}", "url": feed_server.url(f"/f{i}.xml")} for i in range(8)],
                       concurrency=1)
    release, store = threading.Event(), poll_module._store
    seen_while_stuck: list[int] = []

    def stuck_store(*args, **kw):
        if not release.is_set():
            # Give the event loop time to fetch everything it would; then count what it fetched.
            release.wait(1.5)
            seen_while_stuck.append(len(feed_server.log))
            release.set()
        return store(*args, **kw)

    monkeypatch.setattr(poll_module, "_store", stuck_store)
    results = run_poll(config, db)
    assert all(r.status == "ok" for r in results.values()) and len(results) == 8
    assert seen_while_stuck == [poll_module.IN_FLIGHT_PER_FETCH * 1]
    assert len(feed_server.log) == 8
    db.dispose()


def test_feeds_past_their_fetch_are_bounded_by_the_processing_slots(make_config, feed_server, monkeypatch):
    """Fetches go on while the writer is stuck, but only as many feeds as there are processing
    slots are parsed: the others wait as fetched bytes, not as entries with their text work."""
    import threading

    from monitor.pipeline import poll as poll_module
    from monitor.pipeline.workers import Workers

    for i in range(12):
        feed_server.routes[f"/p{i}.xml"] = Response(200, rss([(f"p{i}", f"普惠金融第{i}期")]))
    config, db = setup(make_config, [{"name": f"p{i}", "url": feed_server.url(f"/p{i}.xml")} for i in range(12)],
                       concurrency=12)
    monkeypatch.setattr(poll_module, "PROCESSING_PER_PROCESS", 1)
    monkeypatch.setattr(poll_module, "PROCESSING_EXTRA", 1)
    release, store, parse = threading.Event(), poll_module._store, Workers.parse
    parsed: list[str] = []
    seen_while_stuck: list[tuple[int, int]] = []

    async def counting_parse(self, body, **kw):
        parsed.append(kw.get("base_url") or "")
        return await parse(self, body, **kw)

    def stuck_store(*args, **kw):
        if not release.is_set():
            release.wait(1.5)
            seen_while_stuck.append((len(feed_server.log), len(parsed)))
            release.set()
        return store(*args, **kw)

    monkeypatch.setattr(Workers, "parse", counting_parse)
    monkeypatch.setattr(poll_module, "_store", stuck_store)
    results = run_poll(config, db)
    assert all(r.status == "ok" for r in results.values()) and len(results) == 12
    slots = 1 * (os.cpu_count() or 1) + 1
    assert seen_while_stuck == [(12, slots)]  # every feed fetched, only the slots' feeds parsed
    assert len(parsed) == 12
    db.dispose()


def test_a_feed_waiting_for_its_article_pages_gives_up_its_processing_slot(make_config, feed_server, monkeypatch):
    """One slot, and a full-text feed whose article page takes 1.5 s: the other feeds are parsed
    and stored while it waits, instead of queueing behind it."""
    import asyncio as aio

    from monitor.pipeline import poll as poll_module

    feed_server.routes["/slow.xml"] = Response(200, rss([("s1", "新市民页面很慢")]).replace(
        b"https://news.example.com/s1.html?utm_source=rss", feed_server.url("/page/slow.html").encode()))
    feed_server.routes["/page/slow.html"] = Response(200, ARTICLE_PAGE.encode("gbk"),
                                                     {"Content-Type": "text/html; charset=gbk"}, stall=1.5)
    feeds = [{"name": "slow", "url": feed_server.url("/slow.xml"), "full_text": True}]
    for i in range(5):
        feed_server.routes[f"/q{i}.xml"] = Response(200, rss([(f"q{i}", f"消费金融第{i}期")]))
        feeds.append({"name": f"q{i}", "url": feed_server.url(f"/q{i}.xml")})
    config, db = setup(make_config, feeds, concurrency=6)
    monkeypatch.setattr(poll_module, "PROCESSING_PER_PROCESS", 0)
    monkeypatch.setattr(poll_module, "PROCESSING_EXTRA", 1)
    order: list[str] = []
    results = aio.run(poll_module.poll(config, db, owner="test", on_result=lambda r: order.append(r.feed)))
    assert all(r.status == "ok" and r.new == 1 for r in results), results
    assert order[-1] == "slow" and sorted(order[:-1]) == [f"q{i}" for i in range(5)]
    assert feed_server.requests_to("/page/slow.html")
    db.dispose()
