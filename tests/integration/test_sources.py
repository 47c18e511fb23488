"""Sources beyond RSS in one config: a page without a feed read by selectors, an RSSHub route on a
local stand-in instance, and a site URL in feeds: that names its feed. All three are polled into
stored, matched, deduped items; the page keeps conditional GET and back-off like a feed."""
from __future__ import annotations

from datetime import timedelta

from helpers.feedserver import Response
from helpers.paths import DATA
from helpers.polling import feed_row, run_poll
from sqlalchemy import func, select

from monitor.config import load_config
from monitor.store import Database
from monitor.store.models import Item, Match

PAGES, FEEDS = DATA / "pages", DATA / "feeds"


def serve_all(server) -> None:
    server.routes["/cn/zcfg/"] = Response(200, (PAGES / "nfra-zcfg-list.html").read_bytes(),
                                          {"Content-Type": "text/html; charset=gbk", "ETag": '"list-v1"'})
    server.routes["/rsshub/cls/telegraph"] = Response(
        200, (FEEDS / "jsonfeed-rsshub-cls-telegraph-watch.json").read_bytes(), {"Content-Type": "application/json"})
    server.routes["/cn/zcfg/202611/t20261124_301.html"] = Response(
        200, (PAGES / "nfra-article-301.html").read_bytes(), {"Content-Type": "text/html; charset=utf-8"})
    server.routes["/21jingji/"] = Response(200, (PAGES / "site-21jingji.html").read_bytes(),
                                           {"Content-Type": "text/html; charset=utf-8"})
    server.routes["/rss/21jingji.xml"] = Response(200, (FEEDS / "wechat-feeds-21jingji.xml").read_bytes(),
                                                  {"Content-Type": "application/rss+xml"})


def test_a_page_an_rsshub_route_and_a_site_url_poll_into_matched_items(make_config, feed_server):
    serve_all(feed_server)
    path = make_config({
        "fetch": {"connect_timeout": "2s", "read_timeout": "2s"},
        "rsshub_url": feed_server.url("/rsshub"),
        "feeds": [{"name": "财联社电报", "rsshub": "/cls/telegraph"},
                  {"name": "21世纪经济报道", "url": feed_server.url("/21jingji/")}],
        "pages": [{"name": "金融监管总局-政策法规", "url": feed_server.url("/cn/zcfg/"), "item": "div.list li",
                   "title": "a", "date": "span.date", "full_text": True}],
        "watches": [{"name": "新市民", "query": "新市民"}, {"name": "消费金融", "query": "消费金融 OR 助贷"},
                    {"name": "银行", "query": "银行"}, {"name": "A股", "query": "A股 OR 沪深两市 OR 涨停"}],
    })
    config = load_config(path)
    db = Database(config.database)
    db.migrate()
    results = run_poll(config, db, due_only=False)
    assert {n: r.status for n, r in results.items()} == dict.fromkeys(results, "ok")
    assert results["金融监管总局-政策法规"].new == 5 and results["财联社电报"].new == 15
    assert results["21世纪经济报道"].new == 20 and feed_row(db, "21世纪经济报道").url == feed_server.url("/rss/21jingji.xml")
    page = feed_row(db, "金融监管总局-政策法规")
    with db.session() as s:
        rows = s.execute(select(Item.title, Item.url, Item.published_at).where(Item.feed_id == page.id)
                         .order_by(Item.published_at.desc())).all()
        matched = dict(s.execute(select(Item.feed_id, func.count(Match.id)).join(Match, Match.item_id == Item.id)
                                 .group_by(Item.feed_id)).all())
    base = feed_server.url("/cn/zcfg/")
    assert [(t, u) for t, u, _ in rows] == [
        ("国家金融监督管理总局关于做好新市民金融服务工作的通知", base + "202611/t20261124_301.html"),
        ("消费金融公司管理办法（征求意见稿）", base + "202611/t20261121_300.html"),
        ("关于推进普惠金融高质量发展的实施意见", feed_server.url("/cn/view/pages/zcfg/202611/t20261118_299.html")),
        ("商业银行互联网助贷业务管理办法", base + "202611/t20261112_298.html"),
        ("银行保险机构消费者权益保护管理办法", base + "202610/t20261030_297.html"),
    ]  # navigation, pagination and footer links are not items
    assert [p.astimezone(config.tz).strftime("%Y-%m-%d") for _, _, p in rows] == [
        "2026-11-24", "2026-11-21", "2026-11-18", "2026-11-12", "2026-10-30"]
    assert matched[page.id] >= 3 and len(matched) == 3  # every source's items went through matching
    with db.session() as s:  # full_text: the article fetched and extracted, without the page's furniture
        content = s.scalar(select(Item.content).where(Item.url == base + "202611/t20261124_301.html"))
    assert "改善住房金融服务" in content and "打印本页" not in content and "京ICP备" not in content

    # Conditional GET as for feeds: the page's ETag is sent back.
    run_poll(config, db, names=["金融监管总局-政策法规"], due_only=False)
    assert feed_server.requests_to("/cn/zcfg/")[-1].headers.get("if-none-match") == '"list-v1"'

    # A redesign: the selector stops matching, and that is the page's error, with back-off.
    feed_server.routes["/cn/zcfg/"] = Response(200, (PAGES / "nfra-zcfg-list-redesigned.html").read_bytes(),
                                               {"Content-Type": "text/html; charset=gbk"})
    r = run_poll(config, db, names=["金融监管总局-政策法规"], due_only=False)["金融监管总局-政策法规"]
    assert r.status == "error" and "selector item 'div.list li' matched nothing" in r.error
    row = feed_row(db, "金融监管总局-政策法规")
    assert row.consecutive_failures == 1 and row.next_poll_at - row.last_fetch_at >= timedelta(minutes=1)
