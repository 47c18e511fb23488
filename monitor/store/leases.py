"""Who holds a lease, and what to do about leases whose holder is gone.

A lease owner is ``host:pid/nonce``. Leases expire on their own (a crashed daemon on another host
is only known to be dead by its silence), but a daemon restarting on the same host can tell at
once that a pid no longer runs and take back that process's work without waiting for expiry:
after a kill -9, the half-polled feeds are polled and the half-sent emails re-sent right away.
"""
from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime

from sqlalchemy import select, update

from .engine import Database
from .models import Delivery, Feed

log = logging.getLogger("monitor.instance")


def instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _dead_local(owner: str | None, host: str) -> bool:
    if not owner or not owner.startswith(host + ":"):
        return False
    pid_part = owner[len(host) + 1:].split("/", 1)[0]
    if not pid_part.isdigit():
        return False
    pid = int(pid_part)
    return pid != os.getpid() and not pid_alive(pid)


def release_dead_leases(db: Database) -> tuple[int, int]:
    """Release feeds and deliveries leased by processes of this host that no longer run."""
    host = socket.gethostname()
    now = datetime.now(UTC)
    with db.begin() as s:
        feeds = [i for i, o in s.execute(select(Feed.id, Feed.lease_owner).where(Feed.lease_owner.like(f"{host}:%")))
                 if _dead_local(o, host)]
        if feeds:
            s.execute(update(Feed).where(Feed.id.in_(feeds)).values(lease_owner=None, lease_until=None))
        leased = s.execute(select(Delivery.id, Delivery.lease_owner).where(Delivery.lease_owner.like(f"{host}:%")))
        mails = [i for i, o in leased if _dead_local(o, host)]
        if mails:
            # We cannot know whether the dead process got the message out: send again (same Message-ID).
            s.execute(update(Delivery).where(Delivery.id.in_(mails), Delivery.status == "sending")
                      .values(status="pending", next_attempt_at=now, lease_owner=None, lease_until=None))
    if feeds or mails:
        log.info("took back %d feed and %d email leases of processes that died on this host", len(feeds), len(mails))
    return len(feeds), len(mails)
