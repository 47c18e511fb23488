"""`monitor run` stays up until SIGTERM or Ctrl-C and exits cleanly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


def start(config) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(proc: subprocess.Popen, needle: str, timeout: float = 30) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen += line
        if needle in line:
            return seen
    proc.kill()
    raise AssertionError(f"{needle!r} not seen; output:\n{seen}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_until_signal(make_config, sig):
    proc = start(make_config())
    try:
        wait_for(proc, "monitor running")
        time.sleep(0.5)
        assert proc.poll() is None, "daemon exited on its own"
        os.kill(proc.pid, sig)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "monitor stopped" in out


def test_run_refuses_bad_config(make_config):
    config = make_config({"poll_interval": "sometimes"})
    proc = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "run"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "poll_interval" in proc.stderr


def test_daemon_polls_and_survives_failing_feeds(make_config, feed_server):
    from helpers.polling import rss

    ITEMS = [("a1", "新市民金融服务提速"), ("a2", "消费金融公司三季度业绩"), ("a3", "普惠金融新规")]
    from helpers.feedserver import Response

    feed_server.routes["/f.xml"] = Response(200, rss(ITEMS))
    config = make_config({"poll_interval": "4s", "feeds": [
        {"name": "good", "url": feed_server.url("/f.xml")},
        {"name": "down", "url": "http://127.0.0.1:9/unreachable.xml"},
    ]})
    proc = start(config)
    try:
        out = wait_for(proc, "polled 2 feeds")
        assert "feed down failed" in out
        assert "3 new" in out
        out = wait_for(proc, "search index: ")  # the poll job ends by indexing what it stored
        assert "search index: 3 new or changed items indexed" in out
        time.sleep(1)
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert len(feed_server.requests_to("/f.xml")) >= 1
