"""Imported by the parse pool's fork server only (``Workers``: ``set_forkserver_preload``), never
by the job process: it loads what the workers use and puts one small feed through it.

Why: the workers are forked from the fork server, so what it holds before forking is shared by
both (copy-on-write); what a worker builds on its first feed is its own. Importing the modules
alone shared nothing measurable (the pool, fork server and two workers, stayed at 87 MB PSS through
a 400-feed cold poll): the memory is in what they build on first use, OpenCC's dictionaries and
the tables and patterns made lazily, and in the garbage the imports leave, which each worker
would otherwise collect on pages of its own. Warmed and collected here: 68 MB.
"""
from __future__ import annotations

import contextlib
import gc
from datetime import UTC, datetime

from .workers import text_work, warm_feed

with contextlib.suppress(Exception):  # only a saving: a worker builds what it needs on its first feed anyway
    text_work(warm_feed(datetime.now(UTC)).entries)
gc.collect()
