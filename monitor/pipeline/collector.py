"""The garbage collector held back while a poll runs (``quiet``).

Why: a poll allocates millions of small objects (entries, prepared forms, rows, postings), and
CPython's collector runs every 700 net allocations, each run holding the GIL the writer thread
needs. Measured on a 1,000-feed cold poll (in-process, as ``bench/poll_bench.py`` runs it):
2,300 young and 16 full collections, 2.1-3.1 s with the GIL held, the full ones about 80 ms each
because they walk every object the process made before the poll (modules, the config, the
compiled watches) though none of that can become garbage while the poll runs.

So for the poll's duration those objects are frozen (``gc.freeze``: the collector no longer
walks them) and a young collection waits for 10,000 net allocations instead of 700. Measured
the same way (five runs with, five without): 0.13-0.24 s of collection. Both are undone when
the poll ends (the freeze only if nothing was frozen before: a heap someone else froze stays
so); what was frozen is collected normally afterwards, so nothing is kept longer than the poll,
and cyclic garbage waits for at most 10,000 allocations.
"""
from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

YOUNG = 10_000  # net allocations between young collections while a poll runs (CPython's default: 700)

_lock = threading.Lock()
_depth = 0  # polls running in this process: only the first changes the collector, the last restores it
_saved: tuple[int, ...] = ()
_thaw = False  # unfreeze at the end: nothing was frozen before (what someone else froze stays so)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    global _depth, _saved, _thaw
    with _lock:
        _depth += 1
        if _depth == 1:
            _saved = gc.get_threshold()
            _thaw = gc.get_freeze_count() == 0
            gc.freeze()
            gc.set_threshold(max(YOUNG, _saved[0]), *_saved[1:])
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
                if _thaw:
                    gc.unfreeze()
