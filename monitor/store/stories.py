"""Stories for the web view: the matched dedupe clusters, newest first, paged in SQL (an archive
of a million articles is never read whole), with every copy of each story on the page.

A story is listed under the watches that matched one of its copies, less the watches a reader
took it out of (``feedback.not_relevant``). Reprints of a seed are not stories.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from . import digests
from .chunks import chunked
from .items import ItemView, item_views
from .models import Duplicate, Feed, Item, Match, StoryFeedback, Watch

PER_PAGE = 25


@dataclass(frozen=True)
class StoryFilter:
    watch: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outlet: str | None = None
    page: int = 1
    per_page: int = PER_PAGE


@dataclass
class Copy:
    item: ItemView
    method: str | None  # how dedupe linked it to the story (None: the first-seen article)
    similarity: float | None


@dataclass
class Story:
    root: int
    shown: ItemView  # the copy to show (not a content farm's, earliest published)
    hits: dict[str, list]  # watch name → hits of the shown copy (or of the copy that matched)
    copies: list[Copy] = field(default_factory=list)
    hidden_from: list[str] = field(default_factory=list)  # watches a reader took it out of


def _root():
    return func.coalesce(Duplicate.duplicate_of_id, Match.item_id)


def _matched(flt: StoryFilter):
    """(root, item, watch) rows of the visible matches that pass the filter."""
    root = _root()
    stmt = (select(root.label("root"), Match.item_id, Match.watch_id, Item.published_at)
            .join(Item, Item.id == Match.item_id).outerjoin(Duplicate, Duplicate.item_id == Match.item_id)
            .where(Item.seed_file.is_(None),
                   ~exists().where(StoryFeedback.item_id == root, StoryFeedback.watch_id == Match.watch_id)))
    if flt.watch is not None:
        stmt = stmt.join(Watch, Watch.id == Match.watch_id).where(Watch.name == flt.watch)
    if flt.since is not None:
        stmt = stmt.where(Item.published_at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(Item.published_at < flt.until)
    if flt.outlet:
        stmt = stmt.outerjoin(Feed, Feed.id == Item.feed_id).where(
            Item.source.contains(flt.outlet, autoescape=True) | Feed.name.contains(flt.outlet, autoescape=True))
    return stmt.subquery()


def page(session: Session, flt: StoryFilter) -> tuple[list[Story], int]:
    """One page of stories, newest first (by their latest matching copy), and the total count."""
    m = _matched(flt)
    grouped = select(m.c.root, func.max(m.c.published_at).label("last")).group_by(m.c.root).subquery()
    total = session.scalar(select(func.count()).select_from(grouped)) or 0
    offset = max(flt.page - 1, 0) * flt.per_page
    roots = list(session.scalars(select(grouped.c.root).order_by(grouped.c.last.desc(), grouped.c.root.desc())
                                 .limit(flt.per_page).offset(offset)))
    return stories(session, roots), total


def stories(session: Session, roots: Sequence[int]) -> list[Story]:
    """The stories of these roots, in this order, with all their copies and their matches."""
    if not roots:
        return []
    members = digests.members(session, roots)
    all_ids = [i for ms in members.values() for i in ms]
    views = item_views(session, all_ids)
    links = _links(session, all_ids)
    matches = _matches(session, all_ids)
    hidden = _hidden_names(session, roots)
    order = digests.representative_order(session, all_ids)
    out = []
    for root in roots:
        ids = [i for i in members[root] if i in views]
        matched = [i for i in ids if matches.get(i)]
        shown = min(matched or ids, key=order.__getitem__)
        hits = {name: h for name, h in matches.get(shown, {}).items()}
        for i in matched:
            for name, h in matches[i].items():
                hits.setdefault(name, h if i == shown else [])
        for name in hidden.get(root, ()):
            hits.pop(name, None)
        copies = [Copy(views[i], *links.get(i, (None, None))) for i in sorted(ids, key=order.__getitem__)]
        out.append(Story(root, views[shown], hits, copies, sorted(hidden.get(root, ()))))
    return out


def _links(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, float]]:
    out: dict[int, tuple[str, float]] = {}
    for chunk in chunked(sorted(set(ids))):
        for item_id, method, sim in session.execute(
                select(Duplicate.item_id, Duplicate.method, Duplicate.similarity).where(Duplicate.item_id.in_(chunk))):
            out[item_id] = (method, sim)
    return out


def _matches(session: Session, ids: Sequence[int]) -> dict[int, dict[str, list]]:
    out: dict[int, dict[str, list]] = {}
    for chunk in chunked(sorted(set(ids))):
        stmt = (select(Match.item_id, Watch.name, Match.hits).join(Watch, Watch.id == Match.watch_id)
                .where(Match.item_id.in_(chunk)).order_by(Watch.name))
        for item_id, name, hits in session.execute(stmt):
            out.setdefault(item_id, {})[name] = hits or []
    return out


def _hidden_names(session: Session, roots: Sequence[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for chunk in chunked(sorted(set(roots))):
        stmt = (select(StoryFeedback.item_id, Watch.name).join(Watch, Watch.id == StoryFeedback.watch_id)
                .where(StoryFeedback.item_id.in_(chunk)))
        for root, name in session.execute(stmt):
            out.setdefault(root, set()).add(name)
    return out


def story_of(session: Session, item_id: int) -> Story | None:
    """The story an article belongs to (whether or not it matched a watch)."""
    if session.get(Item, item_id) is None:
        return None
    root = session.scalar(select(Duplicate.duplicate_of_id).where(Duplicate.item_id == item_id)) or item_id
    found = stories(session, [root])
    return found[0] if found else None


def root_map(session: Session, ids: Sequence[int]) -> dict[int, int]:
    """article → the root of its story."""
    links: dict[int, int] = {i: i for i in ids}
    for chunk in chunked(sorted(set(ids))):
        links.update(session.execute(select(Duplicate.item_id, Duplicate.duplicate_of_id)
                                     .where(Duplicate.item_id.in_(chunk))).all())
    return links


def daily(session: Session, watch_id: int | None, tz: tzinfo, today: date, days: int) -> dict[date, int]:
    """Stories per local day, oldest first, over ``days`` days ending ``today``: the one count of the
    digest's chart, the web view's watch page and ``monitor status`` (a story counts once per watch,
    on the day its first matching copy in the window was published; reprints do not count)."""
    window = [today - timedelta(days=i) for i in range(days - 1, -1, -1)]
    counts = dict.fromkeys(window, 0)
    if watch_id is None:
        return counts
    start = datetime.combine(window[0], time.min, tz).astimezone(UTC)
    for published in per_day(session, watch_id, start):
        day = published.astimezone(tz).date()
        if day in counts:
            counts[day] += 1
    return counts


def per_day(session: Session, watch_id: int, since: datetime) -> list[datetime]:
    """Published times of the watch's visible stories since ``since`` (a story counts once)."""
    m = _matched(StoryFilter(since=since))
    stmt = (select(func.min(m.c.published_at)).where(m.c.watch_id == watch_id).group_by(m.c.root))
    return list(session.scalars(stmt))


def outlets(session: Session, limit: int = 200) -> list[str]:
    """Outlets seen, most frequent first: the choices of the outlet filter."""
    stmt = (select(Item.source, func.count()).where(Item.source.is_not(None), Item.seed_file.is_(None))
            .group_by(Item.source).order_by(func.count().desc()).limit(limit))
    return [str(s) for s, _ in session.execute(stmt)]
