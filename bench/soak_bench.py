"""Soak: `monitor run` polling 1,000 loopback feeds for BENCH_SOAK_SECONDS (default 600), its RSS
sampled every 2 s: the daemon's own RSS (the process that lives for months), and the PSS of the
daemon with the job processes it runs at the moment and their parser pools. The feeds publish: each one's window of 50 items moves on by one item a minute,
so every poll stores, dedupes and matches new items, alerts go out for the immediate watch and a
digest every 5 minutes (file transport). Reports RSS after the first poll, peak and final.
Target (issue 21): the daemon flat (final within 10 % of the value after the first poll) and under 150 MB.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import feed_server  # bench/ is on the path: these files run as scripts beside it
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


def pss_mb(pid: int) -> float:
    """Proportional set size: a page shared by n processes counts 1/n in each, so the sum over
    a tree is its memory (a forked parser pool shares most of its pages with its fork server, and
    summed RSS would count them once per process)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def role(pid: int) -> str:
    """What a process of the tree is: a job (by its name), the parse pool (the workers a poll job
    forks, which keep its command line, or a fork server and the workers forked from it), or the
    pool's resource tracker."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        forked = Path(f"/proc/{parent}/cmdline").read_bytes() == command
        argv = [a.decode() for a in command.split(b"\0") if a]
    except OSError:
        return "gone"
    if "monitor.daemon.work" in argv:
        return "parse pool" if forked else f"{argv[argv.index('monitor.daemon.work') + 1]} job"
    joined = " ".join(argv)
    return ("parse pool" if "forkserver" in joined else "tracker" if "resource_tracker" in joined
            else argv[0] if argv else "?")


def resting(pid: int) -> bool:
    """Whether ``pid`` is the resting daemon yet: ``monitor run`` does its checks, migrations and
    seed import first, with their libraries loaded, then execs the resting daemon in the same
    process (``daemon.start``), which loads none of them."""
    try:
        return b"monitor.daemon" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def tree(pid: int) -> dict[str, float]:
    """The daemon and the job processes it runs at the moment, with their parser pools: PSS by role."""
    parts: dict[str, float] = {"daemon": pss_mb(pid)}
    for p in descendants(pid):
        name = role(p)
        parts[name] = parts.get(name, 0.0) + pss_mb(p)
    return parts


def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
        tmp = Path(d)
        server, base = feed_server.start(tmp, 50, 60)
        try:
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
                assert daemon.stdout is not None  # stdout=PIPE above
                for line in daemon.stdout:
                    if "polled" in line:
                        polls.append((time.monotonic(), line.strip()))

            threading.Thread(target=read, daemon=True).start()
            t0 = time.monotonic()
            samples: list[tuple[float, float, float]] = []  # (seconds, daemon's RSS, tree's PSS)
            starting: list[float] = []  # the RSS of `monitor run` before it became the resting daemon
            at_peak: dict[str, float] = {}
            busy = 0  # samples with a job running
            after_first = None
            while time.monotonic() - t0 < SECONDS and daemon.poll() is None:  # bounded by SECONDS
                if not resting(daemon.pid):
                    starting.append(rss_mb(daemon.pid))
                    time.sleep(0.5)
                    continue
                parts = tree(daemon.pid)
                busy += len(parts) > 1
                if sum(parts.values()) > sum(at_peak.values()):
                    at_peak = parts
                samples.append((time.monotonic() - t0, rss_mb(daemon.pid), sum(parts.values())))
                if after_first is None and polls:
                    after_first = samples[-1][1]
                time.sleep(2)
            final = rss_mb(daemon.pid) if daemon.poll() is None else float("nan")
            daemon.terminate()
            daemon.wait(timeout=60)
            emails = len(list((tmp / "outbox").glob("*.eml"))) if (tmp / "outbox").exists() else 0
        finally:
            server.kill()
    peak = max(r for _, r, _ in samples)
    tree_peak = max(t for _, _, t in samples)
    first_poll_s = polls[0][0] - t0 if polls else float("nan")
    print(f"soak: {FEEDS} feeds x 50 items (one new item per feed per minute), {SECONDS:.0f} s, RSS every 2 s")
    print(f"  polls logged {len(polls)}, first poll done after {first_poll_s:.0f} s, emails written {emails}")
    if polls:
        print(f"  last poll: {polls[-1][1].split('monitor.daemon: ')[-1]}")
    print(f"  the daemon (RSS): after first poll {after_first or float('nan'):.0f} MB, peak {peak:.0f} MB, final "
          f"{final:.0f} MB (final/after-first {final / after_first if after_first else float('nan'):.2f}; "
          f"target <= 1.10 and < 150 MB)")
    if starting:
        print(f"  (before it: `monitor run`'s checks, migrations and seed import, in the same process until it execs the "
              f"resting daemon: {max(starting):.0f} MB at most, for {len(starting) * 0.5:.1f} s)")
    print(f"  with the job running at the moment and its parser pool (PSS): peak {tree_peak:.0f} MB, "
          f"median {sorted(t for _, _, t in samples)[len(samples) // 2]:.0f} MB, "
          f"mean {sum(t for _, _, t in samples) / len(samples):.0f} MB (the memory held over time)")
    print("  at the peak: " + ", ".join(f"{name} {mb:.0f}" for name, mb in at_peak.items()))
    print(f"  samples with a job running: {busy} of {len(samples)}")
    marks = [s for s in samples if int(s[0]) % 60 < 2][:: max(1, len(samples) // 600)]
    print("  by minute, daemon RSS / with jobs PSS: " + " ".join(f"{r:.0f}/{t:.0f}" for _, r, t in marks))


if __name__ == "__main__":
    main()
