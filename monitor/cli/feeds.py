"""``monitor check``, ``monitor poll`` and ``monitor feeds``: the sources and their health."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import IO

from ..config import Config
from ..config.durations import format_duration
from ..mail.channels import display
from ..mail.compose import alert_now
from ..mail.transports import transport_for
from ..pipeline.index import index_queued
from ..pipeline.poll import FeedResult, poll
from ..pipeline.pool import for_poll
from ..sources.specs import desired_feeds
from ..store import Database, display_url, feeds, instance_id, search
from ..store.feeds import Health
from ..watch.query import query_text
from .common import EXIT_FAILED, EXIT_OK, local, open_db
from .output import pad

Command = Callable[..., argparse.ArgumentParser]


POLL_EXAMPLES = """  monitor poll                   the due feeds
  monitor poll --all             every feed, due or not
  monitor poll --feed 财新网 --json"""


def register(command: Command) -> None:
    p = command("check", cmd_check, "validate the config and print what it sets up")
    p.add_argument("--json", action="store_true", help="as one JSON object")
    p = command("poll", cmd_poll, "fetch the due feeds once and print what each gave", examples=POLL_EXAMPLES,
                about="A feed is due when its interval (or the back-off after failures, or the server's "
                "Retry-After) has passed since its last poll. Immediate watches' alerts are sent before it ends.")
    p.add_argument("--feed", action="append", dest="feeds", metavar="NAME", help="only this feed (repeatable)")
    p.add_argument("--all", action="store_true", help="every active feed, due or not")
    p.add_argument("--json", action="store_true", help="one JSON object per feed (a stable interface)")
    p.add_argument("--no-alerts", action="store_true",
                   help="do not send the alerts of immediate watches now (the daemon sends them after its next poll)")


def cmd_check(config: Config, args: argparse.Namespace) -> int:
    specs = desired_feeds(config)
    if args.json:
        print(json.dumps(_check_json(config, specs), ensure_ascii=False))
        return EXIT_OK
    print(f"{config.source_path}: OK")
    print(f"  timezone   {config.timezone}")
    print(f"  database   {display_url(config.database)}")
    print(f"  seeds      {config.seeds}")
    plain = [f for f in specs if f.kind == "feed"]
    search = [f for f in specs if f.kind == "search"]
    print(f"  feeds      {len(plain)} plain, {len(search)} search "
          f"({len(config.search_feeds)} templates x {sum(w.search for w in config.watches)} watches)")
    for f in specs:
        print(f"    - {pad(f.name, 28)} every {format_duration(f.interval):<6} {f.url}")
    print(f"  watches    {len(config.watches)}")
    for w in config.watches:
        to = ", ".join(config.people_of(w)
                       + [display(u) for u in config.channels_of(w)])
        when = f" [{config.schedule_of(w)}]" if w.in_digest and config.schedule_of(w) != config.digest.schedule else ""
        print(f"    - {pad(w.name, 12)} {w.alert:<9} {query_text(w)}{when}   -> {to}")
    nxt = config.next_digest()
    wait = nxt - datetime.now(config.tz)
    print(f"  digest     '{config.digest.schedule}' next {nxt:%Y-%m-%d %H:%M %Z} "
          f"(in {format_duration(wait)}) to {', '.join(config.digest.recipients) or '-'}")
    smtp = config.mail.smtp
    where = config.mail.outbox if config.mail.transport == "file" or smtp is None else f"{smtp.host}:{smtp.port}"
    print(f"  mail       {config.mail.transport} -> {where} (from {config.mail.from_})")
    return 0


def _check_json(config: Config, specs) -> dict:
    return {
        "config": str(config.source_path), "ok": True, "timezone": config.timezone,
        "database": display_url(config.database),
        "feeds": [{"name": f.name, "kind": f.kind, "url": f.url, "interval_seconds": f.interval.total_seconds()}
                  for f in specs],
        "watches": [{"name": w.name, "query": query_text(w), "alert": w.alert, "in_digest": w.in_digest,
                     "schedule": config.schedule_of(w),
                     "recipients": config.people_of(w),
                     "notify": [display(u) for u in config.channels_of(w)]} for w in config.watches],
        "digest": {"schedules": config.digest_schedules, "next": _iso(config.next_digest())},
        "mail": {"transport": config.mail.transport, "from": config.mail.from_},
    }


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat(timespec="seconds") if dt else None


def cmd_poll(config: Config, args: argparse.Namespace) -> int:
    db = open_db(config, migrate=True)
    known = {f.name for f in desired_feeds(config)}
    unknown = [n for n in args.feeds or [] if n not in known]
    if unknown:
        print(f"monitor: no feed named {', '.join(unknown)} in {config.source_path} "
              f"(known: {', '.join(sorted(known))})", file=sys.stderr)
        return EXIT_FAILED
    due_only = not (args.all or args.feeds)
    # Forked while this process has one thread: the migration's checkpoint thread goes with its handle.
    db.dispose()
    processor, pool = for_poll(config, names=args.feeds, due_only=due_only) or (None, None)
    db = Database(config.database)
    progress = Progress(sys.stderr, live=sys.stderr.isatty() and not args.json)
    try:
        results = asyncio.run(poll(config, db, owner=instance_id(), names=args.feeds, due_only=due_only,
                                   on_result=progress.step, on_start=progress.start, processor=processor,
                                   pool=pool))
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    progress.close()
    if args.json:
        for r in results:
            print(json.dumps(r.as_json(), ensure_ascii=False))
    else:
        _print_poll_table(results)
    if any(r.matches for r in results) and not args.no_alerts:
        _alert(config, db, quiet=args.json)
    _index(db, quiet=args.json)
    return EXIT_FAILED if any(r.status == "error" for r in results) else EXIT_OK


INDEX_NOTICE = 2000  # queued items from which `monitor poll` says it is indexing


def _index(db, *, quiet: bool) -> None:
    """After the alerts: the search index for what this poll stored. A first poll of many feeds
    leaves tens of thousands of items (about 4,000 a second), so the wait is announced."""
    if not quiet:
        with db.session() as s:
            waiting = search.pending(s)
        if waiting >= INDEX_NOTICE:
            print(f"indexing {waiting} new items for search...", file=sys.stderr, flush=True)
    index_queued(db)


def _alert(config: Config, db, *, quiet: bool) -> None:
    """Immediate watches' matches go out now, from this process (see ``mail.compose.alert_now``)."""
    for r in alert_now(db, config, transport_for(config)):
        if not quiet:
            state = "sent" if r.ok else f"not sent yet ({r.error}); retried by the next send"
            print(f"alert to {display(r.recipients)}: {state}")


