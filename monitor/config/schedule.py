"""All schedule arithmetic: cron expressions with the meaning users know from cron(5), the digest
periods they define (the next one, the latest one, the ones missed), and back-off with jitter.

Cron:
APScheduler 3's ``CronTrigger.from_crontab`` numbers the days of the week from Monday = 0, so
``0 8 * * 1`` would fire on Tuesdays. Here the day-of-week field is read the cron way
(0 and 7 = Sunday, 1 = Monday … 6 = Saturday; ranges and steps included) and handed to
APScheduler as day names, which it reads unambiguously.
"""
from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger

_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def _day_of_week(field: str) -> str:
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        rng, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if step_s and (not step_s.isdigit() or step < 1):
            raise ValueError(f"bad step in day-of-week {part!r}")
        if rng == "*":
            lo, hi = 0, 6
        elif "-" in rng:
            a, b = rng.split("-", 1)
            lo, hi = _day(a), _day(b)
            if hi == 0 and lo > 0:
                hi = 7  # "5-7" or "fri-sun"
            if lo > hi:
                raise ValueError(f"day-of-week range {rng!r} runs backwards")
        else:
            lo = hi = _day(rng)
            if step_s:
                hi = 6  # "1/2": from Monday on, every second day
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_NAMES[d] for d in sorted(days))


def _day(token: str) -> int:
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    if token[:3] in _NAMES:
        return _NAMES.index(token[:3])
    raise ValueError(f"{token!r} is not a day of the week (0-7 or sun-sat)")


def cron_trigger(expr: str, tz: tzinfo | None = None) -> CronTrigger:
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{expr!r} is not a 5-field cron expression like '0 8 * * *'")
    minute, hour, day, month, dow = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_day_of_week(dow), timezone=tz)


def next_fire(expr: str, tz: tzinfo, after: datetime) -> datetime:
    """The first fire time strictly after ``after``."""
    fire = cron_trigger(expr, tz).get_next_fire_time(None, after)
    if fire is None:  # APScheduler gives up past its horizon: the config check refuses such schedules
        raise ValueError(f"schedule {expr!r} never fires")
    return fire


def latest_period(expr: str, tz: tzinfo, now: datetime) -> datetime | None:
    """The most recent fire time at or before ``now`` (within a year). Looks back in growing
    windows so that a per-minute and a yearly schedule both take a few steps."""
    trigger = cron_trigger(expr, tz)
    for window in (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=367)):
        t = trigger.get_next_fire_time(None, now - window)
        if t is None or t > now:
            continue
        last = t
        for _ in range(100_000):  # bounded: at most one window's worth of fire times
            t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
            if t is None or t > now:
                return last
            last = t
        return last
    return None


def missed_periods(expr: str, tz: tzinfo, since: datetime, now: datetime, limit: int = 10_000) -> int:
    """Fire times after ``since`` and before the latest period at ``now``: digests not sent while
    the monitor was down (the latest one is the one being sent)."""
    current = latest_period(expr, tz, now)
    if current is None:
        return 0
    trigger = cron_trigger(expr, tz)
    missed, t = 0, trigger.get_next_fire_time(None, since + timedelta(seconds=1))
    while t is not None and t < current and missed < limit:
        missed += 1
        t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
    return missed


def period_key(fire: datetime) -> str:
    """The digest period's name in the outbox's unique key."""
    return fire.isoformat(timespec="minutes")


def backoff(base: timedelta, attempts: int, cap: timedelta, rng: random.Random | None = None) -> timedelta:
    """``base`` doubled per attempt after the first, capped, with ±15 % jitter: things that failed
    together (one host down, one SMTP outage) do not all come back at the same moment."""
    wait = min(base * (2 ** min(max(attempts - 1, 0), 20)), cap)
    return wait * (rng or random).uniform(0.85, 1.15)


def next_poll(
    *, now: datetime, interval: timedelta, cap: timedelta, failures: int = 0,
    hints: Iterable[timedelta | None] = (), retry: timedelta | None = None, rng: random.Random | None = None,
) -> datetime:
    """When to poll a feed next. Server hints (max-age, <ttl>) only lengthen the interval, failures
    back off exponentially, Retry-After is honoured, and everything is capped."""
    wait = interval
    for hint in hints:
        if hint is not None:
            wait = max(wait, min(hint, cap))
    if failures:
        wait = backoff(interval, failures, cap, rng)
    if retry is not None:
        wait = max(wait, min(retry, cap))
    return now + min(wait, cap * 1.15)
