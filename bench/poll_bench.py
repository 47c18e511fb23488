"""Poll throughput: 1,000 loopback feeds of 50 items, against bare feedparser on the same bytes.

Prints feeds/second for (a) bare feedparser.parse of the bodies already in memory, one core;
(b) a naive pipeline an engineer would write in an afternoon (httpx, feedparser, sqlite3
executemany; no cleaning, dedupe or matching); (c) the full poll (fetch + decode + parse + clean
+ store, then dedupe and match in the same transaction) when every item is new, and after it the
search index written for those items (the poll job's last step: alerts go out before it); (d) the
steady state when the items are already stored. All in the same run, medians of RUNS runs.
"""
from __future__ import annotations

import asyncio
import logging
import os
import resource
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import feedparser
import httpx
import yaml

from monitor.config import load_config
from monitor.pipeline.index import index_queued
from monitor.pipeline.poll import poll
from monitor.pipeline.pool import fork_pool
from monitor.pipeline.process import Processor
from monitor.store import Database

FEEDS = int(os.environ.get("BENCH_FEEDS", 1000))
RUNS = int(os.environ.get("BENCH_RUNS", 3))
HERE = Path(__file__).resolve().parent


def start_server(tmp: Path) -> tuple[subprocess.Popen, str]:
    import feed_server

    return feed_server.start(tmp)


