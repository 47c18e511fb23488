"""What a daemon at rest holds: the libraries only some commands use stay unimported in a process
that loads the command line and the daemon (each was megabytes of a daemon that never used it)."""
from __future__ import annotations

import json
import subprocess
import sys

from monitor.daemon.lock import instance_id
from monitor.daemon.metrics import Metrics
from monitor.store import instance_id as lease_owner

HEAVY = ["starlette", "uvicorn", "ruamel", "prometheus_client", "alembic", "mako", "apprise"]


def test_the_daemon_and_the_command_line_leave_optional_libraries_unimported():
    code = ("import json, sys, monitor.cli, monitor.daemon.service, monitor.pipeline.poll; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True).stdout))
    assert "sqlalchemy" in loaded and "monitor" in loaded  # the check sees real imports
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


# What a job process loads, and the resting daemon must not: each of these is megabytes held for
# months (SQLAlchemy ORM +32, aiohttp +23, numpy +15, httpx +15, feedparser +10, jinja2 +9, OpenCC +7).
JOBS_ONLY = ["sqlalchemy", "httpx", "aiohttp", "feedparser", "numpy", "jinja2", "opencc", "lxml", "ahocorasick",
             "selectolax", "psycopg", "babel", "markupsafe", "apscheduler.schedulers"]


def test_the_resting_daemon_loads_the_config_and_the_schedule_only():
    """``python -m monitor.daemon`` up to the point it runs: its modules, and every module it
    imports later (the work module's top, the metrics switched off, the lock)."""
    code = ("import json, sys, monitor.daemon.__main__, monitor.daemon.service, monitor.daemon.work; "
            "from monitor.daemon.metrics import Metrics; Metrics(enabled=False); "
            "print(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                       check=True).stdout)
    assert "pydantic" in loaded and "monitor.daemon.service" in loaded  # the check sees real imports
    heavy = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in JOBS_ONLY + HEAVY)]
    ours = {m.split(".")[1] for m in loaded if m.startswith("monitor.") and m.count(".") >= 1}
    assert heavy == [], heavy
    assert ours <= {"config", "daemon", "errors", "logs", "parent", "watch"}, ours


def test_the_lock_names_the_daemon_as_lease_owners_do():
    assert instance_id() == lease_owner()


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


def test_the_parse_pool_s_fork_server_loads_the_parsing_libraries_only():
    """``pipeline.warm``, the fork server's preload: the workers parse and fold text, and whatever
    else it imports (the store's, the config's libraries) every worker shares and the server holds."""
    code = ("import json, sys, monitor.pipeline.warm; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True).stdout))
    assert {"feedparser", "opencc", "numpy"} <= loaded  # the check sees real imports
    assert loaded.isdisjoint(["sqlalchemy", "pydantic", "apscheduler", "httpx", "aiohttp", "yaml", "jinja2"]), loaded
