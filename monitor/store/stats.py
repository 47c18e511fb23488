"""Counts for ``monitor status`` and ``/metrics``, read from the database so they are true for
every daemon on a shared database, not only the one asked."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .models import Feed, Item


def feeds_due(session: Session, now: datetime, *, first: bool = False) -> int:
    """Active feeds due by ``now``; with ``first``, only those never polled successfully (a
    poll parses all their entries: ``Claimed.first``)."""
    query = select(func.count()).select_from(Feed).where(
        Feed.active.is_(True), or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))
    if first:
        query = query.where(Feed.first_success_at.is_(None))
    return session.scalar(query) or 0


def items_stored(session: Session) -> int:
    """The highest item id: what has been stored so far (cheap on any size of store)."""
    return session.scalar(select(func.max(Item.id))) or 0
