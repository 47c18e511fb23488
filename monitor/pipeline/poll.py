"""One poll, from claim to match, in the order the data flows:

    claim due feeds → fetch → parse → full text for new entries → store → dedupe → match

Each feed is one task; one feed's failure, of any kind, is that feed's result and never stops or
fails the others. Storing, dedupe, matching and the feed's new state are one transaction, so an
item is never stored without its decisions, and a failed store is recorded like any failure.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeVar

from ..config import Config
from ..errors import Failure, FailureKind
from ..sources.discover import feed_links
from ..sources.entries import FeedEntry, ParsedFeed
from ..sources.fetch import Fetcher, FetchRequest, FetchResult, max_age, retry_after
from ..sources.fulltext import with_full_text
from ..sources.pages import PageRule
from ..sources.specs import desired_feeds
from ..store import Database, Session, describe, feeds, items
from ..store.feeds import Claimed, PollOutcome
from ..text.normalize import primed
from . import collector
from .process import Processor
from .workers import TEXT_WORK_MAX, TextWork, Workers

log = logging.getLogger("monitor.poll")
Status = Literal["ok", "not_modified", "error", "skipped"]
IN_FLIGHT_PER_FETCH = 2  # feeds fetched or waiting to be stored, per allowed concurrent fetch
# Feeds past their fetch (parsed, text work done, storing): enough to keep every parse process and
# the writer busy. Each holds its entries and their text work, several times the body's size: at
# 100 (the in-flight bound) a 300-feed cold poll peaked at 214 MB, at 10 at 171 MB and ran faster.
PROCESSING_PER_PROCESS = 2
PROCESSING_EXTRA = 4
STORE_CHUNK = 1000  # entries per transaction: a giant feed's chunks interleave with other feeds' stores


@dataclass
class FeedResult:
    """One feed's outcome; ``as_json`` is the public shape of ``monitor poll --json``."""

    feed: str
    url: str
    status: Status
    http_status: int | None = None
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    error: str | None = None
    warning: str | None = None
    error_kind: FailureKind | None = None
    matches: int = 0  # (item, watch) matches stored from this poll
    duplicates: int = 0  # new or updated items linked to an earlier article

    def as_json(self) -> dict:
        return {"feed": self.feed, "url": self.url, "status": self.status, "http_status": self.http_status,
                "new": self.new, "updated": self.updated, "unchanged": self.unchanged,
                "seconds": round(self.seconds, 3), "error": self.error}


def now_utc() -> datetime:
    return datetime.now(UTC)


def make_fetcher(config: Config) -> Fetcher:
    f = config.fetch
    return Fetcher(concurrency=f.concurrency, per_host=f.per_host, connect_timeout=f.connect_timeout.total_seconds(),
                   read_timeout=f.read_timeout.total_seconds(), max_bytes=f.max_bytes)