class Progress:
    """How far a poll is: done of total, failing so far, in flight and the feed waited on longest,
    and an ETA from the pace so far. On a terminal one line rewritten in place; otherwise a plain
    line at each tenth of a long poll (a log stays readable)."""

    def __init__(self, out: IO[str], *, live: bool):
        self.out, self.live = out, live
        self.total, self.done, self.failing = 0, 0, 0
        self.waiting: dict[str, None] = {}  # in flight, in claim order: the first is waited on longest
        self.began = time.monotonic()
        self._shown = 0

    def start(self, names: list[str]) -> None:
        self.total, self.waiting, self.began = len(names), dict.fromkeys(names), time.monotonic()

    def step(self, result: FeedResult) -> None:
        self.done += 1
        self.failing += result.status == "error"
        self.waiting.pop(result.feed, None)
        if self.live:
            self.out.write("\r" + self.line()[:150].ljust(self._shown))
            self._shown = min(150, len(self.line()))
        elif self.total >= 20 and self.done % max(1, self.total // 10) == 0:
            self.out.write(self.line() + "\n")
        self.out.flush()

    def line(self) -> str:
        elapsed = time.monotonic() - self.began
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0
        first = next(iter(self.waiting), None)
        wait = f", waiting on {first}" if first else ""
        return (f"polled {self.done}/{self.total}, {self.failing} failing, {len(self.waiting)} in flight{wait}, "
                f"ETA {format_duration(timedelta(seconds=round(eta)))}")

    def close(self) -> None:
        if self.live and self._shown:
            self.out.write("\r" + " " * self._shown + "\r")


def _print_poll_table(results: list[FeedResult]) -> None:
    if not results:
        print("no feed was due (use --all to poll every feed now)")
        return
    print(f"{'feed':<30} {'status':<13} {'http':>4} {'new':>5} {'upd':>5} {'same':>5} {'match':>5} {'secs':>6}  error")
    for r in sorted(results, key=lambda r: r.feed):
        print(f"{pad(r.feed, 30)} {r.status:<13} {r.http_status or '-':>4} {r.new:>5} {r.updated:>5} "
              f"{r.unchanged:>5} {r.matches:>5} {r.seconds:>6.2f}  {r.error or r.warning or ''}")
    total = {k: sum(getattr(r, k) for r in results) for k in ("new", "updated", "unchanged", "matches")}
    errors = sum(r.status == "error" for r in results)
    print(f"{len(results)} feeds: {total['new']} new, {total['updated']} updated, "
          f"{total['unchanged']} unchanged items, {total['matches']} watch matches; {errors} feeds failed")


# The table's word for each health class (`monitor status` prints the classes themselves).
_STATE = {Health.HEALTHY: "ok", Health.FAILING: "failing", Health.BACKING_OFF: "failing", Health.RETIRED: "retired"}


def cmd_feeds(config: Config, args: argparse.Namespace) -> int:
    db = open_db(config, migrate=False)
    with db.session() as session:
        views = feeds.feed_views(session)
    if args.json:
        for f in views:
            print(json.dumps({"feed": f.name, "url": f.url, "kind": f.kind, "state": f.health.value,
                              "failures": f.failures, "last_ok": _iso(f.last_success_at),
                              "last_error": f.last_error, "last_error_at": _iso(f.last_error_at),
                              "http_status": f.last_http_status, "next_poll": _iso(f.next_poll_at)},
                             ensure_ascii=False))
        return EXIT_OK
    print(f"{'feed':<30} {'state':<9} {'last ok':<11} {'next poll':<11} {'fails':>5}  last error")
    for f in views:
        err = f"{local(config, f.last_error_at)} {f.last_error}" if f.failures else ""
        print(f"{pad(f.name, 30)} {_STATE[f.health]:<9} {local(config, f.last_success_at):<11} "
              f"{local(config, f.next_poll_at):<11} {f.failures:>5}  {err}")
    return 0
