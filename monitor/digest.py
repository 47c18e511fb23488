"""What a digest or an alert carries, decided from database rows alone.

A recipient list gets every matched, non-duplicate story it has not had yet, however long ago the
last digest was: "not had yet" is a look-up in ``delivery_items``, not a time window, so a daemon
that was down for three days catches up in one email and a retried send cannot skip or repeat.
A story is a dedupe cluster (the first-seen article and the reprints linked to it): it is shown
once, by its first-seen article when that one matched, and counts the other outlets that carried it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from .cron import cron_trigger
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from .config import Config, WatchConfig
from .render import TITLE_MAX
from .models import Delivery, DeliveryItem, Duplicate, Feed, Item, Match, Watch

SNIPPET = 90  # characters either side of the first hit
CHART_DAYS = 7
FAILING_AFTER = timedelta(hours=24)
ALERT_WINDOW = timedelta(days=2)  # an alert is news: older items found by a rematch go to the digest only


@dataclass
class ChartDay:
    label: str  # 11-23
    count: int
    height: int  # px, 0..CHART_HEIGHT


@dataclass
class DigestItem:
    id: int
    title: list  # [(text, highlighted)]
    url: str | None
    source: str
    published: datetime
    snippet: list  # [(text, highlighted)]
    also: list[str] = field(default_factory=list)  # other outlets that carried the story
    other_watches: list[str] = field(default_factory=list)


@dataclass
class Section:
    watch: str
    query: str
    items: list[DigestItem]  # listed, newest first
    chart: list[ChartDay]
    watch_id: int | None = None
    unlisted: list[int] = field(default_factory=list)  # older stories past max_items: counted, carried
    unlisted_since: datetime | None = None  # the oldest of them, for the command that lists them

    @property
    def total(self) -> int:
        return len(self.items) + len(self.unlisted)


@dataclass
class FailingFeed:
    name: str
    url: str
    since: datetime | None
    error: str


@dataclass
class Digest:
    kind: str  # digest | alert
    recipients: list[str]
    period: str  # the unique key with kind and recipients
    label: str  # what the reader sees: the date, or the poll time
    generated: datetime
    sections: list[Section]
    catch_up: str | None = None
    failing: list[FailingFeed] = field(default_factory=list)
    config_path: str = ""
    full_items: int = 25  # per watch; the rest as a list of linked titles
    max_items: int = 200  # listed per watch; older ones counted (Section.unlisted)

    @property
    def count(self) -> int:
        return sum(s.total for s in self.sections)

    @property
    def carried(self) -> list[tuple[int, int | None]]:
        """(item, watch) rows for ``delivery_items``: what this recipient list now has had,
        the stories past max_items included (the email counts them and says how to list them)."""
        seen: dict[int, int | None] = {}
        for s in self.sections:
            for i in [it.id for it in s.items] + s.unlisted:
                seen.setdefault(i, s.watch_id)
        return list(seen.items())


def recipients_key(addresses: list[str]) -> str:
    return ",".join(sorted({a.strip().lower() for a in addresses}))


def groups(config: Config, kind: str) -> dict[str, list[WatchConfig]]:
    """Watches per recipient list: one email per list. Digest: watches with ``alert: digest`` or
    ``digest: true``; alert: watches with ``alert: immediate``."""
    out: dict[str, list[WatchConfig]] = {}
    for w in config.watches:
        wanted = w.in_digest if kind == "digest" else w.alert == "immediate"
        if wanted:
            out.setdefault(recipients_key(list(w.recipients or config.digest.recipients)), []).append(w)
    return out


def latest_period(config: Config, now: datetime) -> datetime | None:
    """The most recent scheduled digest time at or before ``now`` (within a year). Looks back in
    growing windows so that a per-minute and a yearly schedule both take a few steps."""
    trigger = cron_trigger(config.digest.schedule, config.tz)
    for window in (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=367)):
        t = trigger.get_next_fire_time(None, now - window)
        if t is None or t > now:
            continue
        last = t
        for _ in range(100_000):  # bounded: at most one window's worth of fire times
            t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
            if t is None or t > now:
                return last
            last = t
        return last
    return None


def period_key(fire: datetime) -> str:
    return fire.isoformat(timespec="minutes")


def build(session: Session, config: Config, kind: str, recipients: str, watches: list[WatchConfig],
          *, now: datetime, period: str, label: str, config_path: str = "") -> Digest:
    names = [w.name for w in watches]
    ids = dict(session.execute(select(Watch.name, Watch.id).where(Watch.name.in_(names))).all())
    order = [ids[n] for n in names if n in ids]
    stories = _undelivered(session, kind, recipients, order, now)
    # Each story goes under the first of its watches in config order; only the newest max_items
    # of a section are loaded and listed, so a broad watch or a long outage cannot make one email
    # (and the daemon's memory while composing it) grow without bound.
    published = _published(session, [rep for rep, _ in stories.values()])
    by_watch: dict[int, list[int]] = defaultdict(list)
    for root, (rep, hits) in stories.items():
        by_watch[next(w for w in order if w in hits)].append(root)
    limit = config.digest.max_items
    listed: dict[int, list[int]] = {}
    for wid, roots in by_watch.items():
        roots.sort(key=lambda r: (published[stories[r][0]], stories[r][0]), reverse=True)
        listed[wid] = roots[:limit]
    shown = {r: stories[r] for roots in listed.values() for r in roots}
    items = _load(session, {rep for rep, _ in shown.values()})
    also = _also_reported(session, shown)
    id_to_name = {v: k for k, v in ids.items()}
    sections = []
    for w in watches:
        wid = ids.get(w.name)
        rows = []
        for root in listed.get(wid, []):
            rep, hits = stories[root]
            it = items[rep]
            rows.append(DigestItem(
                id=rep, title=_segments(_cut_title(it.title), hits[wid], "title"), url=it.url,
                source=_source(it, items), published=it.published_at,
                snippet=_snippet(it, hits[wid]), also=also.get(root, []),
                other_watches=[id_to_name[o] for o in hits if o != wid],
            ))
        unlisted = [stories[r][0] for r in by_watch.get(wid, [])[limit:]]
        sections.append(Section(w.name, w.query or " OR ".join(w.keywords or []), rows,
                                _chart(session, wid, config, now) if kind == "digest" else [], wid, unlisted,
                                min((published[i] for i in unlisted), default=None)))
    digest = Digest(kind, recipients.split(","), period, label, now, sections, config_path=config_path,
                    full_items=config.digest.full_items, max_items=config.digest.max_items)
    if kind == "digest":
        digest.catch_up = _catch_up(session, config, recipients, now)
        digest.failing = failing_feeds(session, now)
    return digest


def _undelivered(session: Session, kind: str, recipients: str, watch_ids: list[int],
                 now: datetime) -> dict[int, tuple[int, dict[int, list]]]:
    """story root → (item to show, {watch id: hits}) for stories this list has not had."""
    if not watch_ids:
        return {}
    had = (
        select(DeliveryItem.item_id)
        .join(Delivery, Delivery.id == DeliveryItem.delivery_id)
        .where(DeliveryItem.recipients == recipients, Delivery.kind == kind)
    )
    stmt = (
        select(Match.item_id, Match.watch_id, Match.hits, Duplicate.duplicate_of_id)
        .join(Item, Item.id == Match.item_id)
        .outerjoin(Duplicate, Duplicate.item_id == Match.item_id)
        .where(Match.watch_id.in_(watch_ids), Item.seed_file.is_(None), Match.item_id.not_in(had))
        .order_by(Match.item_id)
    )
    if kind == "alert":
        stmt = stmt.where(Item.fetched_at >= now - ALERT_WINDOW)
    by_story: dict[int, dict[int, dict[int, list]]] = defaultdict(lambda: defaultdict(dict))
    for item_id, watch_id, hits, dup_of in session.execute(stmt):
        by_story[dup_of or item_id][item_id][watch_id] = hits or []
    if not by_story:
        return {}
    roots = list(by_story)
    seeds = set(session.scalars(select(Item.id).where(Item.id.in_(roots), Item.seed_file.is_not(None))))
    members = _members(session, roots)
    root_of = {m: root for root, ms in members.items() for m in ms}
    delivered_roots = set()
    for chunk in _chunks(list(root_of), 500):
        for (item_id,) in session.execute(had.where(DeliveryItem.item_id.in_(chunk))):
            delivered_roots.add(root_of[item_id])
    out = {}
    for root, matched in by_story.items():
        if root in seeds or root in delivered_roots:
            continue  # a reprint of a seed, or of a story this list already had
        rep = root if root in matched else min(matched)
        out[root] = (rep, matched[rep])
    return out


def _members(session: Session, roots: list[int]) -> dict[int, list[int]]:
    out = {r: [r] for r in roots}
    for chunk in _chunks(roots, 500):
        for item_id, root in session.execute(
            select(Duplicate.item_id, Duplicate.duplicate_of_id).where(Duplicate.duplicate_of_id.in_(chunk))
        ):
            out[root].append(item_id)
    return out


def _chunks(seq: list, n: int):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _published(session: Session, ids: list[int]) -> dict[int, datetime]:
    out = {}
    for chunk in _chunks(sorted(ids), 500):
        out.update(session.execute(select(Item.id, Item.published_at).where(Item.id.in_(chunk))).all())
    return out


def _load(session: Session, ids: set[int]) -> dict[int, Item]:
    out = {}
    for chunk in _chunks(sorted(ids), 500):
        for it in session.scalars(select(Item).where(Item.id.in_(chunk))):
            out[it.id] = it
    feeds = dict(session.execute(select(Feed.id, Feed.name)).all())
    for it in out.values():
        it.feed_name = feeds.get(it.feed_id)  # for _source
    return out


def _source(it: Item, _items) -> str:
    return it.source or (urlsplit(it.url).hostname if it.url else None) or getattr(it, "feed_name", None) or "?"


def _also_reported(session: Session, stories: dict) -> dict[int, list[str]]:
    """Other outlets carrying each story: the distinct sources of its cluster, the shown one excluded."""
    if not stories:
        return {}
    roots = list(stories)
    members = _members(session, roots)
    ids = [m for ms in members.values() for m in ms]
    items = _load(session, set(ids))
    out = {}
    for root, (rep, _) in stories.items():
        own = _source(items[rep], items)
        names = []
        for m in members[root]:
            s = _source(items[m], items)
            if m != rep and s != own and s not in names:
                names.append(s)
        out[root] = names
    return out


def _segments(text: str, hits: list, fld: str) -> list:
    spans = sorted((h["start"], h["end"]) for h in hits if h.get("field") == fld)
    out, pos = [], 0
    for s, e in spans:
        if s < pos or e > len(text):
            continue  # overlapping hit, or past a cut
        if s > pos:
            out.append((text[pos:s], False))
        out.append((text[s:e], True))
        pos = e
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def _cut_title(title: str) -> str:
    # Offsets of hits stay valid for the kept prefix; CR/LF never reach a subject or a line.
    title = title.replace("\r", " ").replace("\n", " ")
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


def _snippet(it: Item, hits: list) -> list:
    """Text around the first hit in the body (summary, else content), with every hit inside it marked."""
    for fld in ("summary", "content"):
        text = getattr(it, fld) or ""
        spans = sorted((h["start"], h["end"]) for h in hits if h.get("field") == fld)
        if spans:
            start = max(0, spans[0][0] - SNIPPET)
            end = min(len(text), spans[0][1] + SNIPPET)
            inner = [dict(h, start=h["start"] - start, end=h["end"] - start) for h in hits
                     if h.get("field") == fld and h["start"] >= start and h["end"] <= end]
            segs = _segments(" ".join(text[start:end].split("\n")), inner, fld)
            if start > 0:
                segs.insert(0, ("…", False))
            if end < len(text):
                segs.append(("…", False))
            return segs
    body = " ".join(((it.summary or it.content or "")[: 2 * SNIPPET]).split())
    return [(body + ("…" if len(it.summary or it.content or "") > 2 * SNIPPET else ""), False)] if body else []


CHART_HEIGHT = 36


def _chart(session: Session, watch_id: int | None, config: Config, now: datetime) -> list[ChartDay]:
    """Matched stories per local day over the last week (reprints not counted)."""
    today = now.astimezone(config.tz).date()
    days = [today - timedelta(days=i) for i in range(CHART_DAYS - 1, -1, -1)]
    counts = dict.fromkeys(days, 0)
    if watch_id is not None:
        start = datetime.combine(days[0], datetime.min.time(), config.tz).astimezone(timezone.utc)
        rows = session.scalars(
            select(Item.published_at).join(Match, Match.item_id == Item.id)
            .where(Match.watch_id == watch_id, Item.published_at >= start, Item.seed_file.is_(None),
                   ~exists().where(Duplicate.item_id == Item.id))
        )
        for published in rows:
            d = published.astimezone(config.tz).date()
            if d in counts:
                counts[d] += 1
    top = max(counts.values()) or 1
    return [ChartDay(d.strftime("%m-%d"), c, round(CHART_HEIGHT * c / top)) for d, c in counts.items()]


def _catch_up(session: Session, config: Config, recipients: str, now: datetime) -> str | None:
    """Say so when scheduled digests were missed since this list's last one (daemon down)."""
    last = session.scalar(
        select(func.max(Delivery.created_at)).where(Delivery.kind == "digest", Delivery.recipients == recipients)
    )
    if last is None:
        return None
    trigger = cron_trigger(config.digest.schedule, config.tz)
    missed, t = 0, trigger.get_next_fire_time(None, last + timedelta(seconds=1))
    current = latest_period(config, now)
    while t is not None and current is not None and t < current and missed < 10_000:
        missed += 1
        t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
    if not missed:
        return None
    since = last.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
    return f"Catching up: {missed} scheduled digest(s) were not sent; this one covers everything since {since}."


def failing_feeds(session: Session, now: datetime) -> list[FailingFeed]:
    cutoff = now - FAILING_AFTER
    rows = session.scalars(
        select(Feed).where(
            Feed.active.is_(True), Feed.consecutive_failures > 0,
            or_(Feed.last_success_at < cutoff, and_(Feed.last_success_at.is_(None), Feed.created_at < cutoff)),
        ).order_by(Feed.name)
    )
    return [FailingFeed(f.name, f.url, f.last_success_at, f.last_error or "") for f in rows]