async def poll(
    config: Config, db: Database, *, owner: str, names: list[str] | None = None, due_only: bool = True,
    fetcher: Fetcher | None = None, on_result: Callable[[FeedResult], None] | None = None,
    processor: Processor | None = None, on_start: Callable[[list[str]], None] | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> list[FeedResult]:
    """Poll the due (or named) feeds once. ``on_start`` hears the names of the feeds claimed,
    ``on_result`` each feed's result as it comes (the CLI's progress line). ``pool``: parse
    processes forked for this poll (``pipeline.pool.fork_pool``, with ``processor``'s watches),
    used if the poll parses in processes; the caller shuts it down."""
    processor = processor or Processor(config)
    workers = Workers(watches=processor.matcher.watches, pool=pool)
    try:
        with collector.quiet():
            return await _poll(config, db, workers, owner=owner, names=names, due_only=due_only, fetcher=fetcher,
                               on_result=on_result, processor=processor, on_start=on_start)
    finally:
        await workers.close()
        log.debug("poll: the writer thread used %.2f s of CPU", workers.writer_seconds)


async def _poll(config: Config, db: Database, workers: Workers, *, owner: str, names: list[str] | None,
                due_only: bool, fetcher: Fetcher | None, on_result: Callable[[FeedResult], None] | None,
                processor: Processor, on_start: Callable[[list[str]], None] | None = None) -> list[FeedResult]:
    claims, held = await workers.db(_claim, config, db, processor, owner, names, due_only)
    results = [FeedResult(name, url, "skipped", error="being polled by another process") for name, url in held]
    if on_start:
        on_start([c.name for c in claims])
    if not claims:
        return results
    workers.expect(len(claims), first=sum(c.first for c in claims))
    own = fetcher is None
    fetcher = fetcher or make_fetcher(config)
    done: set[int] = set()

    specs = desired_feeds(config)
    run = Run(config, db, fetcher, processor, workers, {s.name: s.source for s in specs},
              {s.name: s.page for s in specs if s.page is not None},
              asyncio.Semaphore(PROCESSING_PER_PROCESS * workers.processes + PROCESSING_EXTRA))

    # Feeds between their fetch and the end of their store hold their entries and text work; the
    # writer is the slowest stage of a cold poll, so without a bound every feed of a large poll was
    # fetched, parsed and waiting at once (the bench process of a 1,000-feed cold poll peaked at 895 MB).
    in_flight = asyncio.Semaphore(int(IN_FLIGHT_PER_FETCH * config.fetch.concurrency))

    async def one(claim: Claimed) -> None:
        async with in_flight:
            result = await poll_feed(run, claim)
        done.add(claim.id)
        results.append(result)
        if on_result:
            on_result(result)

    try:
        await asyncio.gather(*(one(c) for c in claims))
    finally:
        # Claims not reached (shutdown) go back at once, for this or another daemon to take.
        await workers.db(_release, db, [c for c in claims if c.id not in done])
        if own:
            await fetcher.aclose()
    return results


def _claim(config: Config, db: Database, processor: Processor, owner: str, names: list[str] | None,
           due_only: bool) -> tuple[list[Claimed], list[tuple[str, str]]]:
    with db.begin() as session:
        feeds.sync_feeds(session, desired_feeds(config))
    processor.prepare(db)
    with db.session() as session:
        return feeds.claim_feeds(session, owner, names=names, due_only=due_only)


def _release(db: Database, claims: list[Claimed]) -> None:
    if claims:
        with db.begin() as session:
            feeds.release_feeds(session, claims)


@dataclass(frozen=True)
class Run:
    """What every feed of one poll shares."""

    config: Config
    db: Database
    fetcher: Fetcher
    processor: Processor
    workers: Workers
    outlets: dict[str, str | None]  # feed name -> its configured ``source:``
    pages: dict[str, PageRule]  # feed name -> its selectors, for pages without a feed
    # Feeds from their parse until their store has run (see PROCESSING_PER_PROCESS; ``Slot``); a
    # fetched body waits for a slot before it is parsed. None: no bound (a single feed's poll).
    processing: asyncio.Semaphore | None = None


class Slot:
    """A feed's processing slot (``Run.processing``; none without a bound), held from before its
    parse until its store has run: given up while the feed waits on the network (``_outside``),
    and for good once its store has run and waits only for its commit (``Workers.store``), so
    that a feed done with its work never waits for a slot again behind feeds yet to be parsed."""

    def __init__(self, semaphore: asyncio.Semaphore | None):
        self._semaphore = semaphore
        self._held = False

    async def take(self) -> None:
        if self._semaphore is not None and not self._held:
            await self._semaphore.acquire()
            self._held = True

    def give_up(self) -> None:
        if self._semaphore is not None and self._held:
            self._held = False
            self._semaphore.release()


async def poll_feed(run: Run, claim: Claimed) -> FeedResult:
    fetched = await run.fetcher.fetch(FetchRequest(claim.url, claim.etag, claim.last_modified))
    slot = Slot(run.processing)
    await slot.take()
    try:
        return await _process_feed(run, claim, fetched, now_utc(), slot)
    finally:
        slot.give_up()


async def _process_feed(run: Run, claim: Claimed, fetched: FetchResult, now: datetime, slot: Slot) -> FeedResult:
    config, db, fetcher, processor, workers = run.config, run.db, run.fetcher, run.processor, run.workers
    parsed = None
    if fetched.ok and not fetched.not_modified:
        parsed = await workers.parse(fetched.body, content_type=fetched.headers.get("content-type"),
                                     encoding=claim.encoding, fetched_at=now, outlet=run.outlets.get(claim.name),
                                     page=run.pages.get(claim.name), base_url=fetched.final_url)
    if parsed is not None and parsed.failure is not None and parsed.failure.kind is FailureKind.HTML_PAGE:
        fetched, parsed = await _discover(run, claim, fetched, parsed, now)
    failure = fetched.problem or (parsed.failure if parsed else None)
    entries = parsed.entries if parsed is not None and failure is None else []
    result = FeedResult(claim.name, claim.url, "ok", fetched.status, seconds=fetched.seconds)
    outcome = _outcome(fetched, parsed, failure, now)
    try:
        if claim.full_text and entries:
            entries = await _outside(slot, _full_text_for_new(db, fetcher, claim, entries, workers))
        known, work = None, None
        if entries and workers.pooled and len(entries) <= TEXT_WORK_MAX:  # one chunk (TEXT_WORK_MAX < STORE_CHUNK)
            # On the writer thread: a read thread of its own was no faster (both cores are busy
            # through a cold poll). Storing reuses the rows instead of reading them again.
            known = await workers.read(db, items.known_rows, claim.id, entries)
            work = await workers.text_work(items.new_entries(entries, known), feed=claim.name,
                                           searched_for=claim.watch_name if claim.kind == "search" else None)
        chunks = [entries[i:i + STORE_CHUNK] for i in range(0, len(entries), STORE_CHUNK)] or [[]]
        for k, chunk in enumerate(chunks):
            last = k == len(chunks) - 1
            call = functools.partial(_store, claim=claim, entries=chunk, now=now, processor=processor,
                                     outcome=outcome if last else None, config=config, work=work,
                                     known=known if last else None)
            _count(result, await workers.store(db, call, size=len(chunk), on_rollback=processor.deduper.reset,
                                               on_ran=slot.give_up))
    except Exception as e:  # a store failure is this feed's failure: recorded, backed off, lease released
        failure = Failure(FailureKind.STORE, f"storing failed: {describe(e)}")
        result = FeedResult(claim.name, claim.url, "error", fetched.status, seconds=fetched.seconds)
        await workers.db(_record_failure, db, claim, PollOutcome(now, fetched.status, failure=failure), config)
    if failure is not None:
        result.status, result.error, result.error_kind = "error", failure.reason, failure.kind
    elif fetched.not_modified:
        result.status = "not_modified"
    result.warning = outcome.warning
    return result


T = TypeVar("T")


async def _outside(slot: Slot, waiting: Awaitable[T]) -> T:
    """Await ``waiting`` (article pages being fetched) with the feed's processing slot given up
    meanwhile: a feed waiting on the network must not keep the other feeds from being parsed."""
    slot.give_up()
    try:
        return await waiting
    finally:
        await slot.take()


async def _discover(run: Run, claim: Claimed, page: FetchResult, parsed: ParsedFeed,
                    now: datetime) -> tuple[FetchResult, ParsedFeed]:
    """The configured URL answered with a page: if it links a feed (``<link rel="alternate">``),
    poll that instead, once, and move the feed there the way a permanent redirect would (a
    changed URL in the config still wins)."""
    for link in feed_links(page.body, page.final_url)[:2]:
        fetched = await run.fetcher.fetch(FetchRequest(link))
        if not fetched.ok:
            continue
        found = await run.workers.parse(fetched.body, content_type=fetched.headers.get("content-type"),
                                        encoding=claim.encoding, fetched_at=now, outlet=run.outlets.get(claim.name))
        if found.failure is None:
            log.info("feed %s: %s is a page; it links the feed %s, polled from now on", claim.name, claim.url,
                     fetched.final_url)
            fetched.permanent_url = fetched.final_url
            note = f"{claim.url} is a page; following the feed it links, {fetched.final_url}"
            found.warning = f"{note}; {found.warning}" if found.warning else note
            return fetched, found
    return page, parsed


@dataclass
class Stored:
    """What one transaction stored of a feed, counted into its result once committed."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    matches: int = 0
    duplicates: int = 0
    url: str | None = None  # the feed's URL from now on (with the last chunk: record_poll's)


def _store(session: Session, *, claim: Claimed, entries: list[FeedEntry], now: datetime, processor: Processor,
           outcome: PollOutcome | None, config: Config, work: TextWork | None = None,
           known: items.Known | None = None) -> Stored:
    """A chunk of entries stored, deduped and matched, and with the last chunk the feed's new
    state (which releases its lease), in the writer's transaction (``Workers.store``).
    ``work``: their text work, done in the pool; ``known``: their stored rows, read before it
    (no one else stores this feed's items meanwhile: its lease is this poll's)."""
    stored = Stored()
    with primed(work.forms if work else {}, work.hashes if work else {}):
        if entries:
            since = feeds.news_since(claim.first_success_at, now, config.max_age)
            saved = items.save_entries(session, claim.id, claim.name, entries, now, since, known)
            searched_for = claim.watch_name if claim.kind == "search" else None
            processed = processor.process(session, saved.new, saved.updated, searched_for=searched_for,
                                          prepared=work.prepared if work else None,
                                          matched=work.matched if work else None)
            stored = Stored(len(saved.new), len(saved.updated), saved.unchanged, processed.matches,
                            processed.duplicates)
        if outcome is not None:
            stored.url = feeds.record_poll(session, claim, outcome, config.fetch.max_interval)
    return stored


def _count(result: FeedResult, stored: Stored) -> None:
    result.new += stored.new
    result.updated += stored.updated
    result.unchanged += stored.unchanged
    result.matches += stored.matches
    result.duplicates += stored.duplicates
    if stored.url is not None:
        result.url = stored.url


def _record_failure(db: Database, claim: Claimed, outcome: PollOutcome, config: Config) -> None:
    try:
        with db.begin() as session:
            feeds.record_poll(session, claim, outcome, config.fetch.max_interval)
    except Exception as e:  # the database itself is gone: the lease expires on its own
        log.error("feed %s: cannot record its failure either (%s); its lease expires in %s",
                  claim.name, describe(e), feeds.LEASE)


async def _full_text_for_new(db: Database, fetcher: Fetcher, claim: Claimed, entries: list[FeedEntry],
                             workers: Workers) -> list[FeedEntry]:
    """Pages are fetched only for entries not stored yet, before storing them."""
    fresh = await workers.read(db, _unknown, claim.id, entries)
    if not fresh:
        return entries
    full = dict(zip(map(id, fresh), await with_full_text(fetcher, fresh), strict=True))
    return [full.get(id(e), e) for e in entries]


def _unknown(session: Session, feed_id: int, entries: list[FeedEntry]) -> list[FeedEntry]:
    return items.new_entries(entries, items.known_rows(session, feed_id, entries))


def _outcome(fetched: FetchResult, parsed: ParsedFeed | None, failure: Failure | None, now: datetime) -> PollOutcome:
    if failure is not None:
        retry = retry_after(fetched.headers, now) if fetched.status in (429, 503) else None
        return PollOutcome(now, fetched.status, failure=failure, retry_after=retry)
    return PollOutcome(
        now, fetched.status, not_modified=fetched.not_modified,
        warning=parsed.warning if parsed is not None else None,
        etag=fetched.headers.get("etag"), last_modified=fetched.headers.get("last-modified"),
        permanent_url=fetched.permanent_url,
        hints=(max_age(fetched.headers), parsed.ttl if parsed is not None else None),
    )
