"""The daemon hands freed heap back after a job: without it, a process that once held a large
poll or digest keeps that peak resident (glibc keeps free memory in its per-thread arenas)."""
import subprocess
import sys

import pytest

from monitor.daemon import memory

CHILD = r"""
import threading
from monitor.daemon import memory

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024

def work():
    blobs = [bytes(10_000) + bytes([i % 256]) for i in range(20_000)]  # 200 MB in 10 KB chunks
    return blobs[-1:]  # the last one stays alive, as a job's result would

kept = []
t = threading.Thread(target=lambda: kept.append(work()))
t.start(); t.join()
before = rss()
memory.release()
print(before, rss())
"""


@pytest.mark.skipif(memory._TRIM is None, reason="this libc has no malloc_trim")
def test_release_returns_a_jobs_freed_heap_to_the_system():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=True)
    before, after = map(int, out.stdout.split())
    assert before > 150  # the freed chunks were still resident …
    assert after < before / 3  # … until release()
