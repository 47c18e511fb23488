"""The outbox in the database: every email is recorded with the items it carries in one
transaction, then claimed, sent and marked. A crash between the two leaves a pending row that the
next run sends; a failed send stays in the table with its reason.

The unique key (kind, recipients, period) is what makes a second digest for the same period
impossible, also with several daemons on one PostgreSQL database: the loser's INSERT fails and
its transaction, items included, rolls back.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from .models import Delivery, DeliveryItem, DeliveryKind, Feed

LEASE = timedelta(minutes=5)  # a send that takes longer is presumed dead and is claimed again


@dataclass(frozen=True)
class NewDelivery:
    kind: DeliveryKind
    recipients: str  # sorted, comma-separated
    period: str
    message_id: str
    subject: str
    html: str
    text: str
    carried: Sequence[tuple[int, int | None]]  # (item, watch) rows: what the recipients now have had


def enqueue(session: Session, d: NewDelivery, *, now: datetime) -> int | None:
    """Record the email and its items; None when this (kind, recipients, period) already exists."""
    try:
        with session.begin_nested():
            delivery_id = session.execute(
                insert(Delivery).values(
                    kind=d.kind, recipients=d.recipients, period=d.period, message_id=d.message_id,
                    subject=d.subject, body_html=d.html, body_text=d.text,
                    status="pending", attempts=0, next_attempt_at=now, created_at=now,
                ).returning(Delivery.id)
            ).scalar_one()
            rows = [dict(delivery_id=delivery_id, item_id=i, watch_id=w, recipients=d.recipients) for i, w in d.carried]
            if rows:
                session.execute(insert(DeliveryItem), rows)
    except IntegrityError:
        return None
    return delivery_id


def claim(session: Session, owner: str, *, now: datetime, only: list[int] | None = None) -> tuple[str, list[Delivery]]:
    """Take the due deliveries (and ones whose sender died mid-send) in one atomic UPDATE: on
    PostgreSQL a concurrent claimer re-checks the WHERE on the locked row and gets nothing.
    Commits the claim; the rows come back detached."""
    token = f"{owner}/{uuid.uuid4().hex[:12]}"
    due = or_(
        (Delivery.status.in_(("pending", "failed"))) & (Delivery.next_attempt_at <= now),
        (Delivery.status == "sending") & (Delivery.lease_until < now),
    )
    stmt = update(Delivery).where(due).values(status="sending", lease_owner=token, lease_until=now + LEASE)
    if only is not None:
        stmt = stmt.where(Delivery.id.in_(only))
    session.execute(stmt.execution_options(synchronize_session=False))
    session.commit()
    rows = list(session.scalars(select(Delivery).where(Delivery.lease_owner == token).order_by(Delivery.id)))
    session.expunge_all()
    return token, rows


def mark_sent(session: Session, delivery_id: int, token: str, *, at: datetime, warning: str | None) -> None:
    mine = (Delivery.id == delivery_id) & (Delivery.lease_owner == token)
    session.execute(update(Delivery).where(mine).values(
        status="sent", sent_at=at, attempts=Delivery.attempts + 1, last_error=warning,
        lease_owner=None, lease_until=None, next_attempt_at=None))


def mark_failed(session: Session, delivery_id: int, token: str, *, error: str, retry_at: datetime | None) -> None:
    """A failed attempt; ``retry_at`` None: failed for good (the server refused permanently)."""
    mine = (Delivery.id == delivery_id) & (Delivery.lease_owner == token)
    session.execute(update(Delivery).where(mine).values(
        status="failed", attempts=Delivery.attempts + 1, last_error=error, lease_owner=None,
        lease_until=None, next_attempt_at=retry_at))


def release(session: Session, delivery_ids: Sequence[int], token: str) -> None:
    """Claimed but not sent (the process is stopping): pending again, no attempt counted, so the
    next process sends it at once."""
    if delivery_ids:
        session.execute(update(Delivery).where(Delivery.id.in_(list(delivery_ids)), Delivery.lease_owner == token)
                        .values(status="pending", lease_owner=None, lease_until=None,
                                next_attempt_at=datetime.now(UTC)))


def undeliverable(session: Session, since: datetime) -> list[Delivery]:
    """Emails that failed for good (the server refused them permanently) since ``since``."""
    return list(session.scalars(select(Delivery).where(
        Delivery.status == "failed", Delivery.next_attempt_at.is_(None), Delivery.created_at >= since)
        .order_by(Delivery.id)))


def retry_failed(session: Session) -> int:
    """``monitor outbox retry``: make every failed delivery due now."""
    res = session.execute(
        update(Delivery).where(Delivery.status == "failed").values(next_attempt_at=datetime.now(UTC))
    )
    return getattr(res, "rowcount", 0) or 0


def next_attempt(session: Session) -> datetime | None:
    """When the outbox next has something to try: the earliest retry of a pending or failed
    delivery (not one given up), or the end of a send's lease (its sender may have died)."""
    retry = session.scalar(select(func.min(Delivery.next_attempt_at))
                           .where(Delivery.status.in_(("pending", "failed"))))
    lease = session.scalar(select(func.min(Delivery.lease_until)).where(Delivery.status == "sending"))
    return min((t for t in (retry, lease) if t is not None), default=None)


