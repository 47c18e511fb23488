"""Where a poll's CPU and database work runs, so that the event loop only ever waits on sockets.

Parsing goes to a pool of processes, one per core: a 100,000-item feed takes tens of seconds to
parse, and on the event loop it stalled every other feed (their fetches timed out). The pool is
started only for a poll of several feeds or for a large body, and shut down when the poll ends,
so a daemon at rest holds no worker memory; a small feed in a small poll is parsed on a thread.
Database work (store, dedupe, match) runs on one writer thread: SQLite takes one writer at a time
anyway, and jobs queue in order, so a giant feed stored in chunks lets small feeds through
between its chunks.
"""
from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from ..dedupe.fingerprint import Prepared, for_transfer, prepare
from ..errors import Failure, FailureKind
from ..sources.entries import FeedEntry, ParsedFeed
from ..sources.pages import PageRule, parse_page
from ..sources.parse import parse_feed
from ..text.normalize import match_form

T = TypeVar("T")
POOL_FROM_FEEDS = 4  # polls of fewer feeds parse on a thread: starting processes costs more
INLINE_BELOW = 256 * 1024  # bytes; a larger body always goes to a process
TEXT_WORK_MAX = 200  # new entries of one feed: more are prepared by the writer, as they are stored


class Workers:
    def __init__(self, processes: int | None = None):
        self.processes = processes or os.cpu_count() or 1
        self.pooled = False
        self._pool: ProcessPoolExecutor | None = None
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="parse")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")

    def expect(self, feeds: int) -> None:
        """How many feeds this poll parses: enough of them make starting processes worth it."""
        self.pooled = feeds >= POOL_FROM_FEEDS and self.processes > 1

    def _processes(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: workers start from a clean process, never from a fork of this one
            # with its threads (a lock held by another thread at fork time would deadlock them).
            # The fork server loads and warms what they share first (pipeline.warm).
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([f"{__package__}.warm"])
            self._pool = ProcessPoolExecutor(self.processes, mp_context=context)
        return self._pool

    async def parse(self, body: bytes, *, content_type: str | None, encoding: str | None,
                    fetched_at: datetime, outlet: str | None = None, page: PageRule | None = None,
                    base_url: str = "") -> ParsedFeed:
        """A feed's body, or with ``page`` a web page read by its selectors."""
        call = (functools.partial(parse_page, body, page, base_url=base_url, content_type=content_type,
                                  encoding=encoding, fetched_at=fetched_at, outlet=outlet) if page is not None else
                functools.partial(parse_feed, body, content_type=content_type, encoding=encoding,
                                  fetched_at=fetched_at, outlet=outlet))
        executor: Executor = self._processes() if self.pooled or len(body) >= INLINE_BELOW else self._threads
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, call)
        except BrokenProcessPool:
            self._pool = None  # the next feed gets a fresh pool
            return ParsedFeed(failure=Failure(
                FailureKind.PARSER, f"the parser process died on this feed's {len(body)} bytes (out of memory?)"))

    async def text_work(self, entries: Sequence[FeedEntry]) -> TextWork | None:
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
            return await asyncio.get_running_loop().run_in_executor(self._processes(), text_work, list(entries))
        except BrokenProcessPool:
            self._pool = None
            return None

    async def db(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, functools.partial(fn, *args))

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._threads.shutdown(wait=False, cancel_futures=True)
        # The writer finishes the transaction in hand (a chunk of one feed), then stops.
        await asyncio.to_thread(self._writer.shutdown, True, cancel_futures=True)


@dataclass
class TextWork:
    """What matching, the search index and dedupe would compute from new entries' text."""

    forms: dict[str, str] = field(default_factory=dict)  # a title, summary or text -> its match form
    hashes: dict[str, str] = field(default_factory=dict)  # a body -> its content hash
    prepared: dict[tuple[str, str], Prepared] = field(default_factory=dict)  # (title, body) -> dedupe form


def text_work(entries: Sequence[FeedEntry]) -> TextWork:
    work = TextWork()
    for e in entries:
        for s in (e.title, e.summary, e.content):
            if s and s not in work.forms:
                work.forms[s] = match_form(s)
        p = work.prepared[(e.title, e.body)] = for_transfer(prepare(e.title, e.body))
        if e.body and p.content_hash is not None:
            work.hashes[e.body] = p.content_hash  # from prepare's own pass over the text
    return work
