"""What every command shares: exit codes, opening the database, argument types."""
from __future__ import annotations

import argparse
from datetime import datetime

from ..config import Config
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


def iso_date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date like 2026-11-01 or 2026-11-01T08:00+08:00") from None
    return value


def local_since(config: Config, since: datetime | None) -> datetime | None:
    """A date given without a zone is in the config's time zone."""
    if since is not None and since.tzinfo is None:
        return since.replace(tzinfo=config.tz)
    return since


def local(config: Config, dt: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    return dt.astimezone(config.tz).strftime(fmt) if dt else "-"
