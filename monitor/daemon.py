"""``monitor run``: the long-running process.

Jobs are rebuilt from config at every start; what is due is read from database rows, so the
scheduler's memory holds nothing worth keeping across a restart.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, text

from .config import Config
from .db import make_engine, sessions, upgrade

log = logging.getLogger("monitor.daemon")


def instance_id() -> str:
    """Names this process in leases, so a crashed daemon's claims can be told from live ones."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Daemon:
    def __init__(self, config: Config, config_path: Path):
        self.config = config
        self.config_path = config_path
        self.engine: Engine = make_engine(config.database)
        self.sessions = sessions(self.engine)
        self.stopping = asyncio.Event()
        self.scheduler = AsyncIOScheduler(timezone=config.tz)

    def schedule_jobs(self) -> None:
        self.scheduler.add_job(
            self.maintenance, "interval", hours=6, id="maintenance", coalesce=True, max_instances=1
        )

    async def maintenance(self) -> None:
        """Keep the query planner's statistics fresh on SQLite as the store grows."""
        if self.engine.dialect.name == "sqlite":
            await asyncio.to_thread(self._sqlite_optimize)

    def _sqlite_optimize(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("PRAGMA optimize"))
        log.info("maintenance: PRAGMA optimize done")

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop, sig)
        await asyncio.to_thread(upgrade, self.engine)
        self.schedule_jobs()
        self.scheduler.start()
        log.info(
            "monitor running as %s: %d feeds, %d search templates, %d watches, digest '%s' (next %s)",
            instance_id(), len(self.config.feeds), len(self.config.search_feeds), len(self.config.watches),
            self.config.digest.schedule, self.config.next_digest().isoformat(timespec="minutes"),
        )
        await self.stopping.wait()
        self.scheduler.shutdown(wait=False)
        self.engine.dispose()
        log.info("monitor stopped")
        return 0

    def _stop(self, sig: signal.Signals) -> None:
        log.info("received %s: stopping", sig.name)
        self.stopping.set()


def run_daemon(config: Config, config_path: Path) -> int:
    async def main() -> int:
        return await Daemon(config, config_path).run()

    return asyncio.run(main())
