"""Schedule arithmetic: cron read as cron(5) reads it, digest periods in local time across DST."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.config import ConfigError, load_config
from monitor.config.schedule import cron_trigger, latest_period, next_poll


def test_digest_period_follows_local_time_across_dst():
    ny = ZoneInfo("America/New_York")
    utc = UTC
    # 2026-03-08 is the spring-forward day in New York: 08:00 local is 13:00 UTC before, 12:00 after.
    assert latest_period("0 8 * * *", ny, datetime(2026, 3, 7, 14, 0, tzinfo=utc)) == datetime(2026, 3, 7, 13, 0, tzinfo=utc)
    assert latest_period("0 8 * * *", ny, datetime(2026, 3, 9, 12, 30, tzinfo=utc)) == datetime(2026, 3, 9, 12, 0, tzinfo=utc)
    assert latest_period("0 8 * * *", ny, datetime(2026, 3, 9, 11, 59, tzinfo=utc)) == datetime(2026, 3, 8, 12, 0, tzinfo=utc)
    # Fall back (2026-11-01): one 08:00 that day, not two.
    assert latest_period("0 8 * * *", ny, datetime(2026, 11, 1, 14, 0, tzinfo=utc)) == datetime(2026, 11, 1, 13, 0, tzinfo=utc)


@pytest.mark.parametrize("schedule,now,expected", [
    ("* * * * *", "2026-11-23T10:15:30+08:00", "2026-11-23T10:15:00+08:00"),
    ("*/5 * * * *", "2026-11-23T10:14:59+08:00", "2026-11-23T10:10:00+08:00"),
    ("0 8 * * *", "2026-11-23T07:59:00+08:00", "2026-11-22T08:00:00+08:00"),
    ("0 8 * * 1", "2026-11-22T09:00:00+08:00", "2026-11-16T08:00:00+08:00"),
    ("0 8 1 1 *", "2026-11-23T09:00:00+08:00", "2026-01-01T08:00:00+08:00"),
])
def test_latest_period_for_any_schedule(schedule, now, expected):
    tz = ZoneInfo("Asia/Shanghai")
    assert latest_period(schedule, tz, datetime.fromisoformat(now)) == datetime.fromisoformat(expected)


@pytest.mark.parametrize("dow,days", [
    ("1", "mon"), ("0", "sun"), ("7", "sun"), ("1-5", "mon,tue,wed,thu,fri"), ("5-7", "sun,fri,sat"),
    ("*/2", "sun,tue,thu,sat"), ("0,6", "sun,sat"), ("mon-fri", "mon,tue,wed,thu,fri"), ("sat,sun", "sun,sat"),
])
def test_cron_day_of_week_means_what_cron_means(dow, days):
    field = {f.name: str(f) for f in cron_trigger(f"0 8 * * {dow}").fields}["day_of_week"]
    assert field == days


def test_cron_rejects_bad_day_of_week(make_config):
    with pytest.raises(ConfigError) as e:
        load_config(make_config({"digest": {"schedule": "0 8 * * 9", "recipients": ["a@example.com"]}}))
    assert "digest.schedule" in str(e.value)


def test_ttl_and_max_age_lengthen_interval_capped():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cap = timedelta(hours=24)
    assert next_poll(now=now, interval=timedelta(minutes=15), cap=cap, hints=[timedelta(hours=1)]) == now + timedelta(hours=1)
    assert next_poll(now=now, interval=timedelta(hours=2), cap=cap, hints=[timedelta(minutes=5)]) == now + timedelta(hours=2)
    assert next_poll(now=now, interval=timedelta(minutes=15), cap=cap, hints=[timedelta(days=30)]) == now + cap
