"""What a daemon at rest holds: the libraries only some commands use stay unimported in a process
that loads the command line and the daemon (each was megabytes of a daemon that never used it)."""
from __future__ import annotations

import json
import subprocess
import sys

from monitor.daemon.metrics import Metrics

HEAVY = ["starlette", "uvicorn", "ruamel", "prometheus_client", "alembic", "mako", "apprise"]


def test_the_daemon_and_the_command_line_leave_optional_libraries_unimported():
    code = ("import json, sys, monitor.cli, monitor.daemon.service, monitor.pipeline.poll; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True).stdout))
    assert "sqlalchemy" in loaded and "monitor" in loaded  # the check sees real imports
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_metrics_off_accept_every_call_and_on_count():
    class Result:
        status, new, updated, matches, duplicates, seconds, kind, ok = "ok", 3, 1, 2, 1, 0.5, "digest", True

    off = Metrics(enabled=False)
    off.poll_results([Result()])
    off.sends([Result()])
    off.reloads.labels("ok").inc()
    off.last_tick.set(1.0)
    on = Metrics()
    on.poll_results([Result()])
    text = on.exposition().decode()
    assert 'monitor_items_total{change="new"} 3.0' in text and "monitor_matches_total 2.0" in text
