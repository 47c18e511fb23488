"""Crontab expressions with the meaning users know from cron(5).

APScheduler 3's ``CronTrigger.from_crontab`` numbers the days of the week from Monday = 0, so
``0 8 * * 1`` would fire on Tuesdays. Here the day-of-week field is read the cron way
(0 and 7 = Sunday, 1 = Monday … 6 = Saturday; ranges and steps included) and handed to
APScheduler as day names, which it reads unambiguously.
"""
from __future__ import annotations

from datetime import tzinfo

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
