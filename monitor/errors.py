"""Every failure the monitor expects, as types.

Two shapes, for two uses. A failure that ends an operation is raised as an exception; a failure
that is an *outcome* (a feed that answered 404 is a result of the poll, not a crash) travels as a
``Failure`` value with a ``kind``, which the feed row keeps and which ``monitor status`` and
``/metrics`` group by. ``SourceError`` wraps such a value when it has to be raised.

    MonitorError
    ├── ConfigError          config.yaml cannot be run (every fault, with its line)
    ├── QueryError           a watch query does not parse (with the position)
    ├── SourceError          fetching or parsing a source failed (carries a Failure)
    ├── StoreError           the database refused or is unreachable
    │   └── SchemaOutdated   the database is at an older revision than this code
    ├── DeliveryError        an email or chat message was not accepted
    └── AlreadyRunning       a second daemon on one SQLite file
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class FailureKind(StrEnum):
    """Why a source failed, coarse enough to group by and to decide what to do about it."""

    CONNECT = "connect"  # refused, unreachable, DNS
    TIMEOUT = "timeout"
    TLS = "tls"
    HTTP = "http"  # an HTTP error status
    REDIRECT = "redirect"  # loops, too many hops, non-http targets
    TOO_LARGE = "too_large"
    EMPTY = "empty"
    HTML_PAGE = "html_page"  # a web page where a feed was expected
    NOT_A_FEED = "not_a_feed"
    PARSER = "parser"  # the parser itself broke
    STORE = "store"  # the fetch worked, storing it did not


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    reason: str  # one line a user can act on

    def __str__(self) -> str:
        return self.reason


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose."""


class ConfigError(MonitorError):
    """A config that must not be run. ``problems`` holds one line per fault."""

    def __init__(self, path: Path, problems: list[str], *, missing: bool = False):
        self.path = path
        self.problems = problems
        self.missing = missing  # no file at all: "missing", not "not valid"
        super().__init__("\n".join(problems))


class QueryError(MonitorError, ValueError):
    """A watch query that does not parse; ``position`` is 1-based, for the config error."""

    def __init__(self, message: str, position: int):
        self.position = position
        super().__init__(f"{message} at position {position}")


class SourceError(MonitorError):
    def __init__(self, failure: Failure):
        self.failure = failure
        super().__init__(failure.reason)


class StoreError(MonitorError):
    """The database failed; the message names the database and what to do."""


class SchemaOutdated(StoreError):
    pass


class DeliveryError(MonitorError):
    """A send that failed; the message says why, for ``monitor outbox``. ``permanent``: the
    server refused for good (5xx), so retrying would only repeat the refusal."""

    def __init__(self, message: str, *, permanent: bool = False):
        self.permanent = permanent
        super().__init__(message)


class AlreadyRunning(MonitorError):
    pass