def listing(session: Session, limit: int = 50) -> list[Delivery]:
    """Unsent first (oldest first), then the latest sent."""
    unsent = list(session.scalars(select(Delivery).where(Delivery.status != "sent").order_by(Delivery.id)))
    sent = list(session.scalars(
        select(Delivery).where(Delivery.status == "sent").order_by(Delivery.id.desc()).limit(limit)))
    return unsent + sent[::-1]


@dataclass(frozen=True)
class OutboxCounts:
    """The one reading of the outbox's backlog: ``status``, ``/metrics`` and the web view share it."""

    pending: int  # pending or being sent
    sending: int
    failed: int  # failed, to be retried or (``given_up``) refused for good
    sent: int
    oldest_unsent: datetime | None
    given_up: int = 0


def counts(session: Session) -> OutboxCounts:
    by_status = dict(session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    oldest = session.scalar(select(func.min(Delivery.created_at)).where(Delivery.status != "sent"))
    given_up = session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.status == "failed", Delivery.next_attempt_at.is_(None))) or 0
    return OutboxCounts(by_status.get("pending", 0) + by_status.get("sending", 0), by_status.get("sending", 0),
                        by_status.get("failed", 0), by_status.get("sent", 0), oldest, given_up)


def last_digest(session: Session) -> Delivery | None:
    stmt = select(Delivery).where(Delivery.kind == "digest").order_by(Delivery.id.desc()).limit(1)
    return session.scalars(stmt).first()


def lists_of(session: Session, address: str) -> list[str]:
    """The ``recipients`` values that include ``address``: the person alone, and the lists that
    older versions (one email per recipient list) recorded, so an upgrade repeats nothing."""
    lists = session.scalars(select(Delivery.recipients).where(Delivery.recipients.contains(",")).distinct())
    return [address] + [r for r in lists if address in r.split(",")]


def recorded_for_period(session: Session, kind: DeliveryKind, period: str) -> set[str]:
    """People who already have this period's email recorded (alone, or on an older list)."""
    rows = session.scalars(select(Delivery.recipients).where(Delivery.kind == kind, Delivery.period == period))
    return {a for r in rows for a in r.split(",")}


def last_digest_created(session: Session, recipients: str) -> datetime | None:
    return session.scalar(select(func.max(Delivery.created_at)).where(
        Delivery.kind == "digest", Delivery.recipients.in_(lists_of(session, recipients))))


def monitoring_since(session: Session) -> datetime | None:
    """When this database started monitoring: its first feed row."""
    return session.scalar(select(func.min(Feed.created_at)))


def newest(session: Session, limit: int, offset: int = 0) -> tuple[list[Delivery], int]:
    """A page of every email recorded, newest first, and how many there are."""
    total = session.scalar(select(func.count()).select_from(Delivery)) or 0
    rows = list(session.scalars(select(Delivery).options(defer(Delivery.body_html), defer(Delivery.body_text))
                                .order_by(Delivery.id.desc()).limit(limit).offset(offset)))
    session.expunge_all()
    return rows, total


def get(session: Session, delivery_id: int) -> Delivery | None:
    """One email, detached from the session (the page renders it after the session closed)."""
    row = session.get(Delivery, delivery_id)
    if row is not None:
        session.expunge(row)
    return row


def by_key(session: Session, key: str) -> Delivery | None:
    """The email whose Message-ID carries ``key`` (see ``mail.compose.message_key``)."""
    if not key.isalnum():
        return None
    return session.scalar(select(Delivery).where(Delivery.message_id.like(f"<%.{key}@%>")).limit(1))
