"""``monitor run``: the long-running process.

Jobs are rebuilt from config at every start; what is due is read from database rows, so the
scheduler's memory holds nothing worth keeping across a restart.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from pathlib import Path

from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, text

from apscheduler.triggers.cron import CronTrigger

from .config import Config
from .mailer import transport_for
from .mailing import queue_alerts, queue_digests
from .outbox import send_due
from .db import make_engine, sessions, upgrade
from .pipeline import Pipeline
from .poll import poll

log = logging.getLogger("monitor.daemon")
GRACE_SECONDS = 20
OUTBOX_SECONDS = 60  # how often failed emails are looked at (each has its own back-off time)


def instance_id() -> str:
    """Names this process in leases, so a crashed daemon's claims can be told from live ones."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Daemon:
    def __init__(self, config: Config, config_path: Path):
        self.config = config
        self.config_path = config_path
        self.engine: Engine = make_engine(config.database)
        self.sessions = sessions(self.engine)
        self.stopping = asyncio.Event()
        self.scheduler = AsyncIOScheduler(timezone=config.tz)
        self.pipeline = Pipeline(config)  # the watch automaton, compiled once per config load
        self.transport = transport_for(config)
        self.outbox_lock = asyncio.Lock()

    def schedule_jobs(self) -> None:
        # The tick only asks the database what is due; intervals, back-off and server hints live
        # in feeds.next_poll_at, so a restart picks up exactly where the last process stopped.
        self.scheduler.add_job(
            self.poll_tick, "interval", seconds=self.tick_seconds(), id="poll", coalesce=True, max_instances=1,
            next_run_time=datetime.now(self.config.tz),
        )
        self.scheduler.add_job(
            self.maintenance, "interval", hours=6, id="maintenance", coalesce=True, max_instances=1
        )
        # The cron job only wakes us; which period is due (and whether it was sent) is read from
        # the outbox, so a start after a missed 08:00 catches up at once.
        self.scheduler.add_job(
            self.digest_job, CronTrigger.from_crontab(self.config.digest.schedule, timezone=self.config.tz),
            id="digest", coalesce=True, max_instances=1, misfire_grace_time=None,
        )
        self.scheduler.add_job(
            self.digest_job, "date", run_date=datetime.now(self.config.tz), id="digest-catch-up"
        )
        self.scheduler.add_job(
            self.outbox_job, "interval", seconds=OUTBOX_SECONDS, id="outbox", coalesce=True, max_instances=1
        )

    def tick_seconds(self) -> float:
        return max(1.0, min(60.0, self.config.poll_interval.total_seconds() / 4))

    async def poll_tick(self) -> None:
        if self.stopping.is_set():
            return
        try:
            results = await poll(self.config, self.sessions, owner=instance_id(), pipeline=self.pipeline)
        except Exception:
            log.exception("poll failed; will try again at the next tick")
            return
        for r in results:
            if r.status == "error":
                log.warning("feed %s failed: %s", r.feed, r.error, extra={"feed": r.feed, "url": r.url})
            elif r.warning:
                log.info("feed %s: %s", r.feed, r.warning)
        if results:
            log.info(
                "polled %d feeds: %d new, %d updated items, %d matches, %d errors", len(results),
                sum(r.new for r in results), sum(r.updated for r in results),
                sum(r.matches for r in results), sum(r.status == "error" for r in results),
            )
        if results and not self.stopping.is_set():
            await self.alert_job()

    async def digest_job(self) -> None:
        if self.stopping.is_set():
            return
        try:
            ids = await asyncio.to_thread(
                queue_digests, self.sessions, self.config, config_path=str(self.config_path))
            if ids:
                log.info("digest recorded: deliveries %s", ", ".join(map(str, ids)))
        except Exception:
            log.exception("composing the digest failed; the next run (or restart) tries again")
        await self.outbox_job()

    async def alert_job(self) -> None:
        try:
            ids = await asyncio.to_thread(
                queue_alerts, self.sessions, self.config, config_path=str(self.config_path))
            if ids:
                log.info("alerts recorded: deliveries %s", ", ".join(map(str, ids)))
        except Exception:
            log.exception("composing alerts failed; the next poll tries again")
        await self.outbox_job()

    async def outbox_job(self) -> None:
        async with self.outbox_lock:  # the cron, the alert and the retry job never send side by side
            try:
                await asyncio.to_thread(send_due, self.sessions, self.config, self.transport)
            except Exception:
                log.exception("sending the outbox failed; retried in %ds", OUTBOX_SECONDS)

    async def maintenance(self) -> None:
        """Keep the query planner's statistics fresh on SQLite as the store grows."""
        if self.engine.dialect.name == "sqlite":
            await asyncio.to_thread(self._sqlite_optimize)

    def _sqlite_optimize(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("PRAGMA optimize"))
        log.info("maintenance: PRAGMA optimize done")

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop, sig)
        await asyncio.to_thread(upgrade, self.engine)
        self.schedule_jobs()
        self.scheduler.start()
        log.info(
            "monitor running as %s: %d feeds, %d search templates, %d watches, digest '%s' (next %s)",
            instance_id(), len(self.config.feeds), len(self.config.search_feeds), len(self.config.watches),
            self.config.digest.schedule, self.config.next_digest().isoformat(timespec="minutes"),
        )
        await self.stopping.wait()
        self.scheduler.shutdown(wait=False)
        # Let an in-flight poll finish its writes (its leases are released in poll()'s finally).
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=GRACE_SECONDS)
        self.engine.dispose()
        log.info("monitor stopped")
        return 0

    def _stop(self, sig: signal.Signals) -> None:
        log.info("received %s: stopping", sig.name)
        self.stopping.set()


def run_daemon(config: Config, config_path: Path) -> int:
    async def main() -> int:
        return await Daemon(config, config_path).run()

    return asyncio.run(main())
