"""What a digest or an alert says: sections per watch of undelivered stories (from
``store.digests``), with snippets, highlights, the other outlets, a chart and the failing feeds,
as plain dataclasses for the templates.

A story counts once per watch it matches, everywhere (header, chart, sections, ``status``): it is
shown in full under the first of its watches in config order, and as a linked title pointing back
there in the sections of its other watches. It is shown by its representative copy and names the
other outlets that carried it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from ..config import Config, WatchConfig
from ..config.schedule import missed_periods
from ..store import Session, digests, feeds
from ..store.deliveries import last_digest_created, undeliverable
from ..store.feedback import EVERYTHING
from ..store.items import ItemView, item_views
from ..store.stories import daily
from ..text.headlines import display_title
from ..watch.query import query_text
from .channels import display
from .render import TITLE_MAX

SNIPPET = 90  # characters either side of the first hit
CHART_DAYS = 7
CHART_HEIGHT = 36
FAILING_AFTER = timedelta(hours=24)
UNDELIVERABLE_SHOWN = timedelta(days=7)  # emails refused for good are listed in digests this long
ALERT_WINDOW = timedelta(days=2)  # an alert is news: older items found by a rematch go to the digest only

Kind = Literal["digest", "alert"]
Segments = list[tuple[str, bool]]  # text, highlighted


@dataclass
class ChartDay:
    label: str  # 11-23
    count: int
    height: int  # px, 0..CHART_HEIGHT


@dataclass(frozen=True)
class Outlet:
    """Another outlet's copy of a story: its name, and its own link."""

    name: str
    url: str | None


@dataclass
class DigestItem:
    id: int
    title: Segments
    url: str | None
    source: str
    published: datetime
    snippet: Segments
    also: list[Outlet] = field(default_factory=list)  # other outlets that carried the story
    other_watches: list[str] = field(default_factory=list)
    story: int = 0  # the story's root: its page in the web view, and what feedback is about
    above: str | None = None  # shown in full in this earlier watch's section: a title line here


@dataclass
class Section:
    watch: str
    query: str
    items: list[DigestItem]  # listed: this watch's own stories newest first, then those shown above
    chart: list[ChartDay]
    watch_id: int | None = None
    unlisted: list[int] = field(default_factory=list)  # older stories past max_items: counted, carried
    full: int = 0  # the first ``full`` items are shown in full, the rest as linked titles

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
class Undeliverable:
    recipients: str
    subject: str
    error: str
    created: datetime


@dataclass(frozen=True)
class CatchUp:
    """Scheduled digests were missed (the daemon was down): this one covers them all."""

    missed: int
    since: str  # local time of the last digest


@dataclass
class Digest:
    kind: Kind
    recipients: list[str]
    period: str  # the unique key with kind and recipients
    label: str  # what the reader sees: the date, or the poll time
    generated: datetime
    sections: list[Section]
    catch_up: CatchUp | None = None
    failing: list[FailingFeed] = field(default_factory=list)
    undeliverable: list[Undeliverable] = field(default_factory=list)
    full_items: int = 25  # per watch; the rest as a list of linked titles
    max_items: int = 200  # listed per watch; older ones counted (Section.unlisted)

    @property
    def count(self) -> int:
        """Distinct stories (the header's and the subject's number; the sections count per watch)."""
        return len({i for s in self.sections for i in [it.id for it in s.items] + s.unlisted})

    @property
    def carried(self) -> list[tuple[int, int | None]]:
        """(item, watch) rows for ``delivery_items``: what this recipient list now has had,
        the stories past max_items included (the email counts them and says how to list them)."""
        seen: dict[int, int | None] = {}
        for s in self.sections:
            for i in [it.id for it in s.items] + s.unlisted:
                seen.setdefault(i, s.watch_id)
        return list(seen.items())


KEEP_FULL = 3  # stories an over-long email keeps in full while it still has titles to cut


def shrink_stage(digest: Digest) -> tuple[str, int]:
    """What to cut next and how many of it there are: stories in full (down to ``KEEP_FULL``), then
    linked titles, then the last full stories."""
    full = sum(s.full for s in digest.sections)
    titles = sum(len(s.items) - s.full for s in digest.sections)
    if full > KEEP_FULL or (full and not titles):
        return "full", full - KEEP_FULL if titles else full
    return "title", titles


