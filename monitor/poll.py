"""One poll: sync feed rows with the config, claim the due feeds, fetch, parse, store.

What is due is a column (``next_poll_at``), computed after every fetch from the interval, the
server's hints (Retry-After, Cache-Control max-age, RSS <ttl>) and back-off; a feed is claimed
with a lease row update so that two daemons never fetch the same feed at once and a crashed
daemon's claim simply expires.
"""
from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Iterator

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from .config import Config
from .feeds import FeedSpec, desired_feeds
from .fetch import FetchRequest, FetchResult, Fetcher, max_age, retry_after
from .models import Feed, Item
from .normalize import content_hash
from .fulltext import fetch_full_text
from .parse import FeedEntry, ParsedFeed, parse_feed
from .pipeline import Pipeline

LEASE = timedelta(minutes=10)


@dataclass
class FeedResult:
    """One feed's outcome; ``as_json`` is the public shape of ``monitor poll --json``."""

    feed: str
    url: str
    status: str  # ok | not_modified | error | skipped
    http_status: int | None = None
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    error: str | None = None
    warning: str | None = None
    matches: int = 0  # (item, watch) matches stored from this poll
    duplicates: int = 0  # new or updated items linked to an earlier article
    new_ids: list[int] = field(default_factory=list)  # for full text
    updated_ids: list[int] = field(default_factory=list)

    def as_json(self) -> dict:
        d = asdict(self)
        for internal in ("new_ids", "updated_ids", "warning", "matches", "duplicates"):  # the documented shape, exactly
            d.pop(internal)
        d["seconds"] = round(self.seconds, 3)
        return d


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------
# Feed rows follow the config


def sync_feeds(sessions: sessionmaker[Session], specs: Iterable[FeedSpec], now: datetime | None = None) -> None:
    """Add new feeds, update changed ones, retire the ones gone from config (history is kept)."""
    now = now or now_utc()
    specs = {s.name: s for s in specs}
    with sessions.begin() as session:
        rows = {f.name: f for f in session.scalars(select(Feed))}
        for name, spec in specs.items():
            row = rows.get(name)
            if row is None:
                session.add(Feed(
                    name=name, kind=spec.kind, url=spec.url, config_url=spec.url, watch_name=spec.watch_name,
                    interval_seconds=int(spec.interval.total_seconds()), encoding=spec.encoding,
                    full_text=spec.full_text, active=True, consecutive_failures=0, next_poll_at=now,
                    created_at=now, updated_at=now,
                ))
                continue
            if row.config_url != spec.url:  # the config changed the URL: it wins over an old redirect
                row.url = row.config_url = spec.url
                row.etag = row.last_modified = None
                row.next_poll_at = now
            row.kind, row.watch_name, row.encoding, row.full_text = spec.kind, spec.watch_name, spec.encoding, spec.full_text
            row.interval_seconds = int(spec.interval.total_seconds())
            if not row.active:
                row.active, row.retired_at, row.next_poll_at = True, None, now
            row.updated_at = now
        for name, row in rows.items():
            if name not in specs and row.active:
                row.active, row.retired_at, row.updated_at = False, now, now


@dataclass(frozen=True)
class Claimed:
    id: int
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    encoding: str | None
    interval: timedelta
    failures: int
    full_text: bool = False
    token: str = ""  # the lease_owner value of this claim


def claim_feeds(
    sessions: sessionmaker[Session], owner: str, *, now: datetime | None = None,
    names: list[str] | None = None, due_only: bool = True,
) -> tuple[list[Claimed], list[tuple[str, str]]]:
    """Claim feeds for this process; also return (name, url) of those another process holds.
    The conditional UPDATE is atomic on SQLite and PostgreSQL."""
    now = now or now_utc()
    with sessions() as session:
        stmt = select(Feed.id).where(Feed.active.is_(True))
        if names:
            stmt = stmt.where(Feed.name.in_(names))
        if due_only:
            stmt = stmt.where(or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))
        candidates = list(session.scalars(stmt.order_by(Feed.next_poll_at, Feed.id)))
    if not candidates:
        return [], []
    # One conditional UPDATE for the whole batch: the WHERE on the lease makes it atomic on SQLite
    # and PostgreSQL alike, and a per-call token tells our rows from rows another process holds.
    token = f"{owner}/{uuid.uuid4().hex[:12]}"
    claimed: list[Claimed] = []
    held: list[tuple[str, str]] = []
    # Due-ness is checked again in the UPDATE: another process may have polled the feed (and
    # released it) between our SELECT and here; PostgreSQL re-evaluates this WHERE on the row it locks.
    still_due = or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now) if due_only else True
    with sessions.begin() as session:
        for chunk in _chunks(candidates, 500):
            session.execute(
                update(Feed)
                .where(Feed.id.in_(chunk), or_(Feed.lease_until.is_(None), Feed.lease_until < now), still_due)
                .values(lease_owner=token, lease_until=now + LEASE)
            )
    with sessions() as session:
        for chunk in _chunks(candidates, 500):
            for f in session.scalars(select(Feed).where(Feed.id.in_(chunk))):
                if f.lease_owner == token:
                    claimed.append(Claimed(f.id, f.name, f.url, f.etag, f.last_modified, f.encoding,
                                           timedelta(seconds=f.interval_seconds), f.consecutive_failures,
                                           f.full_text, token))
                elif f.lease_owner is not None:
                    held.append((f.name, f.url))
                # else: polled by another process since our SELECT; no longer due
    return claimed, held


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def release_feeds(sessions: sessionmaker[Session], claims: list[Claimed]) -> None:
    """Give back claims not worked on (shutdown), so another daemon may take them at once."""
    if not claims:
        return
    with sessions.begin() as session:
        for c in claims:
            session.execute(update(Feed).where(Feed.id == c.id, Feed.lease_owner == c.token)
                            .values(lease_owner=None, lease_until=None))


