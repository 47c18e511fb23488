"""Imported by the parse pool's fork server only (``Workers``: ``set_forkserver_preload``), never
by the job process: it loads what the workers use and puts one small feed through it.

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

import contextlib
import gc
from datetime import UTC, datetime

from ..sources.parse import parse_feed
from .workers import text_work

# A small feed whose parse and text work take the paths a Chinese feed takes: traditional script,
# HTML in the description, figures.
_ITEM = ("<item><title>城商行推出新市民信用貸款 額度30萬元</title><link>http://127.0.0.1/warm</link><description>"
         "&lt;p&gt;面向新就業形態勞動者，年化利率3.5%，審批縮短至兩個工作日。&lt;/p&gt;</description></item>")
_FEED = f"<?xml version='1.0'?><rss version='2.0'><channel><title>預熱</title>{_ITEM}</channel></rss>"

with contextlib.suppress(Exception):  # only a saving: a worker builds what it needs on its first feed anyway
    text_work(parse_feed(_FEED.encode(), content_type="application/rss+xml", fetched_at=datetime.now(UTC)).entries)
gc.collect()
gc.freeze()
