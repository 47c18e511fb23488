"""The parse pool forked from the poll job itself, before it starts a thread (``fork_pool``).

Why: otherwise the workers start from a fork server, a fresh interpreter that imports and warms
the parsing and text libraries again (``pipeline.warm``), so the job and the pool each held a
copy of them. Measured at the peak of a 1,000-feed cold poll (in-process, as
bench/poll_bench.py runs it, PSS): the job 144-145 MB, the fork server and its two workers
154-155, its resource tracker 7, 312 MB in all (two runs); forked from the job, which has
loaded and warmed the same libraries, the workers share its pages (copy-on-write): the job
118, the workers 98, 216-217 MB (three runs). The fork server's start-up, about 2 s of
CPU a poll, goes too.

A process that runs threads must not fork (a lock another thread holds at that moment stays
held in the child, for ever), so the pool is forked only while the process has one thread: the
poll job forks it before its event loop starts, and so before any poll work: what the process
rewrites after the fork is copied, while the workers keep the original (a pool forked from the
heap one poll left, for a second poll in the same process, peaked at 249-254 MB). ``for_poll``
decides, for the daemon's poll job and ``monitor poll`` alike; anywhere else (a pool started again
after a worker died, a routine poll whose parsing proves long) ``Workers`` starts the fork server's
pool as before.
"""
from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..sources.parse import parse_feed
from ..watch.query import Node
from .workers import POOL_FROM_FEEDS, install, text_work

if TYPE_CHECKING:  # the fork server imports this module (``warm``): no database or config libraries in it
    from ..config import Config
    from .process import Processor

log = logging.getLogger(__name__)

# A small feed whose parse and text work take the paths a Chinese feed takes: traditional script,
# HTML in the description, figures.
_ITEM = ("<item><title>城商行推出新市民信用貸款 額度30萬元</title><link>http://127.0.0.1/warm</link><description>"
         "&lt;p&gt;面向新就業形態勞動者，年化利率3.5%，審批縮短至兩個工作日。&lt;/p&gt;</description></item>")
_FEED = f"<?xml version='1.0'?><rss version='2.0'><channel><title>預熱</title>{_ITEM}</channel></rss>"


def warm() -> None:
    """Build what parsing and text work build on first use (OpenCC's dictionaries, the tables and
    patterns made lazily) in the process the workers are forked from, so they share it."""
    with contextlib.suppress(Exception):  # only a saving: a worker builds what it needs on its first feed anyway
        text_work(parse_feed(_FEED.encode(), content_type="application/rss+xml", fetched_at=datetime.now(UTC)).entries)


def fork_pool(watches: Sequence[tuple[str, Node]], processes: int | None = None, *,
              close: Sequence[int] = ()) -> ProcessPoolExecutor | None:
    """A pool of ``processes`` workers forked from this process now, warmed first; None where
    forking is unsafe (another thread runs), impossible (no ``fork``) or useless (one core):
    the poll then starts the fork server's pool if it needs one. ``close``: file descriptors the
    workers inherit but must not hold (a pipe whose reader waits for its end)."""
    processes = processes or os.cpu_count() or 1
    if processes < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    if threading.active_count() > 1:
        log.debug("parse pool not forked: %d threads run in this process", threading.active_count())
        return None
    warm()
    # Frozen while forking: the workers' collections then never walk (and so copy) what they
    # inherit. Thawed here at once, so this process collects as before.
    gc.collect()
    gc.freeze()
    pool: ProcessPoolExecutor | None = None
    try:
        pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"), initializer=install,
                                   initargs=(list(watches), os.getpid(), tuple(close)))
        # For ``fork`` the executor starts every worker at its first task, here, from this
        # thread, before it starts its own management thread.
        pool.submit(int).result()
    except Exception as e:  # OSError (no memory or pipes for a process), BrokenProcessPool
        log.warning("parse pool not forked (%s); the poll starts one from a fork server if it needs it", e)
        if pool is not None:  # broken: its threads and workers are ending; wait for them
            pool.shutdown(wait=True, cancel_futures=True)
        return None
    finally:
        gc.unfreeze()
    log.debug("parse pool forked from this process (%d): %d workers", os.getpid(), processes)
    return pool


def for_poll(config: Config, *, names: Sequence[str] | None = None, due_only: bool = True, new_feeds: bool = True,
             close: Sequence[int] = ()) -> tuple[Processor, ProcessPoolExecutor] | None:
    """The parse pool of a poll about to run in this process, forked now, with the Processor whose
    watches its workers compiled: when POOL_FROM_FEEDS or more of the feeds it polls (``names``, or
    every feed, or with ``due_only`` the due ones) are polled for the first time, so that it parses
    in processes from its start (``Workers.expect``). ``new_feeds``: the config's feeds the store
    has no row of yet count (the poll adds them first). Otherwise None: the poll starts a fork
    server's pool if it comes to need one (idle forked workers are not free: what this process
    rewrites while they live is copied, the originals staying with them). The count is read on a
    database handle of its own, closed before the fork (its checkpoint thread with it); a database
    that does not answer is left to the poll, which reports it."""
    from ..sources.specs import desired_feeds
    from ..store import Database, stats
    from .process import Processor

    try:
        db = Database(config.database)
        try:
            wanted = [f.name for f in desired_feeds(config) if names is None or f.name in names]
            with db.session() as s:
                first = stats.first_polls(s, datetime.now(UTC) if due_only else None, names,
                                          new=wanted if new_feeds else ())
        finally:
            db.dispose()
    except Exception as e:
        log.debug("no parse pool forked: the database did not answer (%s)", e)
        return None
    if first < POOL_FROM_FEEDS:
        return None
    processor = Processor(config)
    pool = fork_pool(processor.matcher.watches, close=close)
    return (processor, pool) if pool is not None else None
