"""Memory at rest: `monitor run` with one loopback feed, its RSS once the first poll is done and
the daemon idles (with any process it started that still runs: jobs run in processes of their
own, and one that stayed would be memory at rest too), beside the card's libraries imported alone
in a bare interpreter (the floor any monitor built on them starts from). Target: the daemon at
rest under 80 MB. Median of RUNS runs.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import feed_server  # bench/ is on the path: these files run as scripts beside it
import yaml
from soak_bench import descendants, rss_mb  # bench/ is on the path: this file runs as a script beside it

HERE = Path(__file__).resolve().parent
RUNS = int(os.environ.get("BENCH_RUNS", 3))
CARD = "import apscheduler, httpx, feedparser, sqlalchemy, jinja2"


def libraries_alone() -> float:
    out = subprocess.run([sys.executable, "-c", CARD + "; import os; print(open(f'/proc/{os.getpid()}/status').read())"],
                         capture_output=True, text=True, check=True).stdout
    return next(int(x.split()[1]) / 1024 for x in out.splitlines() if x.startswith("VmRSS:"))


def daemon_at_rest(tmp: Path, base: str, run: int) -> tuple[float, int]:
    config = {
        "database": f"sqlite:///{tmp / f'rest{run}.db'}", "seeds": str(HERE.parent / "seeds"),
        "feeds": [{"name": "one", "url": f"{base}/feed/1.xml", "interval": "1h"}],
        "watches": [{"name": "新市民", "query": "新市民 (贷款 OR 信用卡 OR 银行)"}],
        "digest": {"recipients": ["analyst@example.com"]},
        "mail": {"from": "monitor@example.com", "transport": "file", "outbox": str(tmp / "outbox")},
    }
    path = tmp / f"rest{run}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), "db", "upgrade"], check=True,
                   capture_output=True)
    daemon = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(path), "run"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    polled = threading.Event()

    def read() -> None:
        for line in daemon.stdout:  # type: ignore[union-attr]
            if "polled" in line:
                polled.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not polled.wait(60):
            raise RuntimeError("the daemon did not log a poll within 60 s")
        time.sleep(5)  # the poll's transaction closed, the idle state reached
        others = descendants(daemon.pid)
        return rss_mb(daemon.pid) + sum(rss_mb(p) for p in others), len(others)
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server, base = feed_server.start(tmp)
        try:
            rest = [daemon_at_rest(tmp, base, r) for r in range(RUNS)]
        finally:
            server.kill()
    alone = statistics.median(libraries_alone() for _ in range(RUNS))
    print(f"memory at rest: `monitor run`, one feed, after its first poll; median of {RUNS} runs")
    print(f"  the card's libraries imported alone ({CARD[7:]})  {alone:6.1f} MB")
    mb = statistics.median(r[0] for r in rest)
    print(f"  the daemon at rest                                                   {mb:6.1f} MB"
          f"   ({mb / alone:.2f}x the libraries; target < 80 MB)")
    print(f"  (processes it had started still running at rest: {max(r[1] for r in rest)}, counted above)")


if __name__ == "__main__":
    main()