def shrink(digest: Digest, n: int) -> tuple[int, str]:
    """Cut ``n`` steps off the email, least news first, from the longest section: the oldest stories
    shown in full become linked titles, the oldest titles a count (still carried, so not mailed
    again, and listed in the web view). (steps taken, stage): the stage tells the caller when the
    size of a step changes."""
    stage, pool = shrink_stage(digest)
    for _ in range(min(pool, n)):
        if stage == "full":
            max(digest.sections, key=lambda s: s.full).full -= 1
        else:
            s = max(digest.sections, key=lambda s: len(s.items) - s.full)
            s.unlisted.append(s.items.pop().id)
    return min(pool, n), stage


def groups(config: Config, kind: Kind, left: dict[str, set[str]] | None = None,
           schedule: str | None = None) -> dict[str, list[WatchConfig]]:
    """Watches per person: one email per person, whatever lists the config names them on
    (digest: watches with ``alert: digest`` or ``digest: true``; alert: ``alert: immediate``).
    ``left``: person → watch names they muted, or ``*`` for an unsubscribe. A chat channel
    (``notify:``, an Apprise URL) is an address like a person's. ``schedule``: only the watches whose
    digest goes out on it."""
    left = left or {}
    out: dict[str, list[WatchConfig]] = {}
    for w in config.watches:
        if not (w.in_digest if kind == "digest" else w.alert == "immediate"):
            continue
        if schedule is not None and config.schedule_of(w) != schedule:
            continue
        people = [a.strip().lower() for a in config.people_of(w)]
        for address in dict.fromkeys(people + config.channels_of(w)):
            gone = left.get(address, set())
            if EVERYTHING not in gone and w.name not in gone:
                out.setdefault(address, []).append(w)
    return out


def build(session: Session, config: Config, kind: Kind, recipients: str, watches: list[WatchConfig],
          *, now: datetime, period: str, label: str, schedule: str | None = None) -> Digest:
    ids = digests.watch_ids(session, [w.name for w in watches])
    order = [ids[w.name] for w in watches if w.name in ids]
    stories = digests.undelivered(session, kind, recipients, order,
                                  fetched_since=now - ALERT_WINDOW if kind == "alert" else None)
    listed, unlisted = _by_watch(session, stories, order, config.digest.max_items)
    shown = [stories[r] for roots in listed.values() for r in roots]
    views = item_views(session, [s.shown for s in shown])
    also = _also_reported(session, {s.root: s.shown for s in shown})
    names = {v: k for k, v in ids.items()}
    sections = []
    first: dict[int, str] = {}  # root → the watch it is shown under in full
    for w in watches:
        wid = ids.get(w.name)
        rows = [_item(views[stories[r].shown], stories[r].hits, wid, also.get(r, []), names, r)
                for r in listed.get(wid, [])] if wid is not None else []
        for row in rows:
            shown_in = first.setdefault(row.story, w.name)
            row.above = shown_in if shown_in != w.name else None
        rows.sort(key=lambda row: row.above is not None)  # stable: each part stays newest first
        full = min(config.digest.full_items, sum(row.above is None for row in rows))
        rest = unlisted.get(wid, []) if wid is not None else []
        chart = _chart(session, wid, config, now) if kind == "digest" else []
        sections.append(Section(w.name, query_text(w), rows, chart, wid, rest, full))
    digest = Digest(kind, recipients.split(","), period, label, now, sections,
                    full_items=config.digest.full_items, max_items=config.digest.max_items)
    if kind == "digest":
        digest.catch_up = _catch_up(session, schedule or config.digest.schedule, config, recipients, now)
        digest.failing = failing_feeds(session, now)
        digest.undeliverable = [Undeliverable(display(d.recipients), d.subject, d.last_error or "", d.created_at)
                                for d in undeliverable(session, now - UNDELIVERABLE_SHOWN)]
    return digest


