"""``monitor run``: the long-running process, resting between jobs.

The daemon holds the schedule, the signals, the one-daemon-per-SQLite lock and, with ``--http``,
the web view; every job (a poll and the alerts it calls for, the digest and the outbox, the
maintenance) runs in a process of its own (``daemon.work``) that loads the heavy libraries, does
the job and exits. At rest the daemon is the interpreter, the config and this module: the memory
the libraries take (about 90 MB) is held only while a job runs.

Each job reports when the next feed is due and when the next email is to be retried, and the
daemon sleeps until then (a tick cannot come sooner than today's ``tick_seconds``, nor a lane sleep
longer than ``IDLE_MAX``): a job process costs about a second of CPU to start, so one per tick to
find nothing due would be wasted for months. SIGHUP and the digest schedule wake it on their own.
What is due is read from database rows, as before, so a kill -9 at any moment loses nothing:
leases of dead processes are taken back by the next job (or the next start), a pending email is
sent, a missed digest period is sent late.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import IO, TYPE_CHECKING, Any

from ..config import Config, ConfigError, load_config
from ..config.schedule import next_fire
from . import memory
from .children import Children
from .lock import instance_id
from .metrics import Metrics
from .work import GRACE_SECONDS

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ..store import Database
    from ..web.server import Served

log = logging.getLogger("monitor.daemon")
WAKE_MAX = 60.0  # the daemon looks at the wall clock at least this often (no process is started for it)
IDLE_MAX = 600.0  # a lane with nothing reported due still asks the database this often: work other
# processes left (an alert `monitor poll` could not send, a feed row changed by another daemon)
# The mail lane looks sooner: an alert another process (`monitor poll`) queued but could not send
# is due "within minutes"; a job that finds nothing costs about half a second of CPU.
MAIL_IDLE_MAX = 120.0
SEND_GAP = 5.0  # an email reported due at once (it fell due during the last round) waits this long
OUTBOX_SECONDS = 60  # after a failed outbox round, the next one
MAINTENANCE_SECONDS = 6 * 3600
# A digest or outbox round due while a poll runs waits for it this long at most (Daemon._start_at).
MAIL_HOLD_SECONDS = 120.0
KILL_AFTER = GRACE_SECONDS + 10  # a job still running past its grace, cut-off and cancel steps is killed


@dataclass
class Lane:
    """One kind of job, at most one process at a time (APScheduler's ``max_instances=1``).
    ``at``: when the next one is due, in epoch seconds; anything may pull it earlier."""

    job: str
    at: float
    flags: set[str] = field(default_factory=set)
    task: asyncio.Task | None = None
    started: float = 0.0

    def want(self, at: float, *flags: str) -> None:
        self.at = min(self.at, at)
        self.flags.update(flags)


class Daemon:
    def __init__(self, config: Config, config_path: Path, config_text: str, *,
                 http: tuple[str, int] | None = None, lock: IO[str] | None = None,
                 log_args: tuple[str, str] = ("info", "text")):
        self.config = config
        self.config_path = config_path
        self.config_text = config_text  # what the job processes load: the text validated here
        self.http = http
        self.stopping = asyncio.Event()
        self.wake = asyncio.Event()
        self.children = Children(str(config_path), *log_args)
        self.db: Database | None = None
        if http is not None:  # the web view and /metrics read the store from this process
            from ..store import Database

            self.db = Database(config.database)
        self.metrics = Metrics(self.db, enabled=http is not None)
        self.started = time.time()
        self.last_tick: float | None = None
        self.poll = Lane("poll", self.started, {"sync"})
        self.mail = Lane("mail", self.started, {"digest"})  # the digest catch-up at start, and the outbox
        self.maintenance = Lane("maintenance", self.started + 60)
        self.lanes = (self.poll, self.mail, self.maintenance)
        self.digest_at = self._next_digest(self.started)
        self._lock_file = lock  # held open for the process's life: that is the lock
        self.web: Starlette | None = None

    def tick_seconds(self) -> float:
        return max(1.0, min(60.0, self.config.poll_interval.total_seconds() / 4))

    def _next_digest(self, now: float) -> float:
        """The next time any digest schedule fires (``digest.schedule`` and the watches' own)."""
        after = datetime.fromtimestamp(now, self.config.tz)
        return min(next_fire(s, self.config.tz, after) for s in self.config.digest_schedules).timestamp()

    # -- the schedule ---------------------------------------------------------------------------

    async def _schedule(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()
            now = time.time()
            if now >= self.digest_at:
                self.mail.want(now, "digest")
                self.digest_at = self._next_digest(now)
            for lane in self._due(now):
                lane.task = asyncio.create_task(self._round(lane))
            waits = [WAKE_MAX, self.digest_at - now] + [self._start_at(lane) - now for lane in self.lanes
                                                       if lane.task is None]
            with contextlib.suppress(TimeoutError):  # a job's end wakes it too (_round)
                await asyncio.wait_for(self.wake.wait(), max(0.0, min(waits)))

    def _due(self, now: float) -> list[Lane]:
        """The idle lanes whose time has come. The poll is never held, so a lane held by it starts
        when it ends even if the next poll is due at once (a daemon that cannot keep up)."""
        return [lane for lane in (self.maintenance, self.mail, self.poll)
                if lane.task is None and self._start_at(lane) <= now]

    def _start_at(self, lane: Lane) -> float:
        """When an idle lane may start: when it is due, but not beside a running poll, whose
        process and parse pool are the largest the daemon starts. Maintenance waits for the poll
        to end: it indexes what polls left queued, so beside a poll it indexed the poll's own items
        a second time, with its own 90 MB process (its first round fell at the end of the soak's
        first, cold poll). The mail lane waits up to MAIL_HOLD_SECONDS, so a digest is late by
        at most that: a soak's digest beside the cold poll made its peak 356 MB PSS (poll job 126,
        parse pool 100, mail job 93). The end of the poll wakes the loop (``_round``)."""
        if lane is self.poll or self.poll.task is None:
            return lane.at
        return lane.at + MAIL_HOLD_SECONDS if lane is self.mail else math.inf

    async def _round(self, lane: Lane) -> None:
        lane.started = time.time()
        flags, lane.flags, lane.at = sorted(lane.flags), set(), math.inf
        report: dict[str, Any] | None = None
        try:
            report = await self.children.run(lane.job, [f"--{f}" for f in flags], self.config_text,
                                             self.config.database, self._heard)
        except OSError as e:  # fork failed: out of memory, too many processes
            log.error("cannot start the %s job: %s", lane.job, e)
        except Exception:  # a bug reading its report: logged; the lane must go on all the same
            log.exception("reading the %s job's report failed", lane.job)
        try:
            self._took(lane, report, flags)
        except Exception:  # a bug: logged; lane.at is still inf, and an inf lane never runs again
            log.exception("scheduling after the %s job failed", lane.job)
            lane.want(time.time() + IDLE_MAX)
        finally:
            lane.task = None
            if not any(other.task for other in self.lanes):
                memory.release()  # the report's few bytes; with --http, what the pages took
            self.wake.set()

    def _took(self, lane: Lane, report: dict[str, Any] | None, flags: list[str]) -> None:
        """Count what the job did, and set when each lane is due next from what it reported."""
        now = time.time()
        ok = report is not None and bool(report.get("ok"))
        if report is not None:
            self.metrics.sends([SimpleNamespace(**s) for s in report.get("sends", [])])
        if not ok:
            lane.flags.update(flags)  # a sync or a digest not done is done by the next one
        if lane is self.poll:
            self.last_tick = now
            self.metrics.last_tick.set(now)
            self.metrics.tick_seconds.observe(now - lane.started)
            next_poll = report.get("next_poll") if report else None
            tick = lane.started + self.tick_seconds()
            lane.want(min(max(next_poll, tick) if ok and next_poll is not None else
                          (now + IDLE_MAX if ok else tick), now + IDLE_MAX))
        elif lane is self.mail:
            lane.want(now + (MAIL_IDLE_MAX if ok else OUTBOX_SECONDS))
        else:
            lane.want(lane.started + MAINTENANCE_SECONDS)
        next_send = report.get("next_send") if report else None
        if next_send is not None:
            self.mail.want(min(max(next_send, now + SEND_GAP), now + IDLE_MAX))
        elif report is None:  # a job that died may have left emails; once their leases are back, send them
            self.mail.want(now + SEND_GAP)

    def _heard(self, news: dict[str, Any]) -> None:
        """A poll's results, as soon as the job has them: counted, then logged (a line in the log
        is already in /metrics)."""
        if "polls" not in news:
            return
        results = [SimpleNamespace(**p) for p in news["polls"]]
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

    # -- lifecycle ------------------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: load config.yaml again; a bad one is logged and the running config kept."""
        try:
            text = self.config_path.read_text(encoding="utf-8")
            new = load_config(self.config_path, text=text)
        except ConfigError as e:
            self.metrics.reloads.labels("rejected").inc()
            log.error("SIGHUP: %s is not valid, keeping the running config: %s", e.path, "; ".join(e.problems))
            return
        except (OSError, UnicodeDecodeError) as e:
            self.metrics.reloads.labels("rejected").inc()
            log.error("SIGHUP: cannot read %s (%s), keeping the running config", self.config_path, e)
            return
        if new.database != self.config.database:
            log.warning("SIGHUP: database: changed; that takes a restart (still using the old one)")
            new.database = self.config.database
        self.config, self.config_text = new, text
        if self.web is not None:
            self.web.state.config = new  # the pages show the new watches; sign-in rules need a restart
        now = time.time()
        self.poll.want(now, "sync")  # new feeds are due at once; the next poll makes the rows follow
        self.digest_at = self._next_digest(now)
        self.wake.set()
        self.metrics.reloads.labels("ok").inc()
        log.info("SIGHUP: reloaded %s: %d feeds, %d search templates, %d watches, digest '%s'", self.config_path,
                 len(new.feeds), len(new.search_feeds), len(new.watches), new.digest.schedule)

    async def run(self, early: list[int] | None = None) -> int:
        """``early``: signals that came while the process started, before the loop could take them."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        for signum in early or []:
            if signum == signal.SIGHUP:
                self.reload()
            else:
                self._stop(signal.Signals(signum))
        try:
            served = await self._serve_http() if self.http else None
        except OSError as e:
            host, port = self.http or ("", 0)
            log.error("cannot serve http on %s:%d: %s", host, port, e.strerror or e)
            return 1
        log.info(
            "monitor running as %s: %d feeds, %d search templates, %d watches, digest '%s' (next %s)%s",
            instance_id(), len(self.config.feeds), len(self.config.search_feeds), len(self.config.watches),
            self.config.digest.schedule, self.config.next_digest().isoformat(timespec="minutes"),
            f", web view and /metrics on http://{self.http[0]}:{self.http[1]}/" if self.http else "",
        )
        await self._schedule()
        await self._shutdown()
        if served is not None:
            await served.stop()
        if self.db is not None:
            await asyncio.to_thread(self.db.dispose)
        log.info("monitor stopped")
        return 0

    async def _shutdown(self) -> None:
        """Running jobs get the signal and their grace period (they finish, or cut themselves off
        and release what they hold); one still running after that is killed, and its leases are
        taken back at the next start."""
        running = [lane.task for lane in self.lanes if lane.task is not None]
        if not running:
            return
        log.info("waiting up to %ds for %d running jobs", GRACE_SECONDS, len(running))
        self.children.signal_all(signal.SIGTERM)  # a job may have it already (Ctrl-C, systemd): it takes one
        _, late = await asyncio.wait(running, timeout=KILL_AFTER)
        if late:
            self.children.signal_all(signal.SIGKILL)
            log.warning("killed the jobs still running %ds after the signal; the next start takes up their work",
                        KILL_AFTER)
            await asyncio.wait(late, timeout=5)

    def _stop(self, sig: signal.Signals) -> None:
        if not self.stopping.is_set():
            log.info("received %s: stopping (grace period %ds)", sig.name, GRACE_SECONDS)
        self.stopping.set()
        self.wake.set()

    # -- HTTP: the web view, /healthz and /metrics -----------------------------------------------

    async def _serve_http(self) -> Served:
        # Imported here: a daemon without --http does not carry the web stack.
        from ..web.app import create_app
        from ..web.server import serve
        from . import http

        assert self.http is not None and self.db is not None
        host, port = self.http
        self.web = await asyncio.to_thread(
            create_app, self.config, self.db, host=host, extra_routes=http.routes(self.health, self.metrics))
        return await serve(self.web, host, port)

    def health(self) -> tuple[int, dict]:
        """Healthy while polls come when they are due: a poll job running for longer than the
        limit, or one due and not started (a wedged schedule), turns this 503."""
        now = time.time()
        limit = max(120.0, 3 * self.tick_seconds())
        owed = self.poll.started if self.poll.task is not None else self.poll.at
        late = max(0.0, now - owed)
        ok = late < limit and not self.stopping.is_set()
        return (200 if ok else 503), {
            "status": "ok" if ok else ("stopping" if self.stopping.is_set() else "stale"),
            "instance": instance_id(), "uptime_seconds": round(now - self.started, 1),
            "seconds_since_poll_tick": round(now - (self.last_tick or self.started), 1),
            "seconds_late": round(late, 1), "limit_seconds": limit,
        }


def run_daemon(config: Config, config_path: Path, config_text: str, *, http: tuple[str, int] | None = None,
               lock: IO[str] | None = None, log_args: tuple[str, str] = ("info", "text"),
               early: list[int] | None = None) -> int:
    async def main() -> int:
        return await Daemon(config, config_path, config_text, http=http, lock=lock, log_args=log_args).run(early)

    return asyncio.run(main())
