"""Prometheus metrics for ``monitor run --http``: counters the daemon bumps as it works, and queue
sizes read from the database at scrape time (so they are true for every daemon on a shared
database, not only the one scraped)."""
from __future__ import annotations

from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from .models import Delivery, Feed, Item

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Queues:
    """Collected on scrape: due feeds, failing feeds, outbox by status, stored items."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def collect(self):
        now = datetime.now(timezone.utc)
        with self.sessions() as s:
            due = s.scalar(select(func.count()).select_from(Feed).where(
                Feed.active.is_(True), or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now)))
            failing = s.scalar(select(func.count()).select_from(Feed).where(
                Feed.active.is_(True), Feed.consecutive_failures > 0))
            active = s.scalar(select(func.count()).select_from(Feed).where(Feed.active.is_(True)))
            outbox = dict(s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
            items = s.scalar(select(func.max(Item.id))) or 0
        yield GaugeMetricFamily("monitor_feeds", "Active feeds", value=active)
        yield GaugeMetricFamily("monitor_feeds_due", "Feeds due for a poll now", value=due)
        yield GaugeMetricFamily("monitor_feeds_failing", "Feeds whose last poll failed", value=failing)
        g = GaugeMetricFamily("monitor_outbox", "Emails in the outbox by status", labels=["status"])
        for status in ("pending", "sending", "failed", "sent"):
            g.add_metric([status], outbox.get(status, 0))
        yield g
        yield GaugeMetricFamily("monitor_items_stored", "Highest item id (items stored so far)", value=items)


class Metrics:
    def __init__(self, sessions: sessionmaker[Session] | None = None):
        r = self.registry = CollectorRegistry()
        self.polls = Counter("monitor_feed_polls", "Feed polls by outcome", ["status"], registry=r)
        self.errors = Counter("monitor_feed_errors", "Feed polls that failed", registry=r)
        self.items = Counter("monitor_items", "Items stored by polls", ["change"], registry=r)
        self.matches = Counter("monitor_matches", "(item, watch) matches stored", registry=r)
        self.duplicates = Counter("monitor_duplicates", "Items recognised as duplicates", registry=r)
        self.emails = Counter("monitor_emails", "Email send attempts", ["kind", "result"], registry=r)
        self.tick_seconds = Histogram("monitor_poll_tick_seconds", "Duration of one poll tick", registry=r,
                                      buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300))
        self.fetch_seconds = Histogram("monitor_feed_fetch_seconds", "Duration of one feed's poll", registry=r,
                                       buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
        self.last_tick = Gauge("monitor_last_poll_tick_timestamp_seconds", "When the last poll tick ended",
                               registry=r)
        self.reloads = Counter("monitor_config_reloads", "SIGHUP reloads by result", ["result"], registry=r)
        if sessions is not None:
            r.register(_Queues(sessions))

    def poll_results(self, results) -> None:
        for res in results:
            self.polls.labels(res.status).inc()
            if res.status == "error":
                self.errors.inc()
            if res.status in ("ok", "not_modified", "error"):
                self.fetch_seconds.observe(res.seconds)
            self.items.labels("new").inc(res.new)
            self.items.labels("updated").inc(res.updated)
            self.matches.inc(res.matches)
            self.duplicates.inc(res.duplicates)

    def sends(self, results) -> None:
        for r in results:
            self.emails.labels(r.kind, "sent" if r.ok else "failed").inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
