"""Starting ``monitor run``: the work that needs the store is done once, here, in the command
line's process (the lock, migrations, the leases of processes that died); then, without
``--http``, the process becomes the resting daemon (``python -m monitor.daemon``) by exec: the same
pid, holding the same lock, without the ~90 MB of libraries the command line loaded. With
``--http`` the web view needs those libraries anyway, and the daemon runs here.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import IO

from ..config import Config, ConfigError, load_config
from ..errors import AlreadyRunning
from ..store import Database
from ..store.leases import release_dead_leases
from . import early
from .lock import hold_single_instance
from .service import run_daemon

log = logging.getLogger("monitor.daemon")


def start_daemon(config: Config, config_path: Path, *, http: tuple[str, int] | None, log_level: str,
                 log_format: str) -> int:
    noted = early.remember()  # a signal during the migration: acted on once it is done, not mid-write
    db = Database(config.database)
    try:
        lock = hold_single_instance(db.sqlite_path())
    except AlreadyRunning as e:
        log.error("%s", e)
        return 1
    db.migrate()
    release_dead_leases(db)
    db.dispose()
    # From here to the resting daemon's handlers (through exec) a signal waits, blocked: otherwise
    # it was lost, or SIGHUP's default action ended the new daemon without a word.
    early.block()
    stops = [s for s in noted if s != signal.SIGHUP]
    if stops:
        log.info("received %s: stopping", signal.Signals(stops[0]).name)
        log.info("monitor stopped")
        return 0
    if http is None:
        _rest(config_path, lock, log_level, log_format)  # returns only if exec failed
    early.unblock()  # to the handlers of early.remember
    try:
        text = config_path.read_text(encoding="utf-8")
        config = load_config(config_path, text=text)
    except (ConfigError, OSError, UnicodeDecodeError) as e:
        log.error("%s changed while the daemon started and cannot be read now: %s", config_path, e)
        return 2
    return run_daemon(config, config_path, text, http=http, lock=lock, log_args=(log_level, log_format),
                      early=noted)


def _rest(config_path: Path, lock: IO[str] | None, log_level: str, log_format: str) -> None:
    """Replace this process with the resting daemon, passing the lock's open file on (a SIGHUP
    that came meanwhile needs nothing: the daemon reads config.yaml as it starts)."""
    fd = -1
    if lock is not None:
        fd = lock.fileno()
        os.set_inheritable(fd, True)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-P", "-m", "monitor.daemon", "--config", str(config_path), "--lock-fd", str(fd),
            "--log-level", log_level, "--log-format", log_format]
    try:
        os.execv(sys.executable, argv)
    except OSError as e:
        log.warning("could not start the resting daemon (%s); running with the command line's libraries loaded", e)
