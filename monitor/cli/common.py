"""What every command shares: exit codes, opening the database, argument types."""
from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, time, timedelta

from ..config import Config
from ..config.durations import parse_duration
from ..store import Database

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


def open_db(config: Config, *, migrate: bool) -> Database:
    """Commands that write bring the schema up to date; commands that only read check it."""
    db = Database(config.database)
    if migrate:
        db.migrate()
    else:
        db.require_current()
    return db


def host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


Since = datetime | int  # a moment, or a local day: 0 today, 1 yesterday (resolved in the config's zone)


def since_arg(text: str) -> Since:
    """``--since``: an ISO date or time, a duration back from now (2d, 12h, 1h30m), today or yesterday."""
    word = text.strip().lower()
    if word in ("today", "yesterday"):
        return 0 if word == "today" else 1
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.now(UTC) - parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (2026-11-01, 2026-11-01T08:00+08:00), a duration (2d, 12h) "
            "or today/yesterday") from None


def local_since(config: Config, since: Since | None) -> datetime | None:
    """A date given without a zone is in the config's time zone; today and yesterday start at its midnight."""
    if isinstance(since, int):
        day = datetime.now(config.tz).date() - timedelta(days=since)
        return datetime.combine(day, time.min, config.tz)
    if since is not None and since.tzinfo is None:
        return since.replace(tzinfo=config.tz)
    return since


def known_watch(config: Config, name: str | None) -> bool:
    """A filter naming no watch of the config is an error, said once, not an empty answer."""
    if name is None or name in {w.name for w in config.watches}:
        return True
    print(f"monitor: no watch named {name!r} in {config.source_path} "
          f"(known: {', '.join(w.name for w in config.watches)})", file=sys.stderr)
    return False


def local(config: Config, dt: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    return dt.astimezone(config.tz).strftime(fmt) if dt else "-"
