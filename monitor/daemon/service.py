"""``monitor run``: the long-running process.

Jobs are rebuilt from config at every start and on SIGHUP; what is due (feeds, digest periods,
emails to retry) is read from database rows, so the scheduler's memory holds nothing worth
keeping across a restart, and a kill -9 at any moment loses nothing: leases of a dead process
are taken back at the next start, a pending email is sent, a missed digest period is sent late.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ..config import Config, ConfigError, load_config
from ..config.schedule import cron_trigger
from ..errors import AlreadyRunning
from ..mail.compose import queue_alerts, queue_digests
from ..mail.outbox import send_due
from ..mail.transports import transport_for
from ..pipeline.poll import poll
from ..pipeline.process import Processor
from ..store import DATABASE_ERRORS, Database, instance_id, items, trouble
from ..store.leases import release_dead_leases
from . import memory
from .lock import hold_single_instance
from .metrics import Metrics

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ..web.server import Served

log = logging.getLogger("monitor.daemon")
GRACE_SECONDS = 20  # after SIGTERM: how long in-flight polls and sends may take before they are cut off
OUTBOX_SECONDS = 60  # how often failed emails are looked at (each has its own back-off time)
RETENTION_BATCH = 2000


def _tracked(job):
    """Register a job's task while it runs: shutdown waits for these (APScheduler itself would
    cancel them on shutdown, mid-write)."""
    @functools.wraps(job)
    async def run(self, *args, **kwargs):
        task = asyncio.current_task()
        self.inflight.add(task)
        try:
            return await job(self, *args, **kwargs)
        except asyncio.CancelledError:  # cut off at the end of the grace period: expected, not an error
            log.info("%s stopped by the shutdown", job.__name__)
            return None
        finally:
            self.inflight.discard(task)
            if not self.inflight:
                memory.release()  # the job's peak goes back to the system, not kept for months
    return run


class Daemon:
    def __init__(self, config: Config, config_path: Path, *, http: tuple[str, int] | None = None):
        self.config = config
        self.config_path = config_path
        self.http = http
        self.db = Database(config.database)
        self.stopping = asyncio.Event()
        self.scheduler = AsyncIOScheduler(timezone=config.tz)
        self.processor = Processor(config)  # the watch automaton, compiled once per config load
        self.transport = transport_for(config)
        self.outbox_lock = asyncio.Lock()
        self.sends_stop = threading.Event()  # set at the grace deadline: no send starts, one in progress is cut
        self.metrics = Metrics(self.db, enabled=http is not None)
        self.started = time.time()
        self.last_tick: float | None = None
        self._lock_file: IO[str] | None = None
        self.inflight: set[asyncio.Task] = set()
        self.web: Starlette | None = None

    # -- jobs -----------------------------------------------------------------------------------

    def schedule_jobs(self) -> None:
        # The tick only asks the database what is due; intervals, back-off and server hints live
        # in feeds.next_poll_at, so a restart picks up exactly where the last process stopped.
        self.scheduler.add_job(
            self.poll_tick, IntervalTrigger(seconds=self.tick_seconds()), id="poll", coalesce=True,
            max_instances=1, next_run_time=datetime.now(self.config.tz),
        )
        self.scheduler.add_job(
            self.maintenance, "interval", hours=6, id="maintenance", coalesce=True, max_instances=1,
            next_run_time=datetime.now(self.config.tz) + timedelta(minutes=1),
        )
        # The cron job only wakes us; which period is due (and whether it was sent) is read from
        # the outbox, so a start after a missed 08:00 catches up at once.
        self.scheduler.add_job(
            self.digest_job, self._digest_trigger(), id="digest", coalesce=True, max_instances=1,
            misfire_grace_time=None,
        )
        self.scheduler.add_job(self.digest_job, "date", run_date=datetime.now(self.config.tz), id="digest-catch-up")
        self.scheduler.add_job(
            self.outbox_job, "interval", seconds=OUTBOX_SECONDS, id="outbox", coalesce=True, max_instances=1
        )

    def _digest_trigger(self) -> CronTrigger | OrTrigger:
        """Wakes the digest job at the times of every schedule (``digest.schedule`` and the watches' own)."""
        triggers = [cron_trigger(s, self.config.tz) for s in self.config.digest_schedules]
        return triggers[0] if len(triggers) == 1 else OrTrigger(triggers)

    def tick_seconds(self) -> float:
        return max(1.0, min(60.0, self.config.poll_interval.total_seconds() / 4))

    @_tracked
    async def poll_tick(self) -> None:
        if self.stopping.is_set():
            return
        started = time.monotonic()
        try:
            results = await poll(self.config, self.db, owner=instance_id(), processor=self.processor)
        except Exception as e:
            self._failed(e, "poll failed; will try again at the next tick")
            return
        finally:
            self.last_tick = time.time()
            self.metrics.last_tick.set(self.last_tick)
            self.metrics.tick_seconds.observe(time.monotonic() - started)
        self.metrics.poll_results(results)
        for r in results:
            if r.status == "error":
                log.warning("feed %s failed: %s", r.feed, r.error, extra={"feed": r.feed, "url": r.url})
            elif r.warning:
                log.info("feed %s: %s", r.feed, r.warning)
        if results:
            log.info(
                "polled %d feeds: %d new, %d updated items, %d matches, %d duplicates, %d errors", len(results),
                sum(r.new for r in results), sum(r.updated for r in results), sum(r.matches for r in results),
                sum(r.duplicates for r in results), sum(r.status == "error" for r in results),
                extra={"event": "poll", "feeds": len(results)},
            )
        if results and not self.stopping.is_set():
            await self.alert_job()

    @_tracked
    async def digest_job(self) -> None:
        if not self.stopping.is_set():
            await self._queue_and_send(queue_digests, "digest")

    @_tracked
    async def alert_job(self) -> None:
        await self._queue_and_send(queue_alerts, "alerts")

    async def _queue_and_send(self, queue, what: str) -> None:
        """Record what is due in the outbox (a failure is retried by the next run), then send."""
        try:
            ids = await asyncio.to_thread(queue, self.db, self.config)
            if ids:
                log.info("%s recorded: deliveries %s", what, ", ".join(map(str, ids)))
        except Exception as e:
            self._failed(e, f"composing {what} failed; the next run (or a restart) tries again")
        await self.outbox_job()

    @_tracked
    async def outbox_job(self) -> None:
        async with self.outbox_lock:  # the cron, the alert and the retry job never send side by side
            try:
                results = await asyncio.to_thread(send_due, self.db, self.config, self.transport,
                                                  stop=self.sends_stop)
                self.metrics.sends(results)
            except Exception as e:
                self._failed(e, f"sending the outbox failed; retried in {OUTBOX_SECONDS}s")

    @_tracked
    async def maintenance(self) -> None:
        try:
            await asyncio.to_thread(self._maintenance)
        except Exception as e:
            self._failed(e, "maintenance failed; tried again in 6 hours")

    def _failed(self, e: Exception, what: str) -> None:
        """A job's failure in the log: one line for database trouble (foreseeable: locked, full,
        unreachable), the traceback for anything else (a bug)."""
        if isinstance(e, DATABASE_ERRORS):
            log.error("%s: %s", what, trouble(e, self.db.shown))
        else:
            log.exception("%s", what)

    def _maintenance(self) -> None:
        """Retention (non-seed items older than ``retention``) and fresh planner statistics."""
        if self.config.retention is not None:
            cutoff = datetime.now(UTC) - self.config.retention
            removed = 0
            for _ in range(10_000):  # bounded; a batch per transaction keeps the write lock short
                with self.db.begin() as s:
                    n = items.drop_older_than(s, cutoff, RETENTION_BATCH)
                removed += n
                if n < RETENTION_BATCH:
                    break
            if removed:
                log.info("maintenance: removed %d items older than the retention period", removed)
        self.db.optimize()
        log.info("maintenance done")

    # -- lifecycle ------------------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: load config.yaml again; a bad one is logged and the running config kept."""
        try:
            new = load_config(self.config_path)
        except ConfigError as e:
            self.metrics.reloads.labels("rejected").inc()
            log.error("SIGHUP: %s is not valid, keeping the running config: %s", e.path, "; ".join(e.problems))
            return
        except OSError as e:
            self.metrics.reloads.labels("rejected").inc()
            log.error("SIGHUP: cannot read %s (%s), keeping the running config", self.config_path, e)
            return
        if new.database != self.config.database:
            log.warning("SIGHUP: database: changed; that takes a restart (still using the old one)")
            new.database = self.config.database
        self.config = new
        self.processor = Processor(new)
        self.transport = transport_for(new)
        if self.web is not None:
            self.web.state.config = new  # the pages show the new watches; sign-in rules need a restart
        self.scheduler.reschedule_job("poll", trigger=IntervalTrigger(seconds=self.tick_seconds()))
        self.scheduler.reschedule_job("digest", trigger=self._digest_trigger())
        self.metrics.reloads.labels("ok").inc()
        log.info("SIGHUP: reloaded %s: %d feeds, %d search templates, %d watches, digest '%s'", self.config_path,
                 len(new.feeds), len(new.search_feeds), len(new.watches), new.digest.schedule)

    async def run(self) -> int:
        try:
            self._lock_file = hold_single_instance(self.db.sqlite_path())
        except AlreadyRunning as e:
            log.error("%s", e)
            return 1
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        await asyncio.to_thread(self.db.migrate)
        await asyncio.to_thread(release_dead_leases, self.db)
        try:
            served = await self._serve_http() if self.http else None
        except OSError as e:
            host, port = self.http or ("", 0)
            log.error("cannot serve http on %s:%d: %s", host, port, e.strerror or e)
            return 1
        self.schedule_jobs()
        self.scheduler.start()
        log.info(
            "monitor running as %s: %d feeds, %d search templates, %d watches, digest '%s' (next %s)%s",
            instance_id(), len(self.config.feeds), len(self.config.search_feeds), len(self.config.watches),
            self.config.digest.schedule, self.config.next_digest().isoformat(timespec="minutes"),
            f", web view and /metrics on http://{self.http[0]}:{self.http[1]}/" if self.http else "",
        )
        await self.stopping.wait()
        await self._shutdown()
        if served is not None:
            await served.stop()
        await asyncio.to_thread(self.db.dispose)
        log.info("monitor stopped")
        return 0

    async def _shutdown(self) -> None:
        """In-flight polls finish their writes (leases of feeds not reached are released in poll()'s
        finally); whatever still runs after the grace period is cancelled, which releases too."""
        self.scheduler.pause()  # no new jobs; the running ones go on
        pending = set(self.inflight)
        if pending:
            log.info("waiting up to %ds for %d running jobs", GRACE_SECONDS, len(pending))
            _, late = await asyncio.wait(pending, timeout=GRACE_SECONDS)
            if late:
                # A send blocked on a hanging server is cut off (it goes back to pending, for the
                # next process); then whatever still runs is cancelled.
                self.sends_stop.set()
                self.transport.abort()
                _, late = await asyncio.wait(late, timeout=3)
                for t in late:
                    t.cancel()
                if late:
                    await asyncio.wait(late, timeout=5)
                log.warning("cut off the jobs still running after %ds; the next start takes up their work",
                            GRACE_SECONDS)
        self.scheduler.shutdown(wait=False)

    def _stop(self, sig: signal.Signals) -> None:
        if not self.stopping.is_set():
            log.info("received %s: stopping (grace period %ds)", sig.name, GRACE_SECONDS)
        self.stopping.set()

    # -- HTTP: the web view, /healthz and /metrics -----------------------------------------------

    async def _serve_http(self) -> Served:
        # Imported here: a daemon without --http does not carry the web stack (about 15 MB).
        from ..web.app import create_app
        from ..web.server import serve
        from . import http

        assert self.http is not None
        host, port = self.http
        self.web = await asyncio.to_thread(
            create_app, self.config, self.db, host=host, extra_routes=http.routes(self.health, self.metrics))
        return await serve(self.web, host, port)

    def health(self) -> tuple[int, dict]:
        """Healthy while poll ticks keep coming: a wedged loop or a stuck poll turns this 503."""
        now = time.time()
        limit = max(120.0, 3 * self.tick_seconds())
        since = now - (self.last_tick or self.started)
        ok = since < limit and not self.stopping.is_set()
        return (200 if ok else 503), {
            "status": "ok" if ok else ("stopping" if self.stopping.is_set() else "stale"),
            "instance": instance_id(), "uptime_seconds": round(now - self.started, 1),
            "seconds_since_poll_tick": round(since, 1), "limit_seconds": limit,
        }


def run_daemon(config: Config, config_path: Path, http: tuple[str, int] | None = None) -> int:
    async def main() -> int:
        return await Daemon(config, config_path, http=http).run()

    return asyncio.run(main())
