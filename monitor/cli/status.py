"""``monitor status``: one screen that says whether the monitor is doing its job, from the database
alone (so it works while the daemon runs, from any host that can reach the database)."""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime

from ..config import Config
from ..mail.content import CHART_DAYS
from ..store import Session, deliveries, digests, feeds, stories
from ..store.feeds import Health
from .common import open_db
from .output import pad

Command = Callable[..., argparse.ArgumentParser]


def register(command: Command) -> None:
    p = command("status", cmd_status, "is the monitor doing its job: feeds, watches, digests, outbox")
    p.add_argument("--json", action="store_true", help="as one JSON object")


def cmd_status(config: Config, args: argparse.Namespace) -> int:
    db = open_db(config, migrate=False)
    with db.session() as session:
        st = gather(session, config)
    if args.json:
        print(json.dumps(st, ensure_ascii=False))
    else:
        print_status(st, config)
    return 0


def gather(session: Session, config: Config, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    views = sorted(feeds.feed_views(session, active_only=True),
                   key=lambda f: (f.next_poll_at is not None, f.next_poll_at or now, f.name))
    # "failing" counts every feed whose last poll failed; "backing_off" the part of them whose next
    # poll back-off has pushed past their interval (a 404 that keeps answering 404 is both).
    counts = {Health.HEALTHY.value: 0, Health.FAILING.value: 0, Health.BACKING_OFF.value: 0}
    problems = []
    for f in views:
        counts[f.health.value] += 1
        if f.health is Health.BACKING_OFF:
            counts[Health.FAILING.value] += 1
        if f.health is not Health.HEALTHY:
            problems.append({"feed": f.name, "state": f.health.value, "failures": f.failures,
                             "error": f.last_error, "kind": f.last_error_kind, "last_ok": _iso(f.last_success_at),
                             "next_poll": _iso(f.next_poll_at)})
    next_polls = [{"feed": f.name, "at": _iso(f.next_poll_at)} for f in views[:5]]
    today = now.astimezone(config.tz).date()
    ids = digests.watch_ids(session, [w.name for w in config.watches])
    # The digest chart's count: stories (not reprints) once per watch, by local day.
    watches = [{"watch": w.name, "alert": w.alert,
                "stories_today": stories.daily(session, ids.get(w.name), config.tz, today, CHART_DAYS)[today]}
               for w in config.watches]
    last = deliveries.last_digest(session)
    outbox = deliveries.counts(session)
    return {
        "now": _iso(now),
        "feeds": {"active": len(views), **counts, "problems": problems, "next_polls": next_polls},
        "watches": watches,
        "digest": {
            "schedule": config.digest.schedule,
            "last": None if last is None else {"period": last.period, "status": last.status,
                                               "created": _iso(last.created_at), "sent": _iso(last.sent_at)},
            "next": _iso(config.next_digest(now.astimezone(config.tz))),
        },
        "outbox": {"pending": outbox.pending, "failed": outbox.failed, "given_up": outbox.given_up,
                   "sent": outbox.sent, "oldest_unsent": _iso(outbox.oldest_unsent)},
    }


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat(timespec="seconds") if dt else None


def print_status(st: dict, config: Config) -> None:
    def local(iso: str | None) -> str:
        if not iso:
            return "-"
        return datetime.fromisoformat(iso).astimezone(config.tz).strftime("%Y-%m-%d %H:%M")

    f = st["feeds"]
    print(f"feeds     {f['active']} active: {f['healthy']} healthy, {f['failing']} failing"
          + (f" ({f['backing_off']} of them backing off)" if f["backing_off"] else ""))
    for p in f["problems"][:10]:
        print(f"  ! {pad(p['feed'], 28)} {p['state']:<11} {p['failures']} fails, last ok {local(p['last_ok'])}, "
              f"next {local(p['next_poll'])}: {(p['error'] or '')[:80]}")
    if len(f["problems"]) > 10:
        print(f"  … and {len(f['problems']) - 10} more (monitor feeds)")
    if f["next_polls"]:
        print("  next polls: " + ", ".join(f"{n['feed']} {local(n['at'])[11:]}" for n in f["next_polls"]))
    print("watches   stories today (reprints not counted)")
    for w in st["watches"]:
        print(f"  {pad(w['watch'], 20)} {w['alert']:<10} {w['stories_today']}")
    d = st["digest"]
    last = d["last"]
    last_s = f"{last['period']} ({last['status']}, sent {local(last['sent'])})" if last else "none yet"
    print(f"digest    last {last_s}; next {local(d['next'])} ('{d['schedule']}')")
    o = st["outbox"]
    given_up = f" ({o['given_up']} refused for good: monitor outbox)" if o["given_up"] else ""
    print(f"outbox    {o['pending']} pending, {o['failed']} failed{given_up}, {o['sent']} sent"
          + (f"; oldest unsent from {local(o['oldest_unsent'])}" if o["oldest_unsent"] else ""))