# ---------------------------------------------------------------------------------------------
# Scheduling arithmetic


def next_poll(
    *, now: datetime, interval: timedelta, cap: timedelta, failures: int = 0,
    hints: Iterable[timedelta | None] = (), retry: timedelta | None = None, rng: random.Random | None = None,
) -> datetime:
    """When to poll next. Server hints only lengthen the interval, and everything is capped."""
    rng = rng or random
    wait = interval
    for hint in hints:
        if hint is not None:
            wait = max(wait, min(hint, cap))
    if failures:
        backoff = interval * (2 ** min(failures - 1, 16))
        # Jitter spreads out feeds that failed together (one host down) so they do not return together.
        wait = min(backoff, cap) * rng.uniform(0.85, 1.15)
    if retry is not None:
        wait = max(wait, min(retry, cap))
    return now + min(wait, cap * 1.15)


# ---------------------------------------------------------------------------------------------
# Storing entries


def store_entries(
    session: Session, feed_id: int, entries: list[FeedEntry], now: datetime
) -> tuple[list[int], list[int], int]:
    """Insert new entries, update changed ones; same GUID in this feed or same canonical URL
    anywhere in the store is the same article.

    Core statements, not ORM objects: a poll of 1,000 feeds touches 50,000 rows, and the unit of
    work's per-object bookkeeping would cost more than parsing them."""
    updated_ids: list[int] = []
    unchanged = 0
    guids = list({e.guid for e in entries if e.guid})
    urls = list({e.canonical_url for e in entries if e.canonical_url})
    cols = (Item.id, Item.guid, Item.canonical_url, Item.title, Item.summary, Item.content)
    by_guid: dict[str, tuple] = {}
    by_url: dict[str, tuple] = {}
    if guids:
        for row in session.execute(select(*cols).where(Item.feed_id == feed_id, Item.guid.in_(guids))):
            by_guid[row.guid] = row
    if urls:
        for row in session.execute(select(*cols).where(Item.canonical_url.in_(urls))):
            by_url.setdefault(row.canonical_url, row)
    new_rows: list[dict] = []
    claimed_keys: set[str] = set()  # guids and URLs of rows this call inserts
    for e in entries:
        guid = e.guid or e.canonical_url
        row = (by_guid.get(e.guid) if e.guid else None) or (by_url.get(e.canonical_url) if e.canonical_url else None)
        if row is None:
            if (guid and ("g", guid) in claimed_keys) or (e.canonical_url and ("u", e.canonical_url) in claimed_keys):
                continue  # a feed listing the same entry twice
            claimed_keys.update({("g", guid), ("u", e.canonical_url)} - {("g", None), ("u", None)})
            body = e.content or e.summary
            new_rows.append(dict(
                feed_id=feed_id, guid=guid, url=e.url, canonical_url=e.canonical_url, title=e.title,
                title_derived=False, author=e.author, source=e.source, summary=e.summary or None,
                content=e.content or None, content_hash=content_hash(body) if body else None, published_at=e.published,
                fetched_at=now, updated_at=now,
            ))
        elif (row.title, row.summary or "", row.content or "") != (e.title, e.summary, e.content):
            if row.id in updated_ids:
                continue
            body = e.content or e.summary
            values = dict(title=e.title, summary=e.summary or None, content=e.content or None, updated_at=now)
            if e.author:
                values["author"] = e.author
            if body:
                values["content_hash"] = content_hash(body)
            session.execute(update(Item).where(Item.id == row.id).values(**values))
            updated_ids.append(row.id)
        else:
            unchanged += 1
    new_ids: list[int] = []
    if new_rows:
        # One multi-row INSERT … RETURNING (SQLAlchemy's insertmanyvalues), ids in row order.
        new_ids = list(session.scalars(insert(Item).returning(Item.id, sort_by_parameter_order=True), new_rows))
    return new_ids, updated_ids, unchanged


