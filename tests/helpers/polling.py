"""Polling a config against the test feed server: the set-up most integration tests share."""
from __future__ import annotations

import asyncio
import email.utils
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import select

from monitor.config import load_config
from monitor.pipeline.poll import FeedResult, poll
from monitor.store import Database
from monitor.store.models import Feed


def recent(minutes: float = 60) -> str:
    """An RFC 822 date this many minutes ago: news, not back catalogue, on the first poll."""
    return email.utils.format_datetime(datetime.now(UTC) - timedelta(minutes=minutes))


def earlier_today(tz: tzinfo, minutes: float = 60) -> str:
    """``recent(minutes)``, but not before midnight in ``tz``: an item a test counts among today's
    stories, whatever the hour the test runs at (an hour ago is yesterday in Beijing from 16:00 to
    17:00 UTC)."""
    now = datetime.now(tz)
    return email.utils.format_datetime(max(now - timedelta(minutes=minutes),
                                           now.replace(hour=0, minute=0, second=0, microsecond=0)))


def rss(items: list[tuple[str, str]], *, ttl: int | None = None, encoding: str = "utf-8",
        published: str | None = None) -> bytes:
    when = published or recent()
    body = "".join(
        f"<item><title>{t}</title><link>https://news.example.com/{g}.html?utm_source=rss</link>"
        f"<guid>{g}</guid><description>&lt;p&gt;{t} 正文&lt;/p&gt;&lt;script&gt;bad()&lt;/script&gt;</description>"
        f"<pubDate>{when}</pubDate></item>"
        for g, t in items
    )
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>t</title>{ttl_tag}'
            f"{body}</channel></rss>").encode(encoding)


def setup(make_config, feeds: list[dict], **fetch):
    """A config with these feeds (short timeouts) and its migrated database."""
    path = make_config({"feeds": feeds, "fetch": {"connect_timeout": "2s", "read_timeout": "2s", **fetch}})
    config = load_config(path)
    db = Database(config.database)
    db.migrate()
    return config, db


def run_poll(config, db, **kw) -> dict[str, FeedResult]:
    return {r.feed: r for r in asyncio.run(poll(config, db, owner="test", **kw))}


def feed_row(db, name) -> Feed:
    with db.session() as s:
        return s.scalar(select(Feed).where(Feed.name == name))
