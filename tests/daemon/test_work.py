"""A job process as the daemon starts it (``python -m monitor.daemon.work JOB``), on a real
SQLite file: what it leaves done, and the report line it ends with."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import text
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


def test_a_poll_job_parses_in_processes_forked_from_itself(sqlite_config, feed_server):
    """Four feeds new to the store: the poll parses them in processes, and those are forked from
    the job before its event loop starts (pipeline.pool), not started from a fork server."""
    from helpers.feedserver import Response
    from helpers.polling import rss

    from monitor.config import load_config
    from monitor.store import Database

    for n in range(4):
        feed_server.routes[f"/{n}.xml"] = Response(200, rss([(f"g{n}", f"城商行加码新市民信贷{n}")]),
                                                   {"Content-Type": "application/rss+xml"})
    path = sqlite_config({"feeds": [{"name": f"f{n}", "url": feed_server.url(f"/{n}.xml")} for n in range(4)]})
    config = load_config(path)
    db = Database(config.database)
    db.migrate()
    done = subprocess.run(
        [sys.executable, "-P", "-m", "monitor.daemon.work", "poll", "--config", str(path), "--parent", str(os.getpid()),
         "--sync", "--log-level", "debug"],
        input=path.read_text(encoding="utf-8"), capture_output=True, text=True, timeout=60,
        env=dict(os.environ, MONITOR_DATABASE=config.database))
    assert done.returncode == 0, done.stderr
    assert "parse pool forked from this process" in done.stderr
    assert "parse pool started" not in done.stderr  # (the fork server's)
    polls = json.loads(done.stdout.splitlines()[0])["polls"]
    assert sorted((p["feed"], p["status"], p["new"]) for p in polls) == [(f"f{n}", "ok", 1) for n in range(4)]

    # The same feeds due again, known now: a routine poll parses on threads, so no pool is forked
    # (idle forked workers would pin the pages the job rewrites).
    with db.begin() as s:
        s.execute(text("UPDATE feeds SET next_poll_at = NULL"))
    again = subprocess.run(
        [sys.executable, "-P", "-m", "monitor.daemon.work", "poll", "--config", str(path), "--parent", str(os.getpid()),
         "--log-level", "debug"],
        input=path.read_text(encoding="utf-8"), capture_output=True, text=True, timeout=60,
        env=dict(os.environ, MONITOR_DATABASE=config.database))
    assert again.returncode == 0, again.stderr
    assert len(json.loads(again.stdout.splitlines()[0])["polls"]) == 4  # it did poll them
    assert "parse pool forked" not in again.stderr
    db.dispose()
