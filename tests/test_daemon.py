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
