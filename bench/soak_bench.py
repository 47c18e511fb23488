"""Soak: `monitor run` polling 1,000 loopback feeds for BENCH_SOAK_SECONDS (default 600), its RSS
sampled every 2 s (the daemon's and that of the job processes it runs at the moment). The feeds publish: each one's window of 50 items moves on by one item a minute,
so every poll stores, dedupes and matches new items, alerts go out for the immediate watch and a
digest every 5 minutes (file transport). Reports RSS after the first poll, peak and final.
Target: flat memory (final within 10 % of the value after the first poll) and under 200 MB.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
FEEDS = int(os.environ.get("BENCH_SOAK_FEEDS", 1000))
SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", 600))


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:  # a job process that ended while we looked
        pass
    return 0.0


def descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs (a job process and its parser pool)."""
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out += [int(child), *descendants(int(child))]
    except OSError:  # ended while we looked
        pass
    return out


def tree_mb(pid: int) -> float:
    return rss_mb(pid) + sum(rss_mb(p) for p in descendants(pid))


def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
        tmp = Path(d)
        server = subprocess.Popen([sys.executable, str(HERE / "feed_server.py"), str(tmp / "port"), "50", "60"])
        try:
            for _ in range(200):
                if (tmp / "port").exists() and (tmp / "port").read_text():
                    break
                time.sleep(0.05)
            base = f"http://127.0.0.1:{(tmp / 'port').read_text()}"
            config = {
                "timezone": "Asia/Shanghai", "database": f"sqlite:///{tmp / 'soak.db'}", "seeds": str(HERE.parent / "seeds"),
                "poll_interval": "60s", "fetch": {"concurrency": 50, "per_host": 50},
                "feeds": [{"name": f"f{n}", "url": f"{base}/feed/{n}.xml", "interval": "60s"} for n in range(FEEDS)],
                "watches": [
                    {"name": "新市民", "query": "新市民 (贷款 OR 信用卡 OR 银行) -招聘"},
                    {"name": "消费金融", "keywords": ["消费金融", "消金"]},
                    {"name": "普惠金融", "keywords": ["普惠金融", "助贷"], "alert": "immediate", "search": False},
                ],
                "digest": {"schedule": "*/5 * * * *", "recipients": ["analyst@example.com"]},
                "mail": {"from": "monitor@example.com", "transport": "file", "outbox": str(tmp / "outbox")},
            }
            path = tmp / "config.yaml"
            path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
            daemon = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(path), "run"],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            polls: list[tuple[float, str]] = []

            def read() -> None:
                for line in daemon.stdout:
                    if "polled" in line:
                        polls.append((time.monotonic(), line.strip()))

            threading.Thread(target=read, daemon=True).start()
            t0 = time.monotonic()
            samples: list[tuple[float, float]] = []
            after_first = None
            while time.monotonic() - t0 < SECONDS and daemon.poll() is None:  # bounded by SECONDS
                samples.append((time.monotonic() - t0, tree_mb(daemon.pid)))
                if after_first is None and polls:
                    after_first = samples[-1][1]
                time.sleep(2)
            final = tree_mb(daemon.pid) if daemon.poll() is None else float("nan")
            daemon.terminate()
            daemon.wait(timeout=60)
            emails = len(list((tmp / "outbox").glob("*.eml"))) if (tmp / "outbox").exists() else 0
        finally:
            server.kill()
    peak = max(r for _, r in samples)
    first_poll_s = polls[0][0] - t0 if polls else float("nan")
    print(f"soak: {FEEDS} feeds x 50 items (one new item per feed per minute), {SECONDS:.0f} s, RSS every 2 s")
    print(f"  polls logged {len(polls)}, first poll done after {first_poll_s:.0f} s, emails written {emails}")
    if polls:
        print(f"  last poll: {polls[-1][1].split('monitor.daemon: ')[-1]}")
    print(f"  RSS after first poll {after_first or float('nan'):.0f} MB, peak {peak:.0f} MB, final {final:.0f} MB "
          f"(final/after-first {final / after_first if after_first else float('nan'):.2f}; "
          f"target <= 1.10 and < 200 MB)")
    marks = [s for s in samples if int(s[0]) % 60 < 2][:: max(1, len(samples) // 600)]
    print("  RSS by minute: " + " ".join(f"{r:.0f}" for _, r in marks))


if __name__ == "__main__":
    main()
