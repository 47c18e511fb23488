"""Feed rows: following the config, leases (who polls what), each poll's outcome, and health.

What is due is a column (``next_poll_at``), computed after every fetch from the interval, the
server's hints (Retry-After, Cache-Control max-age, RSS <ttl>) and back-off; a feed is claimed
with a lease row update so that two daemons never fetch the same feed at once and a crashed
daemon's claim simply expires.
"""
from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, Update, bindparam, func, or_, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from ..config.schedule import next_poll
from ..errors import Failure
from ..sources.specs import FeedSpec
from .chunks import chunked
from .models import Feed

_FEEDS = cast(Table, Feed.__table__)
# What record_poll reads and writes, as statements built once: a statement built for each call
# cost more in SQLAlchemy's coercion and cache keys than the ORM's load and flush it replaced.
_POLL_STATE = select(_FEEDS.c.url, _FEEDS.c.etag, _FEEDS.c.last_modified, _FEEDS.c.consecutive_failures,
                     _FEEDS.c.first_success_at).where(_FEEDS.c.id == bindparam("feed"))


@functools.cache
def _update_of(columns: tuple[str, ...]) -> Update:
    """The UPDATE of these columns of one feed (a handful of shapes: failed, not modified, ...)."""
    return update(_FEEDS).where(_FEEDS.c.id == bindparam("feed")).values({k: bindparam(f"v_{k}") for k in columns})

LEASE = timedelta(minutes=10)
BACKLOG_GRACE = timedelta(days=1)


def now_utc() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------
# Feed rows follow the config


def sync_feeds(session: Session, specs: Iterable[FeedSpec], now: datetime | None = None) -> None:
    """Add new feeds, update changed ones, retire the ones gone from config (history is kept)."""
    now = now or now_utc()
    wanted = {s.name: s for s in specs}
    rows = {f.name: f for f in session.scalars(select(Feed))}
    for name, spec in wanted.items():
        row = rows.get(name)
        if row is None:
            session.add(Feed(
                name=name, kind=spec.kind, url=spec.url, config_url=spec.url, watch_name=spec.watch_name,
                interval_seconds=int(spec.interval.total_seconds()), encoding=spec.encoding,
                full_text=spec.full_text, active=True, consecutive_failures=0, next_poll_at=now,
                created_at=now, updated_at=now,
            ))
            continue
        if row.config_url != spec.url:  # the config changed the URL: it wins over an old redirect
            row.url = row.config_url = spec.url
            row.etag = row.last_modified = None
            row.next_poll_at = now
        row.kind, row.watch_name = spec.kind, spec.watch_name
        row.encoding, row.full_text = spec.encoding, spec.full_text
        row.interval_seconds = int(spec.interval.total_seconds())
        if not row.active:
            row.active, row.retired_at, row.next_poll_at = True, None, now
        row.updated_at = now
    for name, row in rows.items():
        if name not in wanted and row.active:
            row.active, row.retired_at, row.updated_at = False, now, now


# ---------------------------------------------------------------------------------------------
# Leases


@dataclass(frozen=True)
class Claimed:
    id: int
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    encoding: str | None
    interval: timedelta
    failures: int
    full_text: bool = False
    token: str = ""  # the lease_owner value of this claim
    kind: str = "feed"
    watch_name: str | None = None
    # As the claim read it; no one else polls the feed while the lease is ours, so it holds for
    # the whole poll: every store of the feed reads it here, not from the database.
    first_success_at: datetime | None = None

    @property
    def first(self) -> bool:
        """Never fetched and parsed: every entry it gives is new (Workers.expect)."""
        return self.first_success_at is None


def claim_feeds(
    session: Session, owner: str, *, now: datetime | None = None,
    names: list[str] | None = None, due_only: bool = True,
) -> tuple[list[Claimed], list[tuple[str, str]]]:
    """Claim feeds for this process; also return (name, url) of those another process holds.
    One conditional UPDATE per chunk: the WHERE on the lease makes it atomic on SQLite and
    PostgreSQL alike, and a per-call token tells our rows from rows another process holds."""
    now = now or now_utc()
    due = or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now)
    stmt = select(Feed.id).where(Feed.active.is_(True))
    if names:
        stmt = stmt.where(Feed.name.in_(names))
    if due_only:
        stmt = stmt.where(due)
    candidates = list(session.scalars(stmt.order_by(Feed.next_poll_at, Feed.id)))
    if not candidates:
        return [], []
    token = f"{owner}/{uuid.uuid4().hex[:12]}"
    # Due-ness is checked again in the UPDATE: another process may have polled the feed (and
    # released it) between our SELECT and here; PostgreSQL re-evaluates this WHERE on the row it locks.
    for chunk in chunked(candidates):
        session.execute(
            update(Feed)
            .where(Feed.id.in_(chunk), or_(Feed.lease_until.is_(None), Feed.lease_until < now),
                   due if due_only else true())
            .values(lease_owner=token, lease_until=now + LEASE)
        )
    session.commit()
    claimed: list[Claimed] = []
    held: list[tuple[str, str]] = []
    for chunk in chunked(candidates):
        for f in session.scalars(select(Feed).where(Feed.id.in_(chunk))):
            if f.lease_owner == token:
                claimed.append(Claimed(f.id, f.name, f.url, f.etag, f.last_modified, f.encoding,
                                       timedelta(seconds=f.interval_seconds), f.consecutive_failures,
                                       f.full_text, token, f.kind, f.watch_name, f.first_success_at))
            elif f.lease_owner is not None:
                held.append((f.name, f.url))
            # else: polled by another process since our SELECT; no longer due
    return claimed, held


