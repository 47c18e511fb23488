"""Back catalogue is not news: a new feed's old items are stored and indexed for dedupe but never
alerted or mailed; items published while the monitor was down still are; undated items are news."""
from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

from helpers.feedserver import Response
from helpers.polling import run_poll, setup
from sqlalchemy import select, update

from monitor.mail.compose import compose, queue_alerts
from monitor.store.models import Feed, Item


def feed(items: list[tuple[str, str, datetime | None]]) -> Response:
    body = "".join(
        f"<item><title>{t}</title><guid>{g}</guid><link>https://a.example.com/{g}</link>"
        f"<description>{t}，详细内容见正文第{g}段。</description>"
        + (f"<pubDate>{email.utils.format_datetime(when)}</pubDate>" if when else "") + "</item>"
        for g, t, when in items)
    xml = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'
    return Response(200, xml.encode(), {"Content-Type": "application/rss+xml"})


def backlog_of(db) -> dict[str, bool]:
    with db.session() as s:
        return dict(s.execute(select(Item.guid, Item.backlog).where(Item.feed_id.is_not(None))).all())


def test_back_catalogue_is_never_alerted_or_mailed(make_config, feed_server):
    now = datetime.now(UTC)
    items = [("old", "消费金融旧闻", now - timedelta(days=19)), ("fresh", "消费金融新闻", now - timedelta(hours=3)),
             ("undated", "消费金融快讯", None), ("future", "消费金融预告", now + timedelta(days=30))]
    feed_server.routes["/f.xml"] = feed(items)
    config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml")}])
    run_poll(config, db)
    assert backlog_of(db) == {"old": True, "fresh": False, "undated": False, "future": False}
    with db.session() as s:
        future = s.scalar(select(Item.published_at).where(Item.guid == "future"))
    assert future < now + timedelta(minutes=5)  # a date a month ahead is replaced by the fetch time
    queue_alerts(db, config)  # 消费金融 is an immediate watch (tests/conftest.py)
    with db.session() as s:
        (alert,) = compose(s, config, "alert", now=datetime.now(UTC), period="x", label="x")
    assert alert.digest.count == 0  # all three news items were just alerted; the old one never is
    with db.session() as s:
        (digest,) = compose(s, config, "digest", now=datetime.now(UTC), period="p", label="p")
    assert "消费金融旧闻" not in digest.rendered.text


def test_items_published_while_the_monitor_was_down_are_news(make_config, feed_server):
    now = datetime.now(UTC)
    feed_server.routes["/f.xml"] = feed([("a", "新市民贷款", now - timedelta(hours=1))])
    config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml")}])
    run_poll(config, db)
    with db.begin() as s:  # the feed was first polled ten days ago; the monitor then stopped
        s.execute(update(Feed).values(first_success_at=now - timedelta(days=10)))
    feed_server.routes["/f.xml"] = feed([("a", "新市民贷款", now - timedelta(hours=1)),
                                         ("down", "新市民住房", now - timedelta(days=6)),
                                         ("ancient", "新市民旧政", now - timedelta(days=45))])
    run_poll(config, db, due_only=False)
    assert backlog_of(db) == {"a": False, "down": False, "ancient": True}  # max_age: 30 days
    with db.session() as s:
        (digest,) = compose(s, config, "digest", now=datetime.now(UTC), period="p", label="p")
    assert "住房" in digest.rendered.text and "旧政" not in digest.rendered.text  # (hits are marked: **新市民**住房)
