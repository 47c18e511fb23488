"""Migrations taken in turns: processes started together on an empty database all come up."""
from __future__ import annotations

import subprocess
import sys

from monitor.store import Database
from monitor.store.engine import head_revision


def test_processes_migrating_an_empty_database_at_once_all_succeed(make_config):
    path = make_config()
    procs = [subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(path), "db", "upgrade"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outs]
    from monitor.config import load_config

    assert Database(load_config(path).database).revision() == head_revision()
