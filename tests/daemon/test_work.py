"""A job process as the daemon starts it (``python -m monitor.daemon.work JOB``), on a real
SQLite file: what it leaves done, and the report line it ends with."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from web.conftest import fill

from monitor.store import search


def run_job(job: str, config_path, database: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-P", "-m", "monitor.daemon.work", job, "--config", str(config_path),
         "--parent", str(os.getpid())],
        input=config_path.read_text(encoding="utf-8"), capture_output=True, text=True, timeout=60,
        env=dict(os.environ, MONITOR_DATABASE=database))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_maintenance_indexes_what_a_cut_off_poll_left_queued(sqlite_config, feed_server):
    config, db, path = fill(sqlite_config, feed_server, indexed=False)
    with db.session() as s:
        assert search.pending(s) >= 4
    report = run_job("maintenance", path, config.database)
    assert report["job"] == "maintenance" and report["ok"]
    with db.session() as s:
        assert search.pending(s) == 0
    db.dispose()
