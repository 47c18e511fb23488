"""Poll throughput: 1,000 loopback feeds of 50 items, against bare feedparser on the same bytes.

Prints feeds/second for (a) bare feedparser.parse of the bodies already in memory, (b) the full
poll (fetch + decode + parse + clean + store, then dedupe and match in the same transaction)
when every item is new, (c) the steady state when
the items are already stored. Medians of RUNS runs.
"""
from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import feedparser
import httpx
import yaml

from monitor.config import load_config
from monitor.pipeline.poll import poll
from monitor.store import Database

FEEDS = int(os.environ.get("BENCH_FEEDS", 1000))
RUNS = int(os.environ.get("BENCH_RUNS", 3))
HERE = Path(__file__).resolve().parent


def start_server(tmp: Path) -> tuple[subprocess.Popen, str]:
    port_file = tmp / "port"
    proc = subprocess.Popen([sys.executable, str(HERE / "feed_server.py"), str(port_file), "50"])
    for _ in range(200):
        if port_file.exists() and port_file.read_text():
            return proc, f"http://127.0.0.1:{port_file.read_text()}"
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("bench feed server did not start")


def make_config(tmp: Path, base: str, run: int) -> Path:
    path = tmp / f"config{run}.yaml"
    data = {
        "database": f"sqlite:///{tmp / f'bench{run}.db'}",
        "seeds": None,
        "fetch": {"concurrency": 50, "per_host": 50},
        "feeds": [{"name": f"f{i}", "url": f"{base}/feed/{i}.xml"} for i in range(FEEDS)],
        "watches": [{"name": "w", "keywords": ["新市民"]}],
        "digest": {"recipients": ["a@example.com"]},
        "mail": {"from": "m@example.com"},
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def bare_parse(bodies: list[bytes]) -> float:
    start = time.perf_counter()
    for b in bodies:
        feedparser.parse(b)
    return len(bodies) / (time.perf_counter() - start)


async def fetch_all(base: str) -> list[bytes]:
    async with httpx.AsyncClient() as client:
        return [(await client.get(f"{base}/feed/{i}.xml")).content for i in range(FEEDS)]


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server, base = start_server(tmp)
        try:
            bodies = asyncio.run(fetch_all(base))
            bare, cold, warm = [], [], []
            for run in range(RUNS):
                bare.append(bare_parse(bodies))
                config = load_config(make_config(tmp, base, run))
                db = Database(config.database)
                db.migrate()
                for bucket in (cold, warm):
                    start = time.perf_counter()
                    results = asyncio.run(poll(config, db, owner="bench", due_only=False))
                    elapsed = time.perf_counter() - start
                    bad = [r for r in results if r.status != "ok"]
                    assert len(results) == FEEDS and not bad, bad[:3]
                    bucket.append(FEEDS / elapsed)
                db.dispose()
        finally:
            server.kill()
    b, c, w = (statistics.median(x) for x in (bare, cold, warm))
    print(f"poll: {FEEDS} loopback feeds x 50 items, concurrency 50, median of {RUNS} runs")
    print(f"  bare feedparser.parse (bytes in memory)             {b:8.1f} feeds/s")
    print(f"  poll, all items new (fetch+parse+store+dedupe+match) {c:8.1f} feeds/s   ratio to bare {b / c:4.2f}x")
    print(f"  poll, items already stored                         {w:8.1f} feeds/s   ratio to bare {b / w:4.2f}x (target: both <= 2x)")


if __name__ == "__main__":
    main()