def record(
    sessions: sessionmaker[Session], claim: Claimed, fetched: FetchResult, parsed: ParsedFeed | None,
    config: Config, now: datetime, pipeline: Pipeline | None = None,
) -> FeedResult:
    """Write one feed's outcome (items and fetch state) in one transaction, releasing the lease."""
    cap = config.fetch.max_interval
    result = FeedResult(claim.name, claim.url, "ok", fetched.status, seconds=fetched.seconds)
    with sessions.begin() as session:
        feed = session.get(Feed, claim.id)
        feed.last_fetch_at, feed.last_http_status = now, fetched.status
        feed.lease_owner = feed.lease_until = None
        hints = [max_age(fetched.headers)]
        error = fetched.error
        if error is None and fetched.not_modified:
            result.status = "not_modified"
        elif error is None and not fetched.ok:
            error = f"HTTP {fetched.status}"
        elif error is None and parsed is not None:
            error = parsed.error
        if error is None and parsed is not None and not fetched.not_modified:
            result.new_ids, result.updated_ids, result.unchanged = store_entries(
                session, feed.id, parsed.entries, now)
            result.new, result.updated = len(result.new_ids), len(result.updated_ids)
            if pipeline is not None:
                processed = pipeline.process(session, result.new_ids, result.updated_ids)
                result.matches, result.duplicates = processed.matches, processed.duplicates
            hints.append(parsed.ttl)
            result.warning = parsed.warning
            feed.last_warning = parsed.warning
        if error is None:
            feed.etag = fetched.headers.get("etag") or (feed.etag if fetched.not_modified else None)
            feed.last_modified = fetched.headers.get("last-modified") or (
                feed.last_modified if fetched.not_modified else None)
            if fetched.permanent_url:
                feed.url = result.url = fetched.permanent_url
            feed.last_success_at, feed.consecutive_failures = now, 0
            feed.next_poll_at = next_poll(now=now, interval=claim.interval, cap=cap, hints=hints)
        else:
            result.status, result.error = "error", error
            feed.last_error_at, feed.last_error = now, error
            feed.consecutive_failures += 1
            retry = retry_after(fetched.headers, now) if fetched.status in (429, 503) else None
            feed.next_poll_at = next_poll(now=now, interval=claim.interval, cap=cap,
                                          failures=feed.consecutive_failures, retry=retry)
        feed.updated_at = now
    return result


# ---------------------------------------------------------------------------------------------


async def poll(
    config: Config, sessions: sessionmaker[Session], *, owner: str, names: list[str] | None = None,
    due_only: bool = True, fetcher: Fetcher | None = None, on_result: Callable[[FeedResult], None] | None = None,
    pipeline: Pipeline | None = None,
) -> list[FeedResult]:
    """Poll the due (or named) feeds once. One feed's failure never stops the others."""
    sync_feeds(sessions, desired_feeds(config))
    if pipeline is None:
        pipeline = Pipeline(config)
    if pipeline.watch_ids is None:
        pipeline.prepare(sessions)
    claims, held = claim_feeds(sessions, owner, names=names, due_only=due_only)
    results: list[FeedResult] = [
        FeedResult(name, url, "skipped", error="being polled by another process") for name, url in held
    ]
    if not claims:
        return results
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher(
        concurrency=config.fetch.concurrency, per_host=config.fetch.per_host,
        connect_timeout=config.fetch.connect_timeout.total_seconds(),
        read_timeout=config.fetch.read_timeout.total_seconds(), max_bytes=config.fetch.max_bytes,
    )
    done: set[int] = set()

    async def one(claim: Claimed) -> None:
        fetched = await fetcher.fetch(FetchRequest(claim.url, claim.etag, claim.last_modified))
        now = now_utc()
        parsed = None
        if fetched.ok and not fetched.not_modified:
            parsed = parse_feed(fetched.body, content_type=fetched.headers.get("content-type"),
                                encoding=claim.encoding, fetched_at=now)
        try:
            result = record(sessions, claim, fetched, parsed, config, now, pipeline)
        except Exception as e:  # a store failure for one feed is that feed's error, not the poll's
            result = FeedResult(claim.name, claim.url, "error", fetched.status, seconds=fetched.seconds,
                                error=f"storing failed: {type(e).__name__}: {e}")
        if claim.full_text and result.new_ids:
            await fetch_full_text(fetcher, sessions, result.new_ids,
                                  on_update=lambda session, item_id: pipeline.process(session, [], [item_id]))
        done.add(claim.id)
        results.append(result)
        if on_result:
            on_result(result)

    try:
        await asyncio.gather(*(one(c) for c in claims))
    finally:
        release_feeds(sessions, [c for c in claims if c.id not in done])
        if own_fetcher:
            await fetcher.client.aclose()
    return results
