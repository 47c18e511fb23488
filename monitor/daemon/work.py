"""One job of ``monitor run`` in a process of its own: ``python -m monitor.daemon.work JOB``.

The resting daemon (``daemon.service``) holds only its scheduler; a poll, a digest, the outbox or
maintenance runs here, in a process that loads the heavy libraries (SQLAlchemy, httpx, feedparser,
Jinja2, numpy, OpenCC: about 90 MB), does the job and exits, so their memory goes back to the
system instead of staying resident for months. The parent passes the config text it validated on
stdin (an unsaved edit of config.yaml waits for SIGHUP, as before) and the database in
``MONITOR_DATABASE`` (a changed ``database:`` still takes a restart). Log lines go to the inherited
stderr, in the parent's format; the one JSON line on stdout tells the parent what to count in
``/metrics`` and when the next feed and the next email retry are due, so it sleeps until then.

SIGTERM or SIGINT (from the parent, or from Ctrl-C or systemd to the whole group) starts the grace
period, as the daemon's did: the job finishes, or is cut off after ``GRACE_SECONDS`` (a send in
progress goes back to pending, leases are released). If the parent dies, the kernel sends SIGTERM
(``PR_SET_PDEATHSIG``), so no job outlives its daemon by more than the grace period.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..config import Config, ConfigError, load_config
from ..logs import setup_logging, use_zone
from ..parent import die_with_parent
from . import early

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from ..pipeline.process import Processor

log = logging.getLogger("monitor.daemon")
GRACE_SECONDS = 20  # after SIGTERM: how long an in-flight job may take before it is cut off
RETENTION_BATCH = 2000
JOBS = ("poll", "mail", "maintenance")
_EARLY: list[int] = []  # signals received before the event loop runs (filled by early.remember)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m monitor.daemon.work")
    p.add_argument("job", choices=JOBS)
    p.add_argument("--config", required=True)
    p.add_argument("--parent", type=int, required=True)
    p.add_argument("--log-level", default="info")
    p.add_argument("--log-format", default="text")
    p.add_argument("--sync", action="store_true", help="poll: make the feed rows follow the config first")
    p.add_argument("--digest", action="store_true", help="mail: record the digests that are due first")
    return p


def main(argv: list[str] | None = None) -> int:
    global _EARLY
    _EARLY = early.remember((signal.SIGTERM, signal.SIGINT))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reloading is the parent's business
    # The daemon starts us with these blocked (daemon.children): one sent while we imported waited
    # for the handlers above instead of killing us with a KeyboardInterrupt or a false "killed" error.
    early.unblock()
    args = _parser().parse_args(argv)
    if not die_with_parent(args.parent, signal.SIGTERM):
        _EARLY.append(signal.SIGTERM)  # the daemon is gone already: stop as if told to
    report_fd = os.dup(1)
    os.dup2(2, 1)  # a stray print goes to the log, never into the report
    setup_logging(args.log_level, args.log_format)
    try:
        config = load_config(args.config, text=sys.stdin.read())
    except ConfigError as e:
        log.error("%s job: the config passed by the daemon is not valid: %s", args.job, "; ".join(e.problems))
        return 2
    use_zone(config.tz)
    forked = _fork_for_poll(config, args, report_fd) if args.job == "poll" else None
    try:
        report = asyncio.run(Job(config, args, report_fd, forked).run())
    finally:
        if forked is not None:
            forked[1].shutdown(wait=False, cancel_futures=True)
    _tell(report_fd, report)
    return 0 if report["ok"] else 1


def _tell(fd: int, news: dict[str, Any]) -> None:
    """One JSON line to the daemon. If it died (kill -9) there is nobody to tell: PDEATHSIG has
    already started the shutdown, and a traceback in the log would say nothing useful."""
    with contextlib.suppress(BrokenPipeError):
        os.write(fd, (json.dumps(news) + "\n").encode())


def _fork_for_poll(config: Config, args: argparse.Namespace,
                   report_fd: int) -> tuple[Processor, ProcessPoolExecutor] | None:
    """The poll's parse processes, forked from this process while it has one thread, before the
    event loop starts any (``pipeline.pool.for_poll``), counting the feeds a ``--sync`` adds from
    the config. The workers close their copies of the job's pipes from the daemon, which reads the
    report until its end."""
    from ..pipeline.pool import for_poll

    return for_poll(config, new_feeds=args.sync, close=(0, report_fd))


class Job:
    def __init__(self, config: Config, args: argparse.Namespace, report_fd: int,
                 forked: tuple[Processor, ProcessPoolExecutor] | None = None):
        """``forked``: a poll's Processor and the parse pool forked with its watches (``_fork_for_poll``)."""
        self.config = config
        self.args = args
        self.report_fd = report_fd
        self.forked = forked
        self.stopping = asyncio.Event()
        self.sends_stop = threading.Event()  # set at the grace deadline: no send starts, one in progress is cut
        self.transport: Any = None
        self.report: dict[str, Any] = {"job": args.job, "ok": True, "sends": []}  # the last line

    def emit(self, news: dict[str, Any]) -> None:
        """A line for the daemon before the report that ends the job."""
        _tell(self.report_fd, news)

    async def run(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        if _EARLY:
            self.stopping.set()
        work = asyncio.create_task(self._run_job())
        stop = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            await self._cut_off(work)
        stop.cancel()
        return self.report

    async def _cut_off(self, work: asyncio.Task) -> None:
        """The daemon is stopping: the job may finish within the grace period; then a send
        blocked on a hanging server is cut off (back to pending), then the job is cancelled,
        which releases the feeds it holds."""
        _, late = await asyncio.wait({work}, timeout=GRACE_SECONDS)
        if not late:
            return
        self.sends_stop.set()
        if self.transport is not None:
            self.transport.abort()
        _, late = await asyncio.wait(late, timeout=3)
        for t in late:
            t.cancel()
        if late:
            await asyncio.wait(late, timeout=5)
        log.warning("cut off the %s job still running after %ds; the next start takes up its work",
                    self.args.job, GRACE_SECONDS)

    async def _run_job(self) -> None:
        from ..store import Database

        self.db = Database(self.config.database)
        failure = {"poll": "poll failed; will try again at the next tick",
                   "mail": "the outbox round failed; tried again at the next one",
                   "maintenance": "maintenance failed; tried again in 6 hours"}[self.args.job]
        try:
            if self.stopping.is_set():
                return
            await asyncio.to_thread(_release_dead_leases, self.db)
            await {"poll": self._poll, "mail": self._mail, "maintenance": self._maintenance}[self.args.job]()
            await asyncio.to_thread(self._next_times)
        except asyncio.CancelledError:  # cut off at the end of the grace period: expected, not an error
            log.info("%s stopped by the shutdown", self.args.job)
            self.report["ok"] = False
        except Exception as e:
            self._failed(e, failure)
        finally:
            await asyncio.to_thread(self.db.dispose)

    # -- the jobs ------------------------------------------------------------------------------

    async def _poll(self) -> None:
        if not self.args.sync and not await asyncio.to_thread(self._any_feed_due):
            return  # nothing due: the poll's libraries stay unloaded (this process ends in a moment)
        from ..pipeline.poll import poll
        from ..pipeline.process import Processor
        from ..store import instance_id

        processor, pool = self.forked if self.forked else (Processor(self.config), None)
        try:
            results = await poll(self.config, self.db, owner=instance_id(), processor=processor, pool=pool)
        finally:
            if pool is not None:  # its memory goes back before the alerts and the search index
                pool.shutdown(wait=False, cancel_futures=True)
        # Told at once, before the alerts: the daemon counts them for /metrics and logs the poll's
        # lines, so a line in the log is already in the counts.
        self.emit({"polls": [{"feed": r.feed, "url": r.url, "status": r.status, "error": r.error,
                              "warning": r.warning, "new": r.new, "updated": r.updated, "matches": r.matches,
                              "duplicates": r.duplicates, "seconds": r.seconds} for r in results]})
        if results and not self.stopping.is_set():
            from ..mail.compose import queue_alerts

            await self._queue_and_send(queue_alerts, "alerts", only_these=True)
        from ..pipeline.index import index_queued

        # After the alerts: what the poll stored becomes searchable through the index (the web
        # view reads the queue meanwhile). A shutdown leaves the rest for the next poll.
        await asyncio.to_thread(index_queued, self.db, stopping=self.stopping.is_set)

    async def _mail(self) -> None:
        if self.args.digest and not self.stopping.is_set():
            from ..mail.compose import queue_digests

            await self._queue_and_send(queue_digests, "digest", only_these=False)
        else:
            await self._send(None)

    async def _queue_and_send(self, queue: Any, what: str, *, only_these: bool) -> None:
        """Record what is due in the outbox (a failure is retried by the next run), then send:
        after a poll, the alerts it recorded; after a digest, everything due."""
        ids: list[int] = []
        try:
            ids = await asyncio.to_thread(queue, self.db, self.config)
            if ids:
                log.info("%s recorded: deliveries %s", what, ", ".join(map(str, ids)))
        except Exception as e:
            self._failed(e, f"composing {what} failed; the next run (or a restart) tries again")
        if ids or not only_these:
            await self._send(ids if only_these else None)

    async def _send(self, only: list[int] | None) -> None:
        from ..mail.outbox import send_due
        from ..mail.transports import transport_for

        if self.transport is None:
            self.transport = transport_for(self.config)
        try:
            results = await asyncio.to_thread(send_due, self.db, self.config, self.transport, only=only,
                                              stop=self.sends_stop)
        except Exception as e:
            self._failed(e, "sending the outbox failed; retried at its next round")
            return
        self.report["sends"] += [{"kind": r.kind, "ok": r.ok} for r in results]

    async def _maintenance(self) -> None:
        await asyncio.to_thread(self._retention_and_statistics)

    def _retention_and_statistics(self) -> None:
        """Retention (non-seed items older than ``retention``), the search index for anything
        still queued, and fresh planner statistics."""
        from ..store import items

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
        # What a poll job cut off by a shutdown left queued for the search index, if no poll has
        # indexed it since (a poll job that finds nothing due does not).
        from ..pipeline.index import index_queued

        index_queued(self.db, stopping=self.stopping.is_set)
        self.db.optimize()
        log.info("maintenance done")

    # -- what the parent needs to know ---------------------------------------------------------

    def _any_feed_due(self) -> bool:
        from ..store import stats

        with self.db.session() as s:
            return stats.feeds_due(s, datetime.now(UTC)) > 0

    def _next_times(self) -> None:
        """When the next feed is due and the next email is to be tried (epoch seconds, or None
        for nothing at all): the parent sleeps until then instead of asking every tick."""
        from ..store import deliveries, feeds

        with self.db.session() as s:
            next_poll, next_send = feeds.next_due(s), deliveries.next_attempt(s)
        self.report["next_poll"] = next_poll.timestamp() if next_poll else None
        self.report["next_send"] = next_send.timestamp() if next_send else None

    def _failed(self, e: Exception, what: str) -> None:
        """A job's failure in the log: one line for database trouble (foreseeable: locked, full,
        unreachable), the traceback for anything else (a bug)."""
        from ..store import DATABASE_ERRORS, trouble

        self.report["ok"] = False
        if isinstance(e, DATABASE_ERRORS):
            log.error("%s: %s", what, trouble(e, self.db.shown))
        else:
            log.exception("%s", what)


def _release_dead_leases(db: Any) -> None:
    """A job process killed mid-poll or mid-send (by the OOM killer, say) left leases: the next
    job of any kind takes them back, as a restarting daemon does."""
    from ..store.leases import release_dead_leases

    release_dead_leases(db)


if __name__ == "__main__":
    sys.exit(main())