def _by_watch(session: Session, stories: dict[int, digests.Story], order: list[int],
              limit: int) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Stories per watch (each under every watch it matches), newest first: the listed roots and
    the shown ids past ``limit``. Only listed stories are loaded, so a broad watch or a long outage
    cannot make one email (and the memory it takes to compose) grow without bound."""
    published = digests.published(session, [s.shown for s in stories.values()])
    by_watch: dict[int, list[int]] = defaultdict(list)
    for root, story in stories.items():
        for w in order:
            if w in story.hits:
                by_watch[w].append(root)
    listed, unlisted = {}, {}
    for wid, roots in by_watch.items():
        roots.sort(key=lambda r: (published[stories[r].shown], stories[r].shown), reverse=True)
        listed[wid] = roots[:limit]
        unlisted[wid] = [stories[r].shown for r in roots[limit:]]
    return listed, unlisted


def _item(it: ItemView, hits: dict[int, list], wid: int, also: list[Outlet], names: dict[int, str],
          root: int) -> DigestItem:
    return DigestItem(id=it.id, title=title_segments(it, hits[wid]), url=it.url,
                      source=source_of(it), published=it.published, snippet=snippet(it, hits[wid]),
                      also=also, other_watches=[names[o] for o in hits if o != wid], story=root)


def source_of(it: ItemView) -> str:
    return it.source or (urlsplit(it.url).hostname if it.url else None) or it.feed or "?"


def _also_reported(session: Session, shown: dict[int, int]) -> dict[int, list[Outlet]]:
    """Other outlets carrying each story (root → shown copy): its cluster's distinct sources, each
    with the link to its own copy."""
    if not shown:
        return {}
    members = digests.members(session, list(shown))
    views = item_views(session, [m for ms in members.values() for m in ms])
    out = {}
    for root, rep in shown.items():
        own = source_of(views[rep])
        outlets: dict[str, Outlet] = {}
        for m in members[root]:
            s = source_of(views[m])
            if m != rep and s != own and s not in outlets:
                outlets[s] = Outlet(s, views[m].url)
        out[root] = list(outlets.values())
    return out


def segments(text: str, hits: list, fld: str) -> Segments:
    spans = sorted((h["start"], h["end"]) for h in hits if h.get("field") == fld)
    out: Segments = []
    pos = 0
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


def title_segments(it: ItemView, hits: list) -> Segments:
    """The headline without a farm's lead-in or an appended outlet, hits shifted to match."""
    shown = display_title(it.title, it.source)
    start = it.title.find(shown)
    if start < 0:
        return segments(_cut_title(it.title), hits, "title")
    moved = [dict(h, start=h["start"] - start, end=h["end"] - start) for h in hits
             if h.get("field") == "title" and h["start"] >= start and h["end"] <= start + len(shown)]
    return segments(_cut_title(shown), moved, "title")


def _cut_title(title: str) -> str:
    # Offsets of hits stay valid for the kept prefix; CR/LF never reach a subject or a line.
    title = title.replace("\r", " ").replace("\n", " ")
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


def snippet(it: ItemView, hits: list) -> Segments:
    """Text around the first hit in the body (summary, else content), with every hit inside it marked."""
    for fld in ("summary", "content"):
        text = getattr(it, fld) or ""
        spans = sorted((h["start"], h["end"]) for h in hits if h.get("field") == fld)
        if spans:
            start = max(0, spans[0][0] - SNIPPET)
            end = min(len(text), spans[0][1] + SNIPPET)
            inner = [dict(h, start=h["start"] - start, end=h["end"] - start) for h in hits
                     if h.get("field") == fld and h["start"] >= start and h["end"] <= end]
            segs = segments(" ".join(text[start:end].split("\n")), inner, fld)
            if start > 0:
                segs.insert(0, ("…", False))
            if end < len(text):
                segs.append(("…", False))
            return segs
    body = " ".join(((it.summary or it.content or "")[: 2 * SNIPPET]).split())
    return [(body + ("…" if len(it.summary or it.content or "") > 2 * SNIPPET else ""), False)] if body else []


def _chart(session: Session, watch_id: int | None, config: Config, now: datetime) -> list[ChartDay]:
    """Matched stories per local day over the last week (reprints not counted)."""
    counts = daily(session, watch_id, config.tz, now.astimezone(config.tz).date(), CHART_DAYS)
    top = max(counts.values()) or 1
    return [ChartDay(d.strftime("%m-%d"), c, round(CHART_HEIGHT * c / top)) for d, c in counts.items()]


def _catch_up(session: Session, schedule: str, config: Config, recipients: str, now: datetime) -> CatchUp | None:
    """Say so when scheduled digests were missed since this list's last one (daemon down)."""
    last = last_digest_created(session, recipients)
    if last is None:
        return None
    missed = missed_periods(schedule, config.tz, last, now)
    if not missed:
        return None
    since = last.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
    return CatchUp(missed, since)


def failing_feeds(session: Session, now: datetime) -> list[FailingFeed]:
    return [FailingFeed(f.name, f.url, f.last_success_at, f.last_error or "")
            for f in feeds.feed_views(session, active_only=True) if f.failing_longer_than(FAILING_AFTER, now)]
