"""The outbox: every email is rendered and recorded with the items it carries in one transaction,
then sent. A crash between the two leaves a pending row that the next run sends; a failed send
stays in the table with its reason and is retried with back-off, so no item is ever dropped.

The unique key (kind, recipients, period) is what makes a second digest for the same period
impossible, also with several daemons on one PostgreSQL database: the loser's INSERT fails and
its transaction, items included, rolls back.
"""
from __future__ import annotations

import hashlib
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .config import Config
from .digest import Digest
from .instance import instance_id
from .mailer import DeliveryError, build_message
from .models import Delivery, DeliveryItem

log = logging.getLogger("monitor.outbox")
LEASE = timedelta(minutes=5)  # a send that takes longer is presumed dead and is claimed again
BACKOFF_FIRST = 60.0
BACKOFF_MAX = 3600.0


@dataclass
class Rendered:
    subject: str
    html: str
    text: str


@dataclass
class SendResult:
    id: int
    kind: str
    recipients: str
    subject: str
    ok: bool
    error: str | None = None


def message_id(kind: str, recipients: str, period: str, sender: str) -> str:
    """Stable for a delivery: a re-send after a crash carries the same Message-ID, so mail clients
    can fold the rare double."""
    digest = hashlib.sha256(f"{kind}\n{recipients}\n{period}".encode()).hexdigest()[:24]
    domain = sender.rpartition("@")[2] or "monitor.invalid"
    return f"<{kind}.{digest}@{domain}>"


def enqueue(session: Session, config: Config, digest: Digest, rendered: Rendered, *, now: datetime) -> int | None:
    """Record the email and its items; None when this (kind, recipients, period) already exists."""
    recipients = ",".join(digest.recipients)
    try:
        with session.begin_nested():
            delivery_id = session.execute(
                insert(Delivery).values(
                    kind=digest.kind, recipients=recipients, period=digest.period,
                    message_id=message_id(digest.kind, recipients, digest.period, config.mail.from_),
                    subject=rendered.subject, body_html=rendered.html, body_text=rendered.text,
                    status="pending", attempts=0, next_attempt_at=now, created_at=now,
                ).returning(Delivery.id)
            ).scalar_one()
            rows = [dict(delivery_id=delivery_id, item_id=i, watch_id=w, recipients=recipients)
                    for i, w in digest.carried]
            if rows:
                session.execute(insert(DeliveryItem), rows)
    except IntegrityError:
        return None
    return delivery_id


def claim(session_factory: sessionmaker, *, now: datetime, only: list[int] | None = None) -> tuple[str, list[Delivery]]:
    """Take the due deliveries (and ones whose sender died mid-send) in one atomic UPDATE: on
    PostgreSQL a concurrent claimer re-checks the WHERE on the locked row and gets nothing."""
    token = f"{instance_id()}/{uuid.uuid4().hex[:12]}"
    due = or_(
        (Delivery.status.in_(("pending", "failed"))) & (Delivery.next_attempt_at <= now),
        (Delivery.status == "sending") & (Delivery.lease_until < now),
    )
    stmt = update(Delivery).where(due).values(status="sending", lease_owner=token, lease_until=now + LEASE)
    if only is not None:
        stmt = stmt.where(Delivery.id.in_(only))
    with session_factory.begin() as s:
        s.execute(stmt.execution_options(synchronize_session=False))
    with session_factory() as s:
        rows = list(s.scalars(select(Delivery).where(Delivery.lease_owner == token).order_by(Delivery.id)))
        s.expunge_all()
    return token, rows


def backoff(attempts: int) -> float:
    base = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.85, 1.15)


def send_due(session_factory: sessionmaker, config: Config, transport, *, now: datetime | None = None,
             only: list[int] | None = None) -> list[SendResult]:
    """Send what is due. Each outcome is written at once, so a crash loses at most the row in hand."""
    now = now or datetime.now(timezone.utc)
    token, rows = claim(session_factory, now=now, only=only)
    results = []
    for d in rows:
        msg = build_message(
            sender=config.mail.from_, recipients=d.recipients.split(","), subject=d.subject, html=d.body_html,
            text=d.body_text, message_id=d.message_id, date=d.created_at, kind=d.kind, period=d.period,
        )
        error = warning = None
        try:
            warning = transport.send(msg, f"{d.id:06d}-{d.kind}")
        except DeliveryError as e:
            error = str(e)
        except Exception as e:  # a bug or an odd failure must not lose the row either
            log.exception("sending delivery %s failed unexpectedly", d.id)
            error = f"{type(e).__name__}: {e}"
        done = datetime.now(timezone.utc)
        with session_factory.begin() as s:
            mine = (Delivery.id == d.id) & (Delivery.lease_owner == token)
            if error is None:
                s.execute(update(Delivery).where(mine).values(
                    status="sent", sent_at=done, attempts=Delivery.attempts + 1, last_error=warning,
                    lease_owner=None, lease_until=None, next_attempt_at=None))
            else:
                s.execute(update(Delivery).where(mine).values(
                    status="failed", attempts=Delivery.attempts + 1, last_error=error, lease_owner=None,
                    lease_until=None, next_attempt_at=done + timedelta(seconds=backoff(d.attempts + 1))))
        if error:
            log.warning("delivery %d (%s to %s) failed, will retry: %s", d.id, d.kind, d.recipients, error)
        else:
            log.info("delivery %d sent: %s to %s", d.id, d.kind, d.recipients)
        results.append(SendResult(d.id, d.kind, d.recipients, d.subject, error is None, error))
    return results


def retry_now(session: Session) -> int:
    """``monitor outbox retry``: make every failed delivery due now."""
    res = session.execute(
        update(Delivery).where(Delivery.status == "failed").values(next_attempt_at=datetime.now(timezone.utc))
    )
    return res.rowcount or 0


def listing(session: Session, limit: int = 50) -> list[Delivery]:
    """Unsent first (oldest first), then the latest sent."""
    unsent = list(session.scalars(select(Delivery).where(Delivery.status != "sent").order_by(Delivery.id)))
    sent = list(session.scalars(
        select(Delivery).where(Delivery.status == "sent").order_by(Delivery.id.desc()).limit(limit)))
    return unsent + sent[::-1]
