"""``monitor status``: one screen that says whether the monitor is doing its job, from the database
alone (so it works while the daemon runs, from any host that can reach the database)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .columns import pad
from .config import Config
from .models import Delivery, Feed, Match, Watch


def feed_state(f: Feed) -> str:
    if not f.active:
        return "retired"
    if not f.consecutive_failures:
        return "healthy"
    # Back-off has pushed the next poll beyond the feed's own interval.
    if f.last_fetch_at and f.next_poll_at and \
            f.next_poll_at - f.last_fetch_at > timedelta(seconds=f.interval_seconds * 1.2):
        return "backing_off"
    return "failing"


def gather(session: Session, config: Config, now: datetime | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    feeds = list(session.scalars(select(Feed).where(Feed.active.is_(True)).order_by(Feed.next_poll_at, Feed.name)))
    counts = {"healthy": 0, "failing": 0, "backing_off": 0}
    problems = []
    for f in feeds:
        st = feed_state(f)
        counts[st] += 1
        if st != "healthy":
            problems.append({"feed": f.name, "state": st, "failures": f.consecutive_failures,
                             "error": f.last_error, "last_ok": _iso(f.last_success_at),
                             "next_poll": _iso(f.next_poll_at)})
    next_polls = [{"feed": f.name, "at": _iso(f.next_poll_at)} for f in feeds[:5]]

    start_of_day = datetime.combine(now.astimezone(config.tz).date(), datetime.min.time(), config.tz)
    today = dict(session.execute(
        select(Watch.name, func.count(Match.id)).join(Match, Match.watch_id == Watch.id)
        .where(Match.matched_at >= start_of_day.astimezone(timezone.utc)).group_by(Watch.name)).all())
    watches = [{"watch": w.name, "alert": w.alert, "matches_today": today.get(w.name, 0)} for w in config.watches]

    last = session.scalars(select(Delivery).where(Delivery.kind == "digest").order_by(Delivery.id.desc()).limit(1)).first()
    outbox = dict(session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    oldest = session.scalar(select(func.min(Delivery.created_at)).where(Delivery.status != "sent"))
    return {
        "now": _iso(now),
        "feeds": {"active": len(feeds), **counts, "problems": problems, "next_polls": next_polls},
        "watches": watches,
        "digest": {
            "schedule": config.digest.schedule,
            "last": None if last is None else {"period": last.period, "status": last.status,
                                               "created": _iso(last.created_at), "sent": _iso(last.sent_at)},
            "next": _iso(config.next_digest(now.astimezone(config.tz))),
        },
        "outbox": {"pending": outbox.get("pending", 0) + outbox.get("sending", 0), "failed": outbox.get("failed", 0),
                   "sent": outbox.get("sent", 0), "oldest_unsent": _iso(oldest)},
    }


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds") if dt else None


def print_status(st: dict, config: Config) -> None:
    def local(iso: str | None) -> str:
        if not iso:
            return "-"
        return datetime.fromisoformat(iso).astimezone(config.tz).strftime("%Y-%m-%d %H:%M")

    f = st["feeds"]
    print(f"feeds     {f['active']} active: {f['healthy']} healthy, {f['failing']} failing, "
          f"{f['backing_off']} backing off")
    for p in f["problems"][:10]:
        print(f"  ! {pad(p['feed'], 28)} {p['state']:<11} {p['failures']} fails, last ok {local(p['last_ok'])}, "
              f"next {local(p['next_poll'])}: {(p['error'] or '')[:80]}")
    if len(f["problems"]) > 10:
        print(f"  … and {len(f['problems']) - 10} more (monitor feeds)")
    if f["next_polls"]:
        print("  next polls: " + ", ".join(f"{n['feed']} {local(n['at'])[11:]}" for n in f["next_polls"]))
    print("watches   matches today")
    for w in st["watches"]:
        print(f"  {pad(w['watch'], 20)} {w['alert']:<10} {w['matches_today']}")
    d = st["digest"]
    last = d["last"]
    last_s = f"{last['period']} ({last['status']}, sent {local(last['sent'])})" if last else "none yet"
    print(f"digest    last {last_s}; next {local(d['next'])} ('{d['schedule']}')")
    o = st["outbox"]
    print(f"outbox    {o['pending']} pending, {o['failed']} failed, {o['sent']} sent"
          + (f"; oldest unsent from {local(o['oldest_unsent'])}" if o["oldest_unsent"] else ""))
