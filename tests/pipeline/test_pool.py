"""The parse pool forked from the poll job (pipeline.pool): its workers are the process's own
children, parse as a fork server's would, obey SIGTERM, close the pipes they are told to, end
with the process that forked them, and no pool is forked while another thread runs."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from helpers.procs import running

from monitor.pipeline.pool import fork_pool

# Run in a process of its own: one with a single thread, as the poll job is when it forks.
SCRIPT = """
import asyncio, json, os, signal, sys, time
from datetime import UTC, datetime
from monitor.pipeline.pool import fork_pool
from monitor.pipeline.workers import Workers
from monitor.watch.query import parse_query

READ, WRITE = os.pipe()  # as the job's report pipe to the daemon

def probe():
    try:
        os.fstat(WRITE)
        kept = True
    except OSError:
        kept = False
    return os.getpid(), os.getppid(), signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, kept

signal.signal(signal.SIGTERM, lambda *_: None)  # as the job's (daemon.early): noted, not obeyed
pool = fork_pool([("w", parse_query("新市民")), ("v", parse_query("助贷"))], processes=2,
                 close=(WRITE,))

async def parse_one():
    workers = Workers(processes=2, pool=pool)
    workers.pooled = True
    try:
        parsed = await workers.parse(sys.argv[1].encode(), content_type="application/rss+xml", encoding=None,
                                     fetched_at=datetime.now(UTC))
        work = await workers.text_work(parsed.entries, feed="f")
        matched = [r.watch for results in (work.matched or {}).values() for r in results if r.matched]
        return parsed.entries[0].title, matched
    finally:
        await workers.close()

title, matched = asyncio.run(parse_one())
probes = {pool.submit(probe).result() for _ in range(20)}
print(json.dumps({"pid": os.getpid(), "title": title, "matched": matched, "probes": sorted(probes)}), flush=True)
if sys.argv[2] == "wait":
    time.sleep(60)
pool.shutdown()
"""
FEED = "<rss version='2.0'><channel><title>t</title><item><title>新市民</title></item></channel></rss>"


def start(mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, FEED, mode], stdout=subprocess.PIPE, text=True)


def test_the_workers_are_the_process_s_own_children_and_parse_and_match():
    import json

    proc = start("end")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    report = json.loads(out)
    assert report["title"] == "新市民"
    assert report["matched"] == ["w"]  # matched in the worker, with the watches it was given
    parents = {parent for _, parent, _, _ in report["probes"]}
    assert parents == {report["pid"]}  # forked from it: no fork server between
    assert all(default for _, _, default, _ in report["probes"])  # the job's SIGTERM handler is not inherited
    assert not any(kept for _, _, _, kept in report["probes"])  # nor the pipe it was told to close


def test_the_workers_end_with_the_process_that_forked_them():
    """A poll job killed outright (the OOM killer) leaves no worker waiting on its queue."""
    import json

    proc = start("wait")
    assert proc.stdout is not None
    workers = [pid for pid, _, _, _ in json.loads(proc.stdout.readline())["probes"]]
    assert workers and all(Path(f"/proc/{pid}").exists() for pid in workers)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(running(pid) for pid in workers)


def test_no_pool_is_forked_while_another_thread_runs():
    """A lock held by that thread at the fork would stay held in the workers for ever."""
    release = threading.Event()
    thread = threading.Thread(target=release.wait, args=(10,))
    thread.start()
    try:
        assert fork_pool([], processes=2) is None
    finally:
        release.set()
        thread.join()


def test_a_pool_whose_workers_cannot_start_is_not_forked():
    """A worker failing in its initializer (here: a watch that is not a query) leaves the poll to
    start a fork server's pool if it needs one, with a warning, and no worker behind."""
    script = ("import logging, multiprocessing, threading; logging.basicConfig(); "
              "from monitor.pipeline.pool import fork_pool; print(fork_pool([('w', object())], processes=2), "
              "threading.active_count(), len(multiprocessing.active_children()))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "1", "0"]  # no pool, no thread or worker of it left
    assert "parse pool not forked" in done.stderr
