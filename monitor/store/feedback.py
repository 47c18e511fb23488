"""What readers said, kept so that it sticks: a story is not relevant to a watch, an article is
(or is not) the same story as another, a recipient muted a watch or unsubscribed.

Every verdict records who gave it and when, so ``monitor explain`` and the story page can say
so. Cluster verdicts change the dedupe links at once and are applied again whenever an article
is decided anew (``overrides``), so a later check cannot undo them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from .chunks import chunked
from .models import ClusterFeedback, Duplicate, RecipientPref, StoryFeedback, Watch

NOT_RELEVANT = "not_relevant"
EVERYTHING = "*"  # the scope of an unsubscribe


@dataclass(frozen=True)
class Verdict:
    watch: str
    by: str
    at: datetime


def root_of(session: Session, item_id: int) -> int:
    return session.scalar(select(Duplicate.duplicate_of_id).where(Duplicate.item_id == item_id)) or item_id


def not_relevant(session: Session, item_id: int, watch_id: int, by: str, now: datetime) -> None:
    """The story ``item_id`` belongs to leaves watch ``watch_id``. Idempotent."""
    root = root_of(session, item_id)
    exists = session.scalar(select(StoryFeedback.id).where(StoryFeedback.item_id == root,
                                                           StoryFeedback.watch_id == watch_id))
    if exists is None:
        session.add(StoryFeedback(item_id=root, watch_id=watch_id, verdict=NOT_RELEVANT, decided_by=by,
                                  decided_at=now))
        session.flush()


def relevant_again(session: Session, item_id: int, watch_id: int) -> None:
    session.execute(delete(StoryFeedback).where(StoryFeedback.item_id == root_of(session, item_id),
                                                StoryFeedback.watch_id == watch_id))


def hidden(session: Session, roots: Sequence[int]) -> dict[int, set[int]]:
    """root → ids of the watches a reader took the story out of."""
    out: dict[int, set[int]] = {}
    for chunk in chunked(sorted(set(roots))):
        for root, wid in session.execute(select(StoryFeedback.item_id, StoryFeedback.watch_id)
                                         .where(StoryFeedback.item_id.in_(chunk))):
            out.setdefault(root, set()).add(wid)
    return out


def verdicts(session: Session, item_id: int) -> list[Verdict]:
    """Who took this article's story out of which watch, and when."""
    stmt = (select(Watch.name, StoryFeedback.decided_by, StoryFeedback.decided_at)
            .join(Watch, Watch.id == StoryFeedback.watch_id)
            .where(StoryFeedback.item_id == root_of(session, item_id)).order_by(StoryFeedback.decided_at))
    return [Verdict(*row) for row in session.execute(stmt)]


# ---------------------------------------------------------------------------------------------
# Same story, or not


def not_same(session: Session, item_id: int, by: str, now: datetime) -> int | None:
    """Take ``item_id`` out of its story: it becomes a story of its own. Returns the old root."""
    root = root_of(session, item_id)
    if root == item_id:
        return None
    session.execute(delete(Duplicate).where(Duplicate.item_id == item_id))
    _record(session, item_id, root, False, by, now)
    return root


def same(session: Session, item_id: int, other_id: int, by: str, now: datetime) -> int:
    """``item_id``'s story and ``other_id``'s are one: the later-seen story's articles join the
    earlier one's. Returns the root they share."""
    a, b = root_of(session, item_id), root_of(session, other_id)
    _record(session, item_id, other_id, True, by, now)
    if a == b:
        return a
    keep, moved = min(a, b), max(a, b)
    session.execute(update(Duplicate).where(Duplicate.duplicate_of_id == moved).values(duplicate_of_id=keep))
    session.execute(delete(Duplicate).where(Duplicate.item_id == moved))
    session.add(Duplicate(item_id=moved, duplicate_of_id=keep, similarity=1.0, method="reader", decided_at=now))
    session.flush()
    return keep


def _record(session: Session, item_id: int, other_id: int, is_same: bool, by: str, now: datetime) -> None:
    session.execute(delete(ClusterFeedback).where(
        or_((ClusterFeedback.item_id == item_id) & (ClusterFeedback.other_id == other_id),
            (ClusterFeedback.item_id == other_id) & (ClusterFeedback.other_id == item_id))))
    session.add(ClusterFeedback(item_id=item_id, other_id=other_id, same=is_same, decided_by=by, decided_at=now))
    session.flush()


def overrides(session: Session, item_ids: Sequence[int]) -> dict[int, tuple[bool, int]]:
    """item → (same, other) for the items a reader judged: what a fresh dedupe decision of them
    must give way to."""
    out: dict[int, tuple[bool, int]] = {}
    for chunk in chunked(sorted(set(item_ids))):
        rows = session.execute(select(ClusterFeedback.item_id, ClusterFeedback.other_id, ClusterFeedback.same)
                               .where(or_(ClusterFeedback.item_id.in_(chunk), ClusterFeedback.other_id.in_(chunk))))
        wanted = set(chunk)
        for a, b, is_same in rows:
            if a in wanted:
                out[a] = (is_same, b)
            if b in wanted:
                out[b] = (is_same, a)
    return out


# ---------------------------------------------------------------------------------------------
# Recipients


def mute(session: Session, recipient: str, scope: str, now: datetime) -> None:
    """``scope``: a watch's name, or EVERYTHING. Idempotent."""
    recipient = recipient.strip().lower()
    if session.scalar(select(RecipientPref.id).where(RecipientPref.recipient == recipient,
                                                     RecipientPref.scope == scope)) is None:
        session.add(RecipientPref(recipient=recipient, scope=scope, decided_at=now))
        session.flush()


def unmute(session: Session, recipient: str, scope: str) -> None:
    session.execute(delete(RecipientPref).where(RecipientPref.recipient == recipient.strip().lower(),
                                                RecipientPref.scope == scope))


def prefs(session: Session) -> dict[str, set[str]]:
    """recipient → the scopes they left (watch names, or EVERYTHING)."""
    out: dict[str, set[str]] = {}
    for recipient, scope in session.execute(select(RecipientPref.recipient, RecipientPref.scope)):
        out.setdefault(recipient, set()).add(scope)
    return out
