"""One daemon per SQLite file: two would fight over the write lock. Several daemons share a
PostgreSQL database by design (leases and unique keys in the database), so no lock there."""
from __future__ import annotations

import fcntl
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from ..errors import AlreadyRunning


def instance_id() -> str:
    """This process named as lease owners and the lock file name it: ``store.leases.instance_id``,
    which the resting daemon cannot import without loading SQLAlchemy (tests/daemon checks that
    the two agree)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def hold_single_instance(db_file: Path | None) -> IO[str] | None:
    """Take the lock beside the database file, or raise ``AlreadyRunning`` naming its holder.
    The returned file must stay open as long as the process runs."""
    if db_file is None:
        return None
    lock_path = Path(str(db_file) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    f = open(lock_path, "a+")  # noqa: SIM115 (held open for the process's life: that is the lock)
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise AlreadyRunning(
            f"another monitor ({holder}) is already running on {db_file}; stop it first "
            f"(one daemon per SQLite file; several daemons can share a PostgreSQL database)") from None
    f.truncate(0)
    f.write(f"{instance_id()} since {datetime.now(UTC).isoformat(timespec='seconds')}\n")
    f.flush()
    return f