def release_feeds(session: Session, claims: list[Claimed]) -> None:
    """Give back claims not worked on (shutdown), so another daemon may take them at once."""
    for c in claims:
        session.execute(update(Feed).where(Feed.id == c.id, Feed.lease_owner == c.token)
                        .values(lease_owner=None, lease_until=None))


# ---------------------------------------------------------------------------------------------
# Outcomes


@dataclass(frozen=True)
class PollOutcome:
    """What one fetch told us about a feed, for its row."""

    at: datetime
    http_status: int | None = None
    not_modified: bool = False
    failure: Failure | None = None
    warning: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    permanent_url: str | None = None
    hints: tuple[timedelta | None, ...] = ()  # max-age, <ttl>: only ever lengthen the interval
    retry_after: timedelta | None = None


def record_poll(session: Session, claim: Claimed, outcome: PollOutcome, cap: timedelta) -> str:
    """Write a poll's outcome on the feed row and release the lease; returns the feed's URL now
    (a permanent redirect moves it). One read of the columns it builds on and one UPDATE of the
    table, not a loaded ``Feed`` flushed: on the writer thread of a cold poll the ORM's load and
    flush were a tenth of its time holding the GIL, once per feed."""
    row = session.connection().execute(_POLL_STATE, {"feed": claim.id}).one_or_none()
    assert row is not None, f"feed {claim.name} vanished while leased"
    url, etag, last_modified, failures, first_success_at = row
    now = outcome.at
    values: dict[str, object] = dict(last_fetch_at=now, last_http_status=outcome.http_status, lease_owner=None,
                                     lease_until=None, updated_at=now)
    if outcome.failure is not None:
        failures += 1
        values.update(last_error_at=now, last_error=outcome.failure.reason, last_error_kind=outcome.failure.kind,
                      consecutive_failures=failures,
                      next_poll_at=next_poll(now=now, interval=claim.interval, cap=cap, failures=failures,
                                             retry=outcome.retry_after))
    else:
        if not outcome.not_modified:
            values["last_warning"] = outcome.warning
        values["etag"] = outcome.etag or (etag if outcome.not_modified else None)
        values["last_modified"] = outcome.last_modified or (last_modified if outcome.not_modified else None)
        if outcome.permanent_url:
            url = values["url"] = outcome.permanent_url
        values.update(last_success_at=now, consecutive_failures=0, first_success_at=first_success_at or now,
                      next_poll_at=next_poll(now=now, interval=claim.interval, cap=cap, hints=outcome.hints))
    params = {"feed": claim.id, **{f"v_{k}": v for k, v in values.items()}}
    session.connection().execute(_update_of(tuple(values)), params)
    if (loaded := session.identity_map.get(identity_key(Feed, claim.id))) is not None:
        session.expire(loaded)  # a Feed this session holds reads the row again
    return url


def news_since(first_success_at: datetime | None, now: datetime, max_age: timedelta) -> datetime:
    """Entries published before this are back catalogue: before the feed's first successful poll
    (less a day's grace: what came out just before we started is news), or more than ``max_age``
    before now. Items published while the monitor was down are after the first poll: still news."""
    return max((first_success_at or now) - BACKLOG_GRACE, now - max_age)


# ---------------------------------------------------------------------------------------------
# Health: the one definition that `monitor feeds`, `status`, the digest footer and /metrics share


class Health(StrEnum):
    HEALTHY = "healthy"
    FAILING = "failing"
    BACKING_OFF = "backing_off"  # failing, and back-off has pushed the next poll past the interval
    RETIRED = "retired"  # gone from the config; history kept


@dataclass(frozen=True)
class FeedView:
    name: str
    url: str
    kind: str
    active: bool
    interval: timedelta
    failures: int
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    last_error_kind: str | None
    last_http_status: int | None
    next_poll_at: datetime | None
    created_at: datetime

    @property
    def health(self) -> Health:
        if not self.active:
            return Health.RETIRED
        if not self.failures:
            return Health.HEALTHY
        if self.last_fetch_at and self.next_poll_at and self.next_poll_at - self.last_fetch_at > self.interval * 1.2:
            return Health.BACKING_OFF
        return Health.FAILING

    @property
    def failing(self) -> bool:
        return self.health in (Health.FAILING, Health.BACKING_OFF)

    def failing_longer_than(self, span: timedelta, now: datetime) -> bool:
        """Failing with no success for ``span`` (never fetched: since it was added)."""
        return self.failing and (self.last_success_at or self.created_at) < now - span


def _view(f: Feed) -> FeedView:
    return FeedView(f.name, f.url, f.kind, f.active, timedelta(seconds=f.interval_seconds), f.consecutive_failures,
                    f.last_fetch_at, f.last_success_at, f.last_error_at, f.last_error, f.last_error_kind,
                    f.last_http_status, f.next_poll_at, f.created_at)


def next_due(session: Session) -> datetime | None:
    """When the next active feed is due (now, for one never polled); None without active feeds.
    The resting daemon sleeps until then."""
    if session.scalar(select(Feed.id).where(Feed.active.is_(True), Feed.next_poll_at.is_(None)).limit(1)):
        return datetime.now(UTC)
    return session.scalar(select(func.min(Feed.next_poll_at)).where(Feed.active.is_(True)))


def feed_views(session: Session, *, active_only: bool = False) -> list[FeedView]:
    """Active feeds first, by name; then the retired ones."""
    stmt = select(Feed).order_by(Feed.active.desc(), Feed.name)
    if active_only:
        stmt = stmt.where(Feed.active.is_(True))
    return [_view(f) for f in session.scalars(stmt)]
