"""Moving SQLite's write-ahead log into the database file on a thread of its own.

SQLite's automatic checkpoint runs inside the commit that crosses its threshold: that commit
copies the log into the database and waits for its fsync. On a large store each feed's commit
dirties hundreds of index pages scattered over the file, so those checkpoints were most of the
writer's time: on a 1M-article store, 450 of 1,000 µs per article stored (bench/dedupe_bench.py).
The writer thread is the one every feed of a poll waits for; a checkpoint need not be.

So each connection's own checkpoint is pushed out to a safety limit (``SAFETY_PAGES``: reached
only if this thread falls behind or is not running, as in a process that never opened a
``Database``), and a ``Checkpointer`` thread, woken by commits, runs PASSIVE checkpoints: they
never block a writer or a reader, and copy what no reader still needs.
"""
from __future__ import annotations

import atexit
import logging
import sqlite3
import threading
import weakref
from pathlib import Path

log = logging.getLogger("monitor.store")

SAFETY_PAGES = 40_000  # 160 MB of log: each connection checkpoints itself only past this
SETTLE_SECONDS = 0.5  # after a commit, wait for more before checkpointing (one pass for a burst)
IDLE_SECONDS = 60.0  # with no commit for this long, the thread ends
JOURNAL_LIMIT = 64 * 2**20  # bytes of log file kept after a checkpoint (the rest is truncated)


_LIVE: weakref.WeakSet[Checkpointer] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """At exit, before the interpreter drops its connections: a checkpoint thread's connection still
    open would keep SQLite from checkpointing and removing the log when the last one closes (a
    command that polled left its whole log behind, and the next one appended to it)."""
    for checkpointer in list(_LIVE):
        checkpointer.close()


class Checkpointer:
    """One per ``Database`` on a SQLite file; started by the first commit, stopped by ``close``."""

    def __init__(self, path: Path, busy_ms: int):
        self.path = path
        self.busy_ms = busy_ms
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.passes = 0  # checkpoints run (tests and benches read it)
        _LIVE.add(self)

    def committed(self, *_: object) -> None:
        """A commit happened: there is log to move (the listener of the engine's commit event)."""
        with self._lock:
            self._wake.set()
            if (self._thread is None or not self._thread.is_alive()) and not self._closing.is_set():
                self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=self.busy_ms / 1000, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_LIMIT}")
            while self._next():
                # Settle: a poll commits feed after feed; one checkpoint per burst is enough.
                if self._closing.wait(SETTLE_SECONDS):
                    break
                self._checkpoint(conn)
        finally:
            conn.close()

    def _next(self) -> bool:
        """Wait for a commit; False when none came for IDLE_SECONDS (the thread and its connection
        end: a process at rest keeps neither; the next commit starts them again)."""
        if self._wake.wait(IDLE_SECONDS):
            self._wake.clear()
            return True
        with self._lock:  # a commit between the time-out and here still finds a thread to wake
            if self._wake.is_set():
                self._wake.clear()
                return True
            self._thread = None
            return False

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.passes += 1
        except sqlite3.Error as e:
            # Not the user's business: the next commit wakes us again, the log's safety limit holds
            # meanwhile, and a cause that lasts (a full disk) fails the writes themselves, which say
            # so in the one line a command or a job reports.
            log.debug("checkpoint of %s failed: %s", self.path, e)

    def close(self) -> None:
        """Stop the thread; SQLite checkpoints what is left when the last connection closes."""
        with self._lock:
            self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
