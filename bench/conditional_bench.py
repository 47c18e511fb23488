"""A warm poll of unchanged feeds: `monitor poll --all` over FEEDS loopback feeds that all answer
304 Not Modified (the ETags a first poll stored), as a user runs it: a new process, start-up
included. Beside it, in the same run: curl making the same conditional requests (50 at a time, the
monitor's concurrency), and bare feedparser.parse of the same feeds' bodies already in memory
(what a poller that ignores validators pays at the least). Medians of RUNS runs.
Target (issue 21): at least 2x faster than bare parsing of the same feeds, start-up included.
"""
from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import feedparser
from poll_bench import fetch_all, make_config, start_server  # bench/ is on the path: this file runs beside it

FEEDS = int(os.environ.get("BENCH_CONDITIONAL_FEEDS", 300))
RUNS = int(os.environ.get("BENCH_RUNS", 3))
MONITOR = [sys.executable, "-m", "monitor"]


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the child) and stdout of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out


def monitor_poll(config: Path) -> tuple[float, float]:
    wall, cpu, out = timed([*MONITOR, "--config", str(config), "poll", "--all", "--json"])
    statuses = [json.loads(line)["status"] for line in out.splitlines() if line.startswith("{")]
    assert statuses.count("not_modified") == FEEDS, f"expected {FEEDS} feeds not modified, got {statuses[:5]}"
    return wall, cpu


def curl(tmp: Path, base: str) -> float:
    """The same conditional requests from curl: one config entry per feed, 50 in parallel."""
    spec = tmp / "curl.conf"
    spec.write_text("".join(f'url = "{base}/etag/feed/{i}.xml"\nheader = "If-None-Match: \\"{i}-0-50\\""\n'
                            'output = "/dev/null"\nwrite-out = "%{http_code}\\n"\n' for i in range(FEEDS)))
    wall, _, out = timed(["curl", "--silent", "--parallel", "--parallel-max", "50", "--config", str(spec)])
    assert out.split().count("304") == FEEDS, out[:200]
    return wall


def bare_parse(bodies: list[bytes]) -> float:
    start = time.perf_counter()
    for body in bodies:
        feedparser.parse(body)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server, base = start_server(tmp)
        try:
            bodies = asyncio.run(fetch_all(base))[:FEEDS]
            config = make_config(tmp, f"{base}/etag", 0, FEEDS)  # /etag/: the server answers 304s
            subprocess.run([*MONITOR, "--config", str(config), "db", "upgrade"], check=True, capture_output=True)
            subprocess.run([*MONITOR, "--config", str(config), "poll", "--all"], check=True, capture_output=True)
            polls, cpus, curls, bares = [], [], [], []
            for _ in range(RUNS):
                wall, cpu = monitor_poll(config)
                polls.append(wall)
                cpus.append(cpu)
                if shutil.which("curl"):
                    curls.append(curl(tmp, base))
                bares.append(bare_parse(bodies))
        finally:
            server.kill()
    p, c, b = (statistics.median(x) for x in (polls, cpus, bares))
    print(f"conditional poll: {FEEDS} loopback feeds, every one answering 304, median of {RUNS} runs")
    print(f"  monitor poll --all (a new process, start-up included)  {p:6.2f} s   ({c:.2f} s of CPU)")
    if curls:
        print(f"  peer: curl, the same {FEEDS} conditional requests, 50 at a time  {statistics.median(curls):6.2f} s")
    else:
        print("  peer: curl is not installed (apt-get install curl): its line is left out")
    print(f"  peer: bare feedparser.parse of the same {FEEDS} bodies, one core  {b:6.2f} s   "
          f"(bare parsing takes {b / p:.2f}x the monitor's time; target >= 2x)")


if __name__ == "__main__":
    main()
