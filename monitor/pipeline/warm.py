"""Imported by the parse pool's fork server only (``Workers``: ``set_forkserver_preload``), never
by the job process: it loads what the workers use and puts one small feed through it
(``pool.warm``; a pool forked from the job itself, ``pool.fork_pool``, is warmed there instead).

Why: the workers are forked from the fork server, so what it holds before forking is shared by
both (copy-on-write); what a worker builds on its first feed is its own. Importing the modules
alone shared nothing measurable (the pool, fork server and two workers, stayed at 87 MB PSS through
a 400-feed cold poll): the memory is in what they build on first use, OpenCC's dictionaries and
the tables and patterns made lazily, and in the garbage the imports leave, which each worker
would otherwise collect on pages of its own. Warmed and collected here: 68 MB.

What is left is then frozen (``gc.freeze``): a worker's garbage collections would otherwise walk
every object inherited from here and write to their headers, copying the pages they sit on into
the worker. On a 1,000-feed cold poll the pool's PSS went from 80-82 to 72-73 MB (five runs each).
"""
from __future__ import annotations

import gc

from .pool import warm

warm()
gc.collect()
gc.freeze()
