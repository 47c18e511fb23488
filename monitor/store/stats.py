"""Counts for ``monitor status`` and ``/metrics``, read from the database so they are true for
every daemon on a shared database, not only the one asked."""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .models import Feed, Item


def feeds_due(session: Session, now: datetime) -> int:
    """Active feeds due by ``now``."""
    return session.scalar(select(func.count()).select_from(Feed).where(
        Feed.active.is_(True), or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))) or 0


def first_polls(session: Session, now: datetime | None, names: Collection[str] | None = None,
                new: Collection[str] = ()) -> int:
    """Feeds a poll will parse for the first time (all their entries new: ``Claimed.first``):
    active, never polled successfully, due by ``now`` (None: due or not), among ``names`` (None:
    any); and of ``new``, the names the store has no feed of yet (the poll adds them first)."""
    query = select(func.count()).select_from(Feed).where(Feed.active.is_(True), Feed.first_success_at.is_(None))
    if now is not None:
        query = query.where(or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))
    if names is not None:
        query = query.where(Feed.name.in_(list(names)))
    missing = set(new) - set(session.scalars(select(Feed.name))) if new else set()
    return (session.scalar(query) or 0) + len(missing)


def items_stored(session: Session) -> int:
    """The highest item id: what has been stored so far (cheap on any size of store)."""
    return session.scalar(select(func.max(Item.id))) or 0
