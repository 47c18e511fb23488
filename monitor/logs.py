"""Logging for the CLI and the daemon: plain lines, or one JSON object per line for log shippers
(``--log-format json``). A module of its own, importing nothing of ours, so the resting daemon and
its job processes write the same lines without loading the command line's libraries."""
from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime, tzinfo

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # Fields passed with logger.info(..., extra={...}) become keys of their own.
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Plain lines stamped in the config's time zone, with its offset: the same clock the CLI's
    tables and the emails use, whatever the host's zone is."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.zone: tzinfo = UTC

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        at = datetime.fromtimestamp(record.created, self.zone)
        return at.strftime("%Y-%m-%d %H:%M:%S") + f".{int(record.msecs):03d}" + at.strftime("%z")


def use_zone(zone: tzinfo) -> None:
    """Once the config is read: stamp log lines in its zone."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, TextFormatter):
            handler.formatter.zone = zone


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # apprise: its debug lines quote the expanded URL, whose path or host is often the bot's token.
    for noisy in ("httpx", "httpcore", "apscheduler", "alembic", "apprise"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
