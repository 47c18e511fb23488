"""What a job process of `monitor run` costs to start and run, beside the resting daemon that starts
it: wall time and CPU (user + system) of `python -m monitor.daemon.work` as the daemon runs it, for a
poll round that finds nothing due (the store only is loaded), a poll of one loopback feed (the poll's
libraries too), and an outbox round with nothing to send. Median of RUNS runs each.
"""
from __future__ import annotations

import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import feed_server  # bench/ is on the path: these files run as scripts beside it
import yaml

HERE = Path(__file__).resolve().parent
RUNS = int(os.environ.get("BENCH_RUNS", 5))


def job(config: Path, *args: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one job process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "monitor.daemon.work", *args, "--config", str(config),
                          "--parent", str(os.getpid())], input=config.read_bytes(), capture_output=True, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert b'"ok": true' in out.stdout.splitlines()[-1], out
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server, base = feed_server.start(tmp)
        try:
            config = tmp / "config.yaml"
            config.write_text(yaml.safe_dump({
                "database": f"sqlite:///{tmp / 'jobs.db'}",
                "feeds": [{"name": "one", "url": f"{base}/feed/1.xml", "interval": "1h"}],
                "watches": [{"name": "新市民", "query": "新市民 (贷款 OR 信用卡 OR 银行)"}],
                "digest": {"recipients": ["analyst@example.com"]},
                "mail": {"from": "monitor@example.com", "transport": "file", "outbox": str(tmp / "outbox")},
            }, allow_unicode=True), encoding="utf-8")
            subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "db", "upgrade"], check=True,
                           capture_output=True)
            rows: dict[str, list[tuple[float, float, float]]] = {"poll, nothing due": [], "poll of one feed (due)": [], "outbox round, nothing to send": []}
            job(config, "poll", "--sync")  # the feed's row, as the daemon's first poll makes it
            for _ in range(RUNS):
                with sqlite3.connect(tmp / "jobs.db") as db:  # due again (the bench's own shortcut)
                    db.execute("UPDATE feeds SET next_poll_at = NULL, etag = NULL, last_modified = NULL")
                rows["poll of one feed (due)"].append(job(config, "poll"))
                assert "one" in sqlite3.connect(tmp / "jobs.db").execute(
                    "SELECT group_concat(name) FROM feeds WHERE next_poll_at IS NOT NULL").fetchone()[0]
                rows["poll, nothing due"].append(job(config, "poll"))
                rows["outbox round, nothing to send"].append(job(config, "mail"))
        finally:
            server.kill()
    print(f"a job process of `monitor run`, started as the daemon starts it; median of {RUNS} runs")
    for name, runs in rows.items():
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"  {name:32s} {wall:5.2f} s wall, {cpu:5.2f} s CPU")
    print(f"  (peak RSS of the largest job: {max(r[2] for runs in rows.values() for r in runs):.0f} MB)")


if __name__ == "__main__":
    main()
