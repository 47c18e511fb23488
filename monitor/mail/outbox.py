"""Sending what the outbox holds: claim the due deliveries, hand each to the transport, write its
outcome at once. A failed send stays in the table with its reason and is retried with back-off,
so no item is ever dropped."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..config import Config
from ..config.schedule import backoff
from ..errors import DeliveryError
from ..store import Database, deliveries, instance_id
from .transports import Transport, build_message

log = logging.getLogger("monitor.outbox")
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)


@dataclass
class SendResult:
    id: int
    kind: str
    recipients: str
    subject: str
    ok: bool
    error: str | None = None


def send_due(db: Database, config: Config, transport: Transport, *, now: datetime | None = None,
             only: list[int] | None = None) -> list[SendResult]:
    """Send what is due. Each outcome is written at once, so a crash loses at most the row in hand."""
    now = now or datetime.now(UTC)
    with db.session() as s:
        token, rows = deliveries.claim(s, instance_id(), now=now, only=only)
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
        done = datetime.now(UTC)
        with db.begin() as s:
            if error is None:
                deliveries.mark_sent(s, d.id, token, at=done, warning=warning)
            else:
                deliveries.mark_failed(s, d.id, token, error=error,
                                       retry_at=done + backoff(BACKOFF_FIRST, d.attempts + 1, BACKOFF_MAX))
        if error:
            log.warning("delivery %d (%s to %s) failed, will retry: %s", d.id, d.kind, d.recipients, error)
        else:
            log.info("delivery %d sent: %s to %s", d.id, d.kind, d.recipients)
        results.append(SendResult(d.id, d.kind, d.recipients, d.subject, error is None, error))
    return results
