"""A web view over a database filled by a real poll of the loopback feed server: two outlets
carrying one 消费金融 story (a reprint), a 新市民 story, and a feed whose title and text are
hostile markup."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.polling import recent
from starlette.testclient import TestClient

from monitor.config import Config, load_config
from monitor.pipeline.index import index_queued
from monitor.pipeline.poll import poll
from monitor.store import Database

STORY = ("记者获悉，某消费金融公司近日完成新一轮增资，注册资本增至八十亿元。公司表示，增资后将继续加大科技投入，"
         "优化风控体系，提升服务实体经济能力。今年前三季度，该公司累计发放贷款超过一千亿元，不良率保持在行业较低水平。"
         "业内人士认为，消费金融行业正在从规模扩张转向精细化经营，头部机构的资本实力将进一步增强。")
NEW_CITIZENS = ("多家城商行近日上线面向新市民的专属信贷产品，覆盖租房、创业和职业培训等场景。某城商行零售金融部负责人介绍，"
                "今年以来该行新市民客户数量同比增长百分之四十二，其中灵活就业人员占比接近三成。")
HOSTILE_TITLE = '新市民<script>alert("t")</script><img src=x onerror=alert(1)>'


def rss(channel: str, entries: list[tuple[str, str, str, str]]) -> bytes:
    from xml.sax.saxutils import escape
    items = "".join(f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{g}</guid>"
                    f"<description>{escape(body)}</description><pubDate>{recent(m)}</pubDate></item>"
                    for g, t, link, body, m in [(*e, 30 + i) for i, e in enumerate(entries)])
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(channel)}</title>'
            f"{items}</channel></rss>").encode()


@dataclass
class Site:
    config: Config
    db: Database
    client: TestClient
    ids: dict[str, int]
    path: Path


def fill(make_config, feed_server, *, indexed: bool = True, **overrides) -> tuple[Config, Database, Path]:
    from helpers.feedserver import Response
    feeds = {
        "/a.xml": ("财经日报", [("a1", "消费金融公司增资至八十亿元", "https://a.example.com/1.html", STORY),
                               ("a2", "城商行加码新市民信贷", "https://a.example.com/2.html", NEW_CITIZENS)]),
        "/b.xml": ("金融早报", [("b1", "消费金融公司增资至八十亿元 - 金融早报", "https://b.example.org/9.html",
                                STORY)]),
        "/h.xml": ("<b>农场</b>", [("h1", HOSTILE_TITLE, "javascript:alert(2)",
                                  "<script>alert(3)</script>新市民 " + "内容" * 40)]),
    }
    for path, (channel, entries) in feeds.items():
        feed_server.routes[path] = Response(200, rss(channel, entries), {"Content-Type": "application/rss+xml"})
    path = make_config({"feeds": [{"name": n, "url": feed_server.url(p)} for n, p in
                                  [("a", "/a.xml"), ("b", "/b.xml"), ("h", "/h.xml")]],
                        "fetch": {"connect_timeout": "2s", "read_timeout": "2s"},
                        "web": {"base_url": "http://testserver"}, **overrides})
    config = load_config(path)
    db = Database(config.database)
    db.migrate()
    for name in ("a", "b", "h"):  # one after another: a's copy is the first seen
        asyncio.run(poll(config, db, owner="test", names=[name], due_only=False))
    if indexed:  # as the daemon's poll job and `monitor poll` end
        index_queued(db)
    return config, db, path


def item_ids(db: Database) -> dict[str, int]:
    from sqlalchemy import select

    from monitor.store.models import Item
    with db.session() as s:
        return {guid: i for i, guid in s.execute(select(Item.id, Item.guid)) if guid}


@pytest.fixture
def site(make_config, feed_server):
    from monitor.web.app import create_app
    config, db, path = fill(make_config, feed_server)
    with TestClient(create_app(config, db), base_url="http://testserver") as client:
        yield Site(config, db, client, item_ids(db), path)
    db.dispose()
