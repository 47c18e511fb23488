"""Sending what the outbox holds: claim the due deliveries, hand each to the transport, write its
outcome at once. A failed send stays in the table with its reason and is retried with back-off,
so no item is ever dropped."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from .. import signing
from ..config import Config
from ..config.schedule import backoff
from ..errors import DeliveryError
from ..store import Database, deliveries, instance_id
from ..store.models import Delivery
from . import channels
from .channels import is_channel
from .links import link_secret
from .transports import Transport, build_message

log = logging.getLogger("monitor.outbox")
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
PERMANENT_TRIES = 3


@dataclass
class SendResult:
    id: int
    kind: str
    recipients: str
    subject: str
    ok: bool
    error: str | None = None


def send_due(db: Database, config: Config, transport: Transport, *, now: datetime | None = None,
             only: list[int] | None = None, stop: threading.Event | None = None) -> list[SendResult]:
    """Send what is due. Each outcome is written at once, so a crash loses at most the row in hand.
    ``stop`` set (the daemon is stopping): no further send starts, and one cut off by
    ``transport.abort()`` goes back to pending, for the next process to send once."""
    now = now or datetime.now(UTC)
    with db.session() as s:
        token, rows = deliveries.claim(s, instance_id(), now=now, only=only)
        secret = link_secret(config, s) if rows and config.web.base_url else ""
        s.commit()
    results = []
    for i, d in enumerate(rows):
        if stop is not None and stop.is_set():
            with db.begin() as s:
                deliveries.release(s, [r.id for r in rows[i:]], token)
            break
        error, warning, permanent = _attempt(config, transport, d, list_headers(config, secret, d.recipients))
        with db.begin() as s:
            if error is None:
                deliveries.mark_sent(s, d.id, token, at=datetime.now(UTC), warning=warning)
            elif stop is not None and stop.is_set():
                deliveries.release(s, [d.id], token)
                log.info("delivery %d: send interrupted by shutdown; the next start sends it", d.id)
                continue
            else:
                retry = _retry_at(d.attempts + 1, permanent)
                deliveries.mark_failed(s, d.id, token, error=error, retry_at=retry)
        _log_outcome(d, error, permanent and not retry if error else False)
        results.append(SendResult(d.id, d.kind, d.recipients, d.subject, error is None, error))
    return results


def list_headers(config: Config, secret: str, recipients: str) -> dict[str, str]:
    """List-Id always; with a web view, RFC 8058 one-click unsubscribe: the mail client POSTs to
    the signed URL, and that person gets no further email."""
    if is_channel(recipients):
        return {}
    host = urlsplit(config.web.base_url).hostname if config.web.base_url else None
    domain = host or config.mail.from_.rpartition("@")[2] or "monitor.invalid"
    out = {"List-Id": f"monitor <digest.{domain}>"}
    if config.web.base_url and secret and "," not in recipients:
        url = signing.action_url(config.web.base_url, secret, "unsubscribe", recipients, "*")
        out["List-Unsubscribe"] = f"<{url}>"
        out["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return out


def _attempt(config: Config, transport: Transport, d: Delivery,
             headers: dict[str, str]) -> tuple[str | None, str | None, bool]:
    """(error, warning, permanent) of one send: an email through the transport, a channel's
    message through Apprise."""
    try:
        if is_channel(d.recipients):
            channels.send(d.recipients, d.subject, d.body_text)
            return None, None, False
        msg = build_message(
            sender=config.mail.from_, recipients=d.recipients.split(","), subject=d.subject, html=d.body_html,
            text=d.body_text, message_id=d.message_id, date=d.created_at, kind=d.kind, period=d.period,
            headers=headers,
        )
        return None, transport.send(msg, f"{d.id:06d}-{d.kind}"), False
    except DeliveryError as e:
        return str(e), None, e.permanent
    except Exception as e:  # a bug or an odd failure must not lose the row either
        log.exception("sending delivery %s failed unexpectedly", d.id)
        return f"{type(e).__name__}: {e}", None, False


def _retry_at(attempts: int, permanent: bool) -> datetime | None:
    """When to try again; None: failed for good. A permanent refusal (5xx) is tried a few times
    (a misconfigured server gets fixed), then left for a person: ``monitor outbox retry``."""
    if permanent and attempts >= PERMANENT_TRIES:
        return None
    return datetime.now(UTC) + backoff(BACKOFF_FIRST, attempts, BACKOFF_MAX)


def _log_outcome(d: Delivery, error: str | None, given_up: bool) -> None:
    to = channels.display(d.recipients)
    if error is None:
        log.info("delivery %d sent: %s to %s", d.id, d.kind, to)
    elif given_up:
        log.error("delivery %d (%s to %s) refused for good after %d tries: %s (monitor outbox retry sends it "
                  "again)", d.id, d.kind, to, d.attempts + 1, error)
    else:
        log.warning("delivery %d (%s to %s) failed, will retry: %s", d.id, d.kind, to, error)
