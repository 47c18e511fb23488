"""What a digest or an alert carries, read from rows alone.

A recipient list gets every matched, non-duplicate story it has not had yet, however long ago the
last digest was: "not had yet" is a look-up in ``delivery_items``, not a time window, so a daemon
that was down for three days catches up in one email and a retried send cannot skip or repeat.
A story is a dedupe cluster (the first-seen article and the reprints linked to it).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..text.headlines import farm_prefix
from . import feedback
from .chunks import chunked
from .deliveries import lists_of
from .models import Delivery, DeliveryItem, DeliveryKind, Duplicate, Item, Match, Watch

Hits = list  # the JSON hits of a match: [{"term", "field", "start", "end"}]


@dataclass(frozen=True)
class Story:
    root: int  # first-seen article of the cluster
    shown: int  # the copy to show: the earliest published matching copy that is not a farm's
    hits: dict[int, Hits]  # watch id → hits of the shown copy


def watch_ids(session: Session, names: Sequence[str]) -> dict[str, int]:
    return dict(session.execute(select(Watch.name, Watch.id).where(Watch.name.in_(list(names)))).all())


def undelivered(session: Session, kind: DeliveryKind, recipients: str, watches: Sequence[int],
                *, fetched_since: datetime | None = None) -> dict[int, Story]:
    """Stories matched by ``watches`` that this recipient list has not had (in this kind of email;
    for an alert, in any email: what a digest already carried is not news), keyed by root. Reprints
    of a seed, and stories of which any copy was delivered, are left out. ``fetched_since`` bounds
    both when an item was fetched and when it says it was published: an old article found late is
    not an alert."""
    if not watches:
        return {}
    kinds = ["digest"] if kind == "digest" else ["alert", "digest"]
    had = (select(DeliveryItem.item_id).join(Delivery, Delivery.id == DeliveryItem.delivery_id)
           .where(DeliveryItem.recipients.in_(lists_of(session, recipients)), Delivery.kind.in_(kinds)))
    stmt = (select(Match.item_id, Match.watch_id, Match.hits, Duplicate.duplicate_of_id)
            .join(Item, Item.id == Match.item_id).outerjoin(Duplicate, Duplicate.item_id == Match.item_id)
            .where(Match.watch_id.in_(list(watches)), Item.seed_file.is_(None), Item.backlog.is_(False),
                   Match.item_id.not_in(had))
            .order_by(Match.item_id))
    if fetched_since is not None:
        stmt = stmt.where(Item.fetched_at >= fetched_since, Item.published_at >= fetched_since)
    by_story: dict[int, dict[int, dict[int, Hits]]] = defaultdict(lambda: defaultdict(dict))
    for item_id, watch_id, hits, dup_of in session.execute(stmt):
        by_story[dup_of or item_id][item_id][watch_id] = hits or []
    if not by_story:
        return {}
    roots = list(by_story)
    seeds = {i for chunk in chunked(roots) for i in session.scalars(
        select(Item.id).where(Item.id.in_(chunk), Item.seed_file.is_not(None)))}
    root_of = {m: root for root, ms in members(session, roots).items() for m in ms}
    delivered = {root_of[i] for chunk in chunked(list(root_of))
                 for i in session.scalars(had.where(DeliveryItem.item_id.in_(chunk)))}
    order = representative_order(session, [i for matched in by_story.values() for i in matched])
    out = {}
    hidden = feedback.hidden(session, roots)
    for root, matched in by_story.items():
        if root in seeds or root in delivered:
            continue  # a reprint of a seed, or of a story this list already had
        left = {i: hits for i, w in matched.items() if (hits := _visible(w, hidden.get(root, set())))}
        if left:
            shown = min(left, key=order.__getitem__)
            out[root] = Story(root, shown, left[shown])
    return out


def _visible(hits: dict[int, Hits], hidden: set[int]) -> dict[int, Hits]:
    """A copy's matches less the watches a reader took its story out of."""
    return {w: h for w, h in hits.items() if w not in hidden} if hidden else hits


def representative_order(session: Session, ids: Sequence[int]) -> dict[int, tuple]:
    """How copies of a story rank to be its face: not a content farm's, earliest published, first
    stored. Decided when the digest is made, so an earlier copy arriving later takes over."""
    out: dict[int, tuple] = {}
    for chunk in chunked(sorted(set(ids))):
        for item_id, title, published in session.execute(
                select(Item.id, Item.title, Item.published_at).where(Item.id.in_(chunk))):
            out[item_id] = (farm_prefix(title or "") is not None, published, item_id)
    return out


def members(session: Session, roots: Sequence[int]) -> dict[int, list[int]]:
    """Each story's articles, the root first."""
    out = {r: [r] for r in roots}
    for chunk in chunked(list(roots)):
        for item_id, root in session.execute(
                select(Duplicate.item_id, Duplicate.duplicate_of_id).where(Duplicate.duplicate_of_id.in_(chunk))):
            out[root].append(item_id)
    return out


def published(session: Session, ids: Sequence[int]) -> dict[int, datetime]:
    out: dict[int, datetime] = {}
    for chunk in chunked(sorted(ids)):
        out.update(session.execute(select(Item.id, Item.published_at).where(Item.id.in_(chunk))).all())
    return out