def make_config(tmp: Path, base: str, run: int, feeds: int = FEEDS) -> Path:
    path = tmp / f"config{run}.yaml"
    data = {
        "database": f"sqlite:///{tmp / f'bench{run}.db'}",
        "seeds": None,
        "fetch": {"concurrency": 50, "per_host": 50},
        "feeds": [{"name": f"f{i}", "url": f"{base}/feed/{i}.xml"} for i in range(feeds)],
        "watches": [{"name": "w", "keywords": ["新市民"]}],
        "digest": {"recipients": ["a@example.com"]},
        "mail": {"from": "m@example.com"},
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def passage_sharing() -> tuple[float, float, int]:
    """Indexed passages an item shares with unrelated items, per anchor: the bench feeds' text and
    the real articles of ../shared/corpora, in stores of the same size. It sets how many stored
    candidates each new item's dedupe check reads and verifies."""
    import collections

    import feed_server
    from dedupe_bench import load_articles

    from monitor.dedupe.fingerprint import prepare
    from monitor.sources.parse import parse_feed

    real: dict[str, str] = {}  # one article per title: the corpora hold copies of the same story
    corpora = HERE.parent.parent / "shared" / "corpora"
    for f in sorted((corpora / "real_feeds").glob("*")) + sorted((corpora / "zh_feeds").glob("*")):
        for e in parse_feed(f.read_bytes()).entries if f.suffix in (".xml", ".json") else []:
            if len(e.body or "") > 150:
                real.setdefault(e.title, e.body)
    real.update((a.title, a.body) for a in sum(load_articles(), []) if len(a.body) > 150)

    def per_anchor(articles: list[tuple[str, str]]) -> float:
        anchors = [set(prepare(t, b).anchors.tolist()) for t, b in articles]
        count = collections.Counter(h for a in anchors for h in a)
        return sum(count[h] - 1 for a in anchors for h in a) / max(1, sum(map(len, anchors)))

    n = len(real)
    return per_anchor([feed_server.article(k // 50, k % 50) for k in range(n)]), per_anchor(list(real.items())), n


def pool_cpu() -> float:
    """CPU seconds of the parse processes that have ended: their fork server (a child of this
    process) reaps them, so their time is in its children's time. Waits (bounded) until the
    workers a poll shut down have gone."""
    hz = os.sysconf("SC_CLK_TCK")
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and b"multiprocessing.forkserver" in command:
            for _ in range(100):  # bounded: 5 s
                children = Path(f"/proc/{pid}/task/{pid}/children")
                if not children.exists() or not children.read_text().strip():
                    break
                time.sleep(0.05)
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(stat[13]) + int(stat[14])) / hz
    return 0.0


def children_cpu() -> float:
    """CPU seconds of this process's children that have ended: the parse processes a poll
    forked from it (``pipeline.pool``), once its pool is shut down."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class WriterCpu(logging.Handler):
    """The writer thread's CPU of each poll, from the line ``poll()`` logs as it ends."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seconds: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("poll: the writer thread used "):
            self.seconds.append(float(message.split()[5]))


def bare_parse(bodies: list[bytes]) -> float:
    start = time.perf_counter()
    for b in bodies:
        feedparser.parse(b)
    return len(bodies) / (time.perf_counter() - start)


async def naive_poll(base: str, db: Path) -> float:
    """httpx with 50 requests at a time, feedparser on the loop, one executemany per feed."""
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE IF NOT EXISTS items (guid TEXT PRIMARY KEY, feed TEXT, title TEXT, link TEXT, "
                 "summary TEXT, published TEXT)")
    gate = asyncio.Semaphore(50)
    start = time.perf_counter()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50)) as client:
        async def one(i: int) -> None:
            async with gate:
                body = (await client.get(f"{base}/feed/{i}.xml")).content
            parsed = feedparser.parse(body)
            conn.executemany("INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?, ?, ?)",
                             [(e.get("id"), str(i), e.get("title"), e.get("link"), e.get("summary"),
                               e.get("published")) for e in parsed.entries])
            conn.commit()
        await asyncio.gather(*(one(i) for i in range(FEEDS)))
    conn.close()
    return FEEDS / (time.perf_counter() - start)


async def fetch_all(base: str) -> list[bytes]:
    async with httpx.AsyncClient() as client:
        return [(await client.get(f"{base}/feed/{i}.xml")).content for i in range(FEEDS)]


def main() -> None:
    writer = WriterCpu()
    logging.getLogger("monitor.poll").addHandler(writer)
    logging.getLogger("monitor.poll").setLevel(logging.DEBUG)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server, base = start_server(tmp)
        try:
            bodies = asyncio.run(fetch_all(base))
            bare: list[float] = []
            naive: list[float] = []
            cold: list[float] = []
            warm: list[float] = []
            index: list[tuple[float, float, float]] = []  # (items/s, poll s, index s)
            cpu: list[tuple[float, float, float]] = []  # the cold poll's (this process, parse processes, bare parsing)
            writer_cpu: list[float] = []  # the cold poll's writer thread
            forked: list[bool] = []  # whether each poll's parse pool was forked from this process
            for run in range(RUNS):
                bare_cpu = own_cpu()  # the ratio of CPU to CPU below is spared the wall time's noise
                bare.append(bare_parse(bodies))
                bare_cpu = own_cpu() - bare_cpu
                naive.append(asyncio.run(naive_poll(base, tmp / f"naive{run}.db")))
                config = load_config(make_config(tmp, base, run))
                db = Database(config.database)
                db.migrate()
                db.dispose()
                for bucket in (cold, warm):
                    # As the daemon's poll job runs it (daemon.work): the parse pool forked from this
                    # process while it has one thread (its start in the poll's time), then the store.
                    cpu_before = own_cpu(), pool_cpu(), children_cpu()
                    start = time.perf_counter()
                    processor = Processor(config)
                    pool = fork_pool(processor.matcher.watches)
                    forked.append(pool is not None)
                    db = Database(config.database)
                    results = asyncio.run(poll(config, db, owner="bench", due_only=False, processor=processor,
                                               pool=pool))
                    if pool is not None:
                        pool.shutdown()
                    elapsed = time.perf_counter() - start
                    bad = [r for r in results if r.status != "ok"]
                    assert len(results) == FEEDS and not bad, bad[:3]
                    bucket.append(FEEDS / elapsed)
                    if bucket is cold:  # and what the poll job does next: the search index for what it stored
                        writer_cpu.append(writer.seconds[-1])
                        cpu.append((own_cpu() - cpu_before[0],
                                    pool_cpu() - cpu_before[1] + children_cpu() - cpu_before[2], bare_cpu))
                        start = time.perf_counter()
                        indexed = index_queued(db)
                        index.append((indexed / (time.perf_counter() - start), elapsed, time.perf_counter() - start))
                    db.dispose()
        finally:
            server.kill()
    b, n, c, w = (statistics.median(x) for x in (bare, naive, cold, warm))
    per_second = statistics.median(x[0] for x in index)
    with_index = statistics.median(FEEDS / (x[1] + x[2]) for x in index)
    shared, real, size = passage_sharing()
    print(f"poll: {FEEDS} loopback feeds x 50 items, concurrency 50, median of {RUNS} runs, {os.cpu_count()} cores")
    print(f"  workload: items share {shared:.2f} indexed passages per anchor with unrelated items "
          f"(real articles of the corpora: {real:.2f}; stores of {size}); text of a Markov chain of order "
          f"{os.environ.get('BENCH_MARKOV_ORDER', 1)}")
    print(f"  parse pool: forked from the poll's process in {sum(forked)} of {len(forked)} polls, as the daemon's poll "
          "job does (else started from a fork server)")
    print(f"  peer: bare feedparser.parse (bytes in memory, one core)  {b:8.1f} feeds/s")
    print(f"  peer: naive pipeline (httpx + feedparser + sqlite3)       {n:8.1f} feeds/s")
    print(f"  poll, all items new (fetch+parse+store+dedupe+match)      {c:8.1f} feeds/s   "
          f"{b / c:4.2f}x the time of bare parsing, {n / c:4.2f}x the naive pipeline's")
    print(f"  poll, items already stored                              {w:8.1f} feeds/s   "
          f"{b / w:4.2f}x the time of bare parsing, {n / w:4.2f}x the naive pipeline's")
    print(f"  then the search index for what it stored                  {per_second:8.0f} items/s;   "
          f"poll + index {with_index:.1f} feeds/s, {b / with_index:4.2f}x the time of bare parsing")
    job_s, pool_s, bare_s = (statistics.median(x[k] for x in cpu) for k in range(3))
    print(f"  the cold poll's CPU: this process {job_s:.1f} s (the writer thread, the event loop), parse processes "
          f"{pool_s:.1f} s; {(job_s + pool_s) / bare_s:.2f}x the CPU of bare parsing ({bare_s:.1f} s), so on "
          f"{os.cpu_count()} cores it cannot take less than {(job_s + pool_s) / (os.cpu_count() or 1) / bare_s:.2f}x "
          "its time")
    w_s = statistics.median(writer_cpu)
    print(f"  of this process's, the writer thread (store, dedupe, commit; one thread: SQLite takes one writer) "
          f"{w_s:.1f} s, {w_s / bare_s:.2f}x bare parsing's CPU: no poll that stores on it takes less time")
    # Wall over the least the CPU allows: the machine's speed, which moves both, cancels out.
    busy = statistics.median(x[1] / ((c[0] + c[1]) / (os.cpu_count() or 1)) for x, c in zip(index, cpu, strict=True))
    print(f"  the cold poll's wall time is {busy:.2f}x that least (1.00: every core busy throughout)")
    print("  target (issue 21): a cold poll within 2x of bare parsing; 1,000 feeds in under 20 s")


if __name__ == "__main__":
    main()
