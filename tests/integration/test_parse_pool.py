"""When a poll starts its parse processes: at once for feeds fetched for the first time, only once
parsing has proved long for feeds seen before (pipeline.workers)."""
from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from helpers.feedserver import Response
from helpers.polling import rss, run_poll, setup

from monitor.pipeline.workers import POOL_FROM_FEEDS, Workers
from monitor.sources.parse import parse_feed

BODY = rss([(f"g{i}", f"城商行推出新市民信用貸 第{i}期") for i in range(5)])
STARTED = "parse pool started"


def parse_n(workers: Workers, n: int) -> list:
    async def run():
        try:
            return [await workers.parse(BODY, content_type="application/rss+xml", encoding=None,
                                        fetched_at=datetime(2026, 12, 6, tzinfo=UTC)) for _ in range(n)]
        finally:
            await workers.close()

    return asyncio.run(run())


def test_known_feeds_parse_on_threads_while_parsing_is_short():
    workers = Workers(processes=2)
    workers.expect(10, first=0)
    parsed = parse_n(workers, 4)
    assert not workers.started and not workers.pooled
    assert 0 < workers.thread_parse_seconds < 1
    assert [len(p.entries) for p in parsed] == [5] * 4


def test_known_feeds_move_to_the_pool_once_parsing_proves_long():
    workers = Workers(processes=2, pool_for=0.0)  # any parse on a thread is "long"
    workers.expect(10, first=0)
    parsed = parse_n(workers, 2)
    assert workers.pooled and workers.started  # the first on a thread, the second in the pool
    expected = parse_feed(BODY, content_type="application/rss+xml", fetched_at=datetime(2026, 12, 6, tzinfo=UTC))
    assert [e.title for e in parsed[1].entries] == [e.title for e in expected.entries]


def test_a_large_poll_of_known_feeds_moves_to_the_pool_on_the_estimate():
    """Before its parsing has taken long: the first feeds' mean, times the feeds of the poll."""
    workers = Workers(processes=2, pool_for=1.0)
    workers.expect(100_000, first=0)
    parse_n(workers, POOL_FROM_FEEDS + 1)
    assert workers.started and workers.thread_parse_seconds < 1.0
    small = Workers(processes=2, pool_for=1.0)
    small.expect(POOL_FROM_FEEDS + 1, first=0)  # the same feeds, few of them
    parse_n(small, POOL_FROM_FEEDS + 1)
    assert not small.started


def test_a_small_poll_never_moves_to_the_pool():
    workers = Workers(processes=2, pool_for=0.0)
    workers.expect(POOL_FROM_FEEDS - 1, first=0)
    parse_n(workers, 3)
    assert not workers.started


def test_enough_first_time_feeds_start_the_pool_at_once():
    workers = Workers(processes=2)
    workers.expect(10, first=POOL_FROM_FEEDS)
    parse_n(workers, 1)
    assert workers.started and workers.thread_parse_seconds == 0
    few = Workers(processes=2)
    few.expect(10, first=POOL_FROM_FEEDS - 1)
    parse_n(few, 1)
    assert not few.started


def test_a_poll_starts_processes_for_new_feeds_and_not_for_the_next_poll(make_config, feed_server, caplog):
    n = POOL_FROM_FEEDS + 1
    for k in range(n):
        feed_server.routes[f"/f{k}.xml"] = Response(200, rss([(f"f{k}-{i}", f"消费金融 第{k}-{i}篇") for i in range(3)]))
    config, db = setup(make_config, [{"name": f"f{k}", "url": feed_server.url(f"/f{k}.xml")} for k in range(n)])
    caplog.set_level(logging.DEBUG, logger="monitor.pipeline.workers")
    first = run_poll(config, db)
    assert [r.new for r in first.values()] == [3] * n
    assert sum(STARTED in r.message for r in caplog.records) == 1
    caplog.clear()
    for k in range(n):  # one new entry each: the daemon's routine poll
        feed_server.routes[f"/f{k}.xml"] = Response(200, rss([(f"f{k}-{i}", f"消费金融 第{k}-{i}篇") for i in range(4)]))
    second = run_poll(config, db, due_only=False)
    assert [r.new for r in second.values()] == [1] * n
    assert not any(STARTED in r.message for r in caplog.records)
