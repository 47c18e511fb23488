"""Where a poll's CPU and database work runs, so that the event loop only ever waits on sockets.

Parsing goes to a pool of processes, one per core: a 100,000-item feed takes tens of seconds to
parse, and on the event loop it stalled every other feed (their fetches timed out). The pool is
started only when it pays for itself, and shut down when the poll ends, so a daemon at rest holds
no worker memory: for a large body, for a poll of several feeds fetched for the first time (all
their entries new: parsing and text work on both cores), and for a poll of feeds seen before once
their parsing on threads comes, or is estimated to come, to POOL_FOR_PARSE_SECONDS of CPU. A
daemon's routine poll (feeds it knows, a few new entries each) parses on threads: there the pool
saved a quarter of the wall time for about the same CPU, and its fork server and workers were a
third of the poll's memory.
In a pooled poll the pool also does new entries' text work and matches them (``text_work``), so
that the writer does not. Database work (store, dedupe, and matching where the pool did not)
runs on one writer thread: SQLite takes one writer at a time
anyway, and jobs queue in order, so a giant feed stored in chunks lets small feeds through
between its chunks. Feeds' stores queued while the writer was busy share one transaction
(``Workers.store``); in a pooled poll the transaction stays open across them for up to
COMMIT_SECONDS (``_Open``).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ..dedupe.fingerprint import Prepared, for_transfer, prepare
from ..errors import Failure, FailureKind
from ..parent import die_with_parent
from ..sources.entries import FeedEntry, ParsedFeed
from ..sources.pages import PageRule, parse_page
from ..sources.parse import parse_feed
from ..text.normalize import match_form, primed
from ..watch.matcher import Matcher, WatchResult, doc_of
from ..watch.query import Node

if TYPE_CHECKING:
    from ..store import Database, Session

T = TypeVar("T")
log = logging.getLogger(__name__)
POOL_FROM_FEEDS = 4  # polls of fewer feeds parse on a thread: starting processes costs more
# A poll of known feeds moves to the pool when its parsing, estimated from the feeds parsed so far,
# comes to this much CPU: a daemon's routine poll stays on threads. Measured on a poll of 150 known
# feeds x 50 items, one new each (the soak's routine poll): on threads 5.7-6.3 s
# wall, 5.9-6.3 s of CPU, 130 MB at the peak (PSS, all processes); with the pool 4.2-4.5 s,
# 5.5-5.8 s, 186-188 MB. A larger poll of known feeds (1,000 changed feeds) still gets both cores.
POOL_FOR_PARSE_SECONDS = 10.0
INLINE_BELOW = 256 * 1024  # bytes; a larger body always goes to a process
TEXT_WORK_MAX = 200  # new entries of one feed: more are prepared by the writer, as they are stored
# Entries stored in one transaction at most, over the feeds' stores it groups (a feed with no new
# entry counts as one). A commit writes every index page its rows touched, and the fingerprint
# index's pages are touched at random, so one commit for several feeds writes fewer pages than
# one each: on a 1,000-feed cold poll, 513 transactions instead of 1,000 and commits 6.3 → 4.65 s,
# though the poll's wall time did not move (it is bound by the CPU of the whole poll); a poll of
# 300 feeds answering 304, 1.29 → 1.13 s. A giant feed's chunk (STORE_CHUNK entries) is alone.
GROUP_ENTRIES = 1000
# In a pooled poll (a cold one, a large one) the writer's transaction stays open across stores for
# up to COMMIT_SECONDS or COMMIT_ENTRIES entries, and is committed once no store has come for
# COMMIT_IDLE: a commit writes every page its rows touched, and in a cold poll the fingerprint
# index's random keys touch most of its pages whatever the transaction's size. Measured on a
# 1,000-feed cold poll (in-process, as bench/poll_bench.py runs it): 5.7-6.1 → 2.8-3.4 GB written
# (419 commits before); five alternating pairs, wall 0.79-0.90x (median 0.86), the job's CPU 2-8 s less,
# peak RSS 167 → 171 MB. A feed's result waits for the commit (nothing is reported that is not
# stored); its processing slot does not (``on_ran``): held until the commit, it stalled parsing,
# and a feed taking it back queued behind feeds yet to be parsed (RSS +26 MB).
COMMIT_SECONDS = 1.0
COMMIT_IDLE = 0.2
COMMIT_ENTRIES = 20_000  # and so what a failure runs again, store by store
# How much lower the parse processes' CPU priority is than the job's (``nice``). A cold poll is
# one serial path, the writer thread, fed by the processes; with the three as equals on two
# cores the writer waited its turn for a core, and every feed waited on it. Niced, the processes
# take what the job leaves. Measured on 1,000-feed cold polls (in-process, as bench/poll_bench.py
# runs it) by the wall time over half the CPU time of the job and the processes (1.0: both cores
# busy throughout), which the machine's speed, varying by half from minute to minute, does not
# move: 1.18-1.22 without (14 runs) against 1.11-1.14 at 5 (12 runs), 1.09-1.11 at 10 and 19
# (3 each); polls of unchanged feeds did not move. bench/poll_bench.py's own line, whose second
# and third polls reuse the fork server the first started (a job starts its own each poll),
# showed 1.13 both ways in two runs each. 5 keeps the processes a third of the weight of
# programs at the default priority, so a busy machine slows a poll down without starving it.
POOL_NICE = 5


class Workers:
    def __init__(self, processes: int | None = None, *, pool_for: float = POOL_FOR_PARSE_SECONDS,
                 watches: Sequence[tuple[str, Node]] = (), pool: ProcessPoolExecutor | None = None):
        """``watches``: the poll's watches, compiled in each parse process as it starts, so that
        new entries are matched there beside their text work (``text_work``). ``pool``: one
        forked for this poll already (``pipeline.pool``), used instead of starting one; its
        owner shuts it down."""
        self.processes = processes or os.cpu_count() or 1
        self._forked = pool
        self._watches = list(watches)
        self.pooled = False  # parsing and text work go to the processes
        self._may_pool = False
        self._pool_for = pool_for
        self._feeds = 0
        self._thread_parses = 0
        self.thread_parse_seconds = 0.0  # CPU the parse threads spent in this poll
        self._pool: ProcessPoolExecutor | None = None
        self._owned = True  # whether close() shuts self._pool down (not a pool handed in)
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="parse")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store", initializer=self._writer_started)
        self._writer_clock: int | None = None  # the writer thread's CPU clock, once it runs
        self.writer_seconds = 0.0  # CPU the writer thread spent in this poll (set by close())
        self._stores: deque[_Store] = deque()  # waiting for the writer (``store``)
        self._stores_lock = threading.Lock()
        self._drain_queued = False  # a _drain is on the writer's queue: it takes what is waiting
        self._open: _Open | None = None  # the pooled poll's transaction, on the writer thread only

    def expect(self, feeds: int, *, first: int | None = None) -> None:
        """How many feeds this poll parses, and how many of them for the first time (None: all).
        Enough first-time feeds start the pool at once; otherwise parsing moves there only once
        it proves long (``_parsed_on_threads``)."""
        self._feeds = feeds
        self._may_pool = feeds >= POOL_FROM_FEEDS and self.processes > 1
        self.pooled = self._may_pool and (feeds if first is None else first) >= POOL_FROM_FEEDS

    @property
    def started(self) -> bool:
        """Whether this poll started the process pool."""
        return self._pool is not None

    def _parsed_on_threads(self, seconds: float) -> None:
        """Move to the pool once this poll's parsing comes to ``pool_for`` seconds, or is
        estimated to (the mean of the first POOL_FROM_FEEDS feeds or more, times the poll's feeds)."""
        self.thread_parse_seconds += seconds
        self._thread_parses += 1
        if not self._may_pool or self.pooled:
            return
        estimate = self.thread_parse_seconds / self._thread_parses * max(self._feeds, self._thread_parses)
        if self.thread_parse_seconds >= self._pool_for or (
                self._thread_parses >= POOL_FROM_FEEDS and estimate >= self._pool_for):
            log.debug("parsing moves to %d processes: %d feeds parsed on threads in %.2f s, %.1f s estimated",
                      self.processes, self._thread_parses, self.thread_parse_seconds, estimate)
            self.pooled = True

    def _processes(self) -> ProcessPoolExecutor:
        if self._pool is None and self._forked is not None:
            self._pool, self._forked = self._forked, None
            self._owned = False
        if self._pool is None:
            self._owned = True
            # forkserver: workers start from a clean process, never from a fork of this one
            # with its threads (a lock held by another thread at fork time would deadlock them).
            # The fork server loads and warms what they share first (pipeline.warm).
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([f"{__package__}.warm"])
            self._pool = ProcessPoolExecutor(self.processes, mp_context=context, initializer=install,
                                             initargs=(self._watches,))
            log.debug("parse pool started: %d processes", self.processes)
        return self._pool

    async def parse(self, body: bytes, *, content_type: str | None, encoding: str | None,
                    fetched_at: datetime, outlet: str | None = None, page: PageRule | None = None,
                    base_url: str = "") -> ParsedFeed:
        """A feed's body, or with ``page`` a web page read by its selectors."""
        call = (functools.partial(parse_page, body, page, base_url=base_url, content_type=content_type,
                                  encoding=encoding, fetched_at=fetched_at, outlet=outlet) if page is not None else
                functools.partial(parse_feed, body, content_type=content_type, encoding=encoding,
                                  fetched_at=fetched_at, outlet=outlet))
        loop = asyncio.get_running_loop()
        try:
            if self.pooled or len(body) >= INLINE_BELOW:
                return await loop.run_in_executor(self._processes(), call)
            parsed, seconds = await loop.run_in_executor(self._threads, _timed, call)
            self._parsed_on_threads(seconds)
            return parsed
        except BrokenProcessPool:
            self._pool = None  # the next feed gets a fresh pool
            return ParsedFeed(failure=Failure(
                FailureKind.PARSER, f"the parser process died on this feed's {len(body)} bytes (out of memory?)"))

    async def text_work(self, entries: Sequence[FeedEntry], *, feed: str | None = None,
                        searched_for: str | None = None) -> TextWork | None:
        """In a poll of several feeds, new entries' text is folded and fingerprinted in the pool,
        beside the parsing, instead of on the writer thread that stores them (the one thread
        every feed waits for). None when there is no pool: the writer does it as before."""
        # A feed with more new entries than TEXT_WORK_MAX (a giant feed, a first poll of a big
        # archive) is left to the writer, chunk by chunk: its whole text work at once would be held
        # in memory until stored, and unpickled in one go with the GIL held (it stalled the event
        # loop for 1.5 s in tests/integration/test_hostile.py).
        if not self.pooled or not entries or len(entries) > TEXT_WORK_MAX:
            return None
        try:
            done = await asyncio.get_running_loop().run_in_executor(self._processes(), _computed, list(entries),
                                                                    feed, searched_for)
        except BrokenProcessPool:
            self._pool = None
            return None
        return _keyed(entries, done, feed)

    async def db(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` on the writer thread, once the open transaction is committed: ``fn``
        may write, on a connection of its own, and SQLite takes one writer at a time."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._committed_first, fn, args)

    async def read(self, db: Database, fn: Callable[..., T], *args: object) -> T:
        """``fn(session, *args)``, which only reads, on the writer thread: in the open transaction
        if there is one (on another connection it filled a second page cache, 16 MB more at the
        peak of a cold poll), else in a session of its own."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._read, db, fn, args)

    def _read(self, db: Database, fn: Callable[..., T], args: tuple) -> T:
        if self._open is not None and self._open.db is db:
            return fn(self._open.session, *args)
        with db.session() as session:
            return fn(session, *args)

    async def store(self, db: Database, call: Callable[[Session], T], *, size: int,
                    on_rollback: Callable[[], None], on_ran: Callable[[], None] | None = None) -> T:
        """``call(session)`` on the writer thread, inside a transaction shared with the other
        stores waiting by the time the writer comes to it (up to GROUP_ENTRIES entries; ``size``:
        this one's), and in a pooled poll with those that come while it is open (COMMIT_SECONDS):
        fewer commits for the one thread every feed waits for. Returns once committed. A store
        that fails in a transaction is not the others' failure: it is rolled back and each
        store is run again alone, so only the one at fault fails (and a store is all or nothing,
        as before). ``on_rollback``: what to forget of a transaction rolled back (the deduper's
        memory of its rows). ``on_ran``: called once the store has run, before its commit (the
        caller gives up its processing slot: other feeds are parsed meanwhile)."""
        loop = asyncio.get_running_loop()
        job = _Store(call, max(size, 1), on_rollback, loop, loop.create_future(), loop.create_future())
        with self._stores_lock:
            self._stores.append(job)
            first, self._drain_queued = not self._drain_queued, True
        if first:
            self._writer.submit(self._drain, db)
        try:
            if on_ran is not None:
                await asyncio.wait((job.ran, job.future), return_when=asyncio.FIRST_COMPLETED)
                on_ran()
            return await job.future
        except asyncio.CancelledError:
            job.future.cancel()
            raise

    def _drain(self, db: Database) -> None:
        """On the writer thread: store what is waiting, as many as GROUP_ENTRIES allows, in one
        transaction; a drain for the rest goes behind what was queued meanwhile."""
        group: list[_Store] = []
        with self._stores_lock:
            size = 0
            while self._stores and (not group or size + self._stores[0].size <= GROUP_ENTRIES):
                group.append(self._stores.popleft())
                size += group[-1].size
            more = self._drain_queued = bool(self._stores)
        if more:
            with contextlib.suppress(RuntimeError):  # shut down: the poll was cancelled, no one awaits them
                self._writer.submit(self._drain, db)
        if self._open is None and not self.pooled:
            for job, outcome in zip(group, _stored(db, group), strict=True):
                _tell(job, job.future, outcome)
            return
        self._hold(db, group, more)

    def _hold(self, db: Database, group: list[_Store], more: bool) -> None:
        """On the writer thread: ``group`` run in the open transaction (begun if none is), which
        is committed when old or large enough; left open, a commit is looked at again after
        COMMIT_IDLE unless another drain is queued (``more``) and will."""
        if self._open is None or self._open.db is not db:
            self._commit()
            self._open = _Open(db, db.session(), time.monotonic())
        held = self._open
        for k, job in enumerate(group):
            try:
                held.ran.append((job, job.call(held.session)))
            except Exception as e:
                self._open = None
                held.rolled_back(e, rerun=group[k:])
                return
            held.entries += job.size
            _tell(job, job.ran, (True, None))
        held.last = time.monotonic()
        if held.last - held.started >= COMMIT_SECONDS or held.entries >= COMMIT_ENTRIES:
            self._commit()
        elif not more:
            with contextlib.suppress(RuntimeError):  # the loop is closed: close() commits
                group[-1].loop.call_soon_threadsafe(self._look_later)

    def _look_later(self) -> None:
        """On the event loop: in COMMIT_IDLE, have the writer commit if no store came meanwhile."""
        asyncio.get_running_loop().call_later(COMMIT_IDLE, self._on_writer, self._commit_if_idle)

    def _on_writer(self, fn: Callable[[], object]) -> None:
        with contextlib.suppress(RuntimeError):  # shut down: close() committed
            self._writer.submit(fn)

    def _commit_if_idle(self) -> None:
        held = self._open
        if held is not None and time.monotonic() - held.last >= COMMIT_IDLE * 0.9:
            with self._stores_lock:
                if self._drain_queued:  # a drain is coming: it looks again
                    return
            self._commit()

    def _commit(self) -> None:
        """On the writer thread: the open transaction committed and its stores told."""
        held, self._open = self._open, None
        if held is not None:
            held.commit()

    def _committed_first(self, fn: Callable[..., T], args: tuple) -> T:
        self._commit()
        return fn(*args)

    def _writer_started(self) -> None:
        """On the writer thread as it starts: its CPU clock, which close() reads. The writer is the
        one thread every feed of a cold poll waits for, so its CPU is that poll's floor."""
        with contextlib.suppress(AttributeError, OSError):  # no per-thread clocks here: not measured
            self._writer_clock = time.pthread_getcpuclockid(threading.get_ident())

    async def close(self) -> None:
        if self._writer_clock is not None:  # read while the thread lives (the clock goes with it)
            with contextlib.suppress(OSError):
                self.writer_seconds = time.clock_gettime(self._writer_clock)
        if self._pool is not None and self._owned:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._threads.shutdown(wait=False, cancel_futures=True)
        # The writer finishes the transaction in hand (a chunk of one feed), then stops; what is
        # still open (a cancelled poll's stores, each whole) is committed.
        await asyncio.to_thread(self._writer.shutdown, True, cancel_futures=True)
        await asyncio.to_thread(self._commit)


@dataclass
class _Store:
    """A feed's store waiting for the writer (``Workers.store``)."""

    call: Callable[[Session], Any]
    size: int
    on_rollback: Callable[[], None]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future  # its value or error, once committed (or failed)
    ran: asyncio.Future  # set once run in a transaction held open (``Workers._hold``)


@dataclass
class _Open:
    """The writer's transaction held open across stores (``Workers._hold``), and what ran in it."""

    db: Database
    session: Session
    started: float
    last: float = 0.0  # when a store last ran in it
    entries: int = 0
    ran: list[tuple[_Store, Any]] = field(default_factory=list)

    def commit(self) -> None:
        try:
            self.session.commit()
        except Exception as e:
            self.rolled_back(e, rerun=[])
            return
        self.session.close()
        for job, value in self.ran:
            _tell(job, job.future, (True, value))

    def rolled_back(self, error: Exception, rerun: list[_Store]) -> None:
        """A store or the commit failed: everything in the transaction is undone and each store
        run again alone, so that only the one at fault fails."""
        self.session.rollback()
        self.session.close()
        jobs = [job for job, _ in self.ran] + rerun
        for job, outcome in zip(jobs, _each_alone(self.db, jobs, error), strict=True):
            _tell(job, job.future, outcome)


def _stored(db: Database, group: list[_Store]) -> list[tuple[bool, Any]]:
    """Each store's value (True, value) or exception (False, error): together in one
    transaction, or, when that fails, each alone."""
    if len(group) > 1:
        try:
            with db.begin() as session:
                values = [job.call(session) for job in group]
            return [(True, v) for v in values]
        except Exception as e:
            return _each_alone(db, group, e)
    return [_alone(db, job) for job in group]


def _each_alone(db: Database, jobs: list[_Store], error: Exception) -> list[tuple[bool, Any]]:
    """After their shared transaction was rolled back (``error``): what each rollback undoes,
    then each store run again in a transaction of its own."""
    for undo in dict.fromkeys(job.on_rollback for job in jobs):
        undo()
    log.debug("a transaction of %d stores failed (%s): each is stored alone", len(jobs), error)
    return [_alone(db, job) for job in jobs]


def _alone(db: Database, job: _Store) -> tuple[bool, Any]:
    try:
        with db.begin() as session:
            return True, job.call(session)
    except Exception as e:
        job.on_rollback()
        return False, e


def _tell(job: _Store, future: asyncio.Future, outcome: tuple[bool, Any]) -> None:
    """From the writer thread: settle one of the job's futures on its loop."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: the poll was cancelled
        job.loop.call_soon_threadsafe(_settle, future, outcome)


def _settle(future: asyncio.Future, outcome: tuple[bool, Any]) -> None:
    if future.done():  # cancelled meanwhile
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _timed(call: Callable[[], T]) -> tuple[T, float]:
    """call(), and the CPU this thread spent in it."""
    start = time.thread_time()
    return call(), time.thread_time() - start


@dataclass
class TextWork:
    """What matching, the search index and dedupe would compute from new entries' text."""

    forms: dict[str, str] = field(default_factory=dict)  # a title, summary or text -> its match form
    hashes: dict[str, str] = field(default_factory=dict)  # a body -> its content hash
    prepared: dict[tuple[str, str], Prepared] = field(default_factory=dict)  # (title, body) -> dedupe form
    matched: dict[MatchKey, list[WatchResult]] | None = None  # a new entry -> the watches it matches, if known


@dataclass
class _Done:
    """What a worker sends back: the text work's values in the order of the entries' texts, without
    the texts, which the job process has already. Keyed by them, as ``TextWork`` is, the texts went
    back through the pipe three times and were unpickled into copies: a bench feed's text work was
    215 KB, 153 now (with the prepared forms pickled compactly)."""

    forms: list[str]  # match forms of each distinct title, summary and text, in order
    prepared: list[Prepared]  # each entry's dedupe form
    matched: list[list[WatchResult]] | None = None  # each entry's matches (None: no watches here)


def text_work(entries: Sequence[FeedEntry]) -> TextWork:
    return _keyed(entries, _computed(entries))


# What doc_of reads of an item (title, summary, content, source, url, feed), as the writer's
# StoredItem of a new entry will hold it (``store.items.save_entries``).
MatchKey = tuple[str, str, str, str | None, str | None, str | None]
_MATCHER: Matcher | None = None  # in a parse process: the poll's watches (``install``)


def install(watches: list[tuple[str, Node]], parent: int | None = None, close: tuple[int, ...] = ()) -> None:
    """The pool's initializer. The worker ends with the process it started from (``parent``, the
    job that forked it, or else its fork server): a job killed by the OOM killer leaves no worker
    waiting on its queue. It closes the inherited descriptors in ``close`` (the job's report pipe:
    the daemon waits for its end). Signals as the pool expects them: a worker forked from the job inherits
    its handlers, which only note SIGTERM; Ctrl-C stops the job, which then shuts the pool down.
    The process niced below the job (``POOL_NICE``), and the poll's watches compiled once in it.
    Matching new entries here instead of on the writer thread (the one thread every feed waits
    for): on a 1,000-feed cold poll with 500 watches, the job process's CPU 30.2-32.9 → 27.0-29.7 s
    and the wall time 0.91-1.00x (four alternating pairs, in-process as bench/poll_bench.py runs
    it); with the bench's one watch, within the noise."""
    global _MATCHER
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not die_with_parent(parent or os.getppid(), signal.SIGKILL):
        os._exit(1)  # its parent is gone: nobody will send it work
    for fd in close:
        with contextlib.suppress(OSError):
            os.close(fd)
    with contextlib.suppress(OSError, AttributeError):  # only a priority: not every system has nice
        os.nice(POOL_NICE)
    _MATCHER = Matcher(watches) if watches else None


def match_key(e: FeedEntry, feed: str | None) -> MatchKey:
    return (e.title, e.summary, e.content, e.source, e.canonical_url or e.url, feed)


def _computed(entries: Sequence[FeedEntry], feed: str | None = None, searched_for: str | None = None) -> _Done:
    texts = list(_texts(entries))
    forms = [match_form(s) for s in texts]
    done = _Done(forms, [for_transfer(prepare(e.title, e.body)) for e in entries])
    if _MATCHER is not None:
        with primed(dict(zip(texts, forms, strict=True)), {}):
            done.matched = [_MATCHER.match(doc_of(*match_key(e, feed)), searched_for=searched_for) for e in entries]
    return done


def _texts(entries: Sequence[FeedEntry]) -> dict[str, None]:
    """The entries' distinct titles, summaries and texts, in order."""
    return dict.fromkeys(s for e in entries for s in (e.title, e.summary, e.content) if s)


def _keyed(entries: Sequence[FeedEntry], done: _Done, feed: str | None = None) -> TextWork:
    """``done`` keyed by the texts of ``entries``, the ones it was computed from."""
    work = TextWork()
    if done.matched is not None:
        work.matched = {match_key(e, feed): m for e, m in zip(entries, done.matched, strict=True)}
    work.forms = dict(zip(_texts(entries), done.forms, strict=True))
    for e, p in zip(entries, done.prepared, strict=True):
        work.prepared[(e.title, e.body)] = p
        if e.body and p.content_hash is not None:
            work.hashes[e.body] = p.content_hash  # from prepare's own pass over the text
    return work
