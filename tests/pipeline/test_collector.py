"""The collector held back while a poll runs (pipeline.collector), and given back after it."""
from __future__ import annotations

import gc
import weakref

from helpers.feedserver import Response
from helpers.polling import rss, run_poll, setup

from monitor.pipeline import collector


def test_a_poll_freezes_the_heap_and_spaces_young_collections_then_restores_both(make_config, feed_server):
    feed_server.routes["/f.xml"] = lambda req: Response(200, rss([("g1", "新市民金融服务提速")]),
                                                          {"Content-Type": "application/rss+xml"})
    config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml")}])
    before = gc.get_threshold(), gc.get_freeze_count()
    during = []
    results = run_poll(config, db, on_result=lambda r: during.append((gc.get_threshold()[0], gc.get_freeze_count())))
    assert results["f"].status == "ok" and results["f"].new == 1
    (young, frozen), = during
    assert young == collector.YOUNG
    assert frozen > 10_000  # the modules and the config at least: the full collections skip them
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_overlapping_polls_restore_the_collector_only_when_the_last_ends():
    threshold = gc.get_threshold()
    with collector.quiet():
        with collector.quiet():
            assert gc.get_threshold()[0] == collector.YOUNG
        assert gc.get_threshold()[0] == collector.YOUNG and gc.get_freeze_count() > 0
    assert gc.get_threshold() == threshold and gc.get_freeze_count() == 0


def test_what_was_frozen_is_collected_after_the_poll():
    class Node:
        other: Node

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the collector frees it
    alive = weakref.ref(a)
    with collector.quiet():
        del a, b  # garbage from before the poll: frozen, so not freed while the poll runs
        gc.collect()
        assert alive() is not None
    gc.collect()
    assert alive() is None


def test_what_was_frozen_before_the_poll_stays_frozen_after_it():
    gc.freeze()  # as a process that froze its own start-up heap would have
    try:
        frozen = gc.get_freeze_count()
        with collector.quiet():
            pass
        # Unfrozen, the count would be 0. Not ``>= frozen``: a frozen object that dies meanwhile
        # (a background thread of an earlier test ending) leaves the count (CI saw 402,321 → 402,312).
        assert gc.get_freeze_count() >= 0.99 * frozen > 0
    finally:
        gc.unfreeze()
