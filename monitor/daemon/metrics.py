"""Prometheus metrics for ``monitor run --http``: counters the daemon bumps as it works, and queue
sizes read from the database at scrape time (so they are true for every daemon on a shared
database, not only the one scraped)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the store (SQLAlchemy) is loaded by a daemon with --http only, which scrapes it
    from ..store import Database

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Queues:
    """Collected on scrape: due feeds, failing feeds (by failure kind), outbox by status, stored items."""

    def __init__(self, db: Database):
        self.db = db

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from ..store import deliveries, feeds, stats

        now = datetime.now(UTC)
        with self.db.session() as s:
            views = feeds.feed_views(s, active_only=True)
            due = stats.feeds_due(s, now)
            outbox = deliveries.counts(s)
            items = stats.items_stored(s)
        yield GaugeMetricFamily("monitor_feeds", "Active feeds", value=len(views))
        yield GaugeMetricFamily("monitor_feeds_due", "Feeds due for a poll now", value=due)
        yield GaugeMetricFamily("monitor_feeds_failing", "Feeds whose last poll failed",
                                value=sum(f.failing for f in views))
        by_kind = GaugeMetricFamily("monitor_feeds_failing_by_kind", "Failing feeds by why they fail", labels=["kind"])
        kinds: dict[str, int] = {}
        for f in views:
            if f.failing:
                kinds[f.last_error_kind or "unknown"] = kinds.get(f.last_error_kind or "unknown", 0) + 1
        for kind, n in sorted(kinds.items()):
            by_kind.add_metric([kind], n)
        yield by_kind
        g = GaugeMetricFamily("monitor_outbox", "Emails in the outbox by status", labels=["status"])
        for status, n in (("pending", outbox.pending - outbox.sending), ("sending", outbox.sending),
                          ("failed", outbox.failed), ("sent", outbox.sent)):
            g.add_metric([status], n)
        yield g
        yield GaugeMetricFamily("monitor_items_stored", "Highest item id (items stored so far)", value=items)


class _Off:
    """Stands in for every metric of a daemon nobody can scrape: each call is a no-op."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self


class Metrics:
    """``enabled=False`` (a daemon without ``--http``) keeps prometheus_client unimported: 12 MB
    of a daemon at rest, for counters no one could read."""

    def __init__(self, db: Database | None = None, *, enabled: bool = True):
        self.enabled = enabled
        if not enabled:
            off: Any = _Off()
            self.polls = self.errors = self.items = self.matches = self.duplicates = self.emails = off
            self.tick_seconds = self.fetch_seconds = self.last_tick = self.reloads = off
            return
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        r = self.registry = CollectorRegistry()
        self.polls = Counter("monitor_feed_polls", "Feed polls by outcome", ["status"], registry=r)
        self.errors = Counter("monitor_feed_errors", "Feed polls that failed", registry=r)
        self.items = Counter("monitor_items", "Items stored by polls", ["change"], registry=r)
        self.matches = Counter("monitor_matches", "(item, watch) matches stored", registry=r)
        self.duplicates = Counter("monitor_duplicates", "Items recognised as duplicates", registry=r)
        self.emails = Counter("monitor_emails", "Email send attempts", ["kind", "result"], registry=r)
        self.tick_seconds = Histogram("monitor_poll_tick_seconds", "Duration of one poll job (a process)", registry=r,
                                      buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300))
        self.fetch_seconds = Histogram("monitor_feed_fetch_seconds", "Duration of one feed's poll", registry=r,
                                       buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
        # A poll job runs when a feed is due (at most every tick, at least every 10 minutes), so an
        # alert on staleness wants /healthz's seconds_late, not the age of this.
        self.last_tick = Gauge("monitor_last_poll_tick_timestamp_seconds",
                               "When the last poll job ended (jobs run when feeds are due)", registry=r)
        self.reloads = Counter("monitor_config_reloads", "SIGHUP reloads by result", ["result"], registry=r)
        if db is not None:
            r.register(_Queues(db))

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
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
