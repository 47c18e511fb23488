"""Starting a job process (``daemon.work``) and reading its report, for the resting daemon.

A plain ``python -m monitor.daemon.work`` subprocess, not a multiprocessing pool: a forkserver or
pool that had loaded the job's libraries would be a resident process of their size (the memory
this design is for giving back), and one that had not would start the same way as this does.
Forking the daemon itself would copy a process with a running event loop. Measured on the
development machine: a job process that polls costs about 1 s of CPU to start (interpreter, config,
imports); one that finds nothing due, about 0.5 s (it loads the store only).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from . import early

log = logging.getLogger("monitor.daemon")


class Children:
    """The job processes running now, so a shutdown can hand them the signal and wait."""

    def __init__(self, config_path: str, log_level: str, log_format: str):
        self.config_path = config_path
        self.log_args = ["--log-level", log_level, "--log-format", log_format]
        self.running: set[asyncio.subprocess.Process] = set()
        self.stop_signal: signal.Signals | None = None  # once the daemon stops: for jobs started since

    async def run(self, job: str, flags: list[str], config_text: str, database: str,
                  heard: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
        """Run one job to its end, handing each line it reports to ``heard`` as it comes; the
        last line (the report) is returned, or None when the job died or said nothing (its log
        lines say why; a dead one's leases are taken back by the next job)."""
        env = dict(os.environ, MONITOR_DATABASE=database)
        # Blocked across the exec, unblocked by the job once its handlers are in (the mask is
        # inherited): a Ctrl-C or SIGTERM while it imports waits for them instead of killing it.
        # Unblocked, not restored: two lanes start side by side, and the second would restore the
        # first's blocked mask for good (the fork itself happens before the first await).
        early.block()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-P", "-m", "monitor.daemon.work", job, "--config", self.config_path,
                "--parent", str(os.getpid()), *self.log_args, *flags,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env, limit=2**24)
        finally:
            early.unblock()
        self.running.add(proc)
        if self.stop_signal is not None:  # the daemon began stopping while this one was starting
            proc.send_signal(self.stop_signal)
        log.debug("started the %s job (pid %d) %s", job, proc.pid, " ".join(flags))
        try:
            report = await _talk(proc, config_text, heard)
        finally:
            self.running.discard(proc)
            if proc.returncode is None:  # reading its lines failed: it must not live on, unread
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if proc.returncode and proc.returncode < 0:
            log.error("the %s job (pid %d) was killed by %s; its leases are taken back by the next job",
                      job, proc.pid, signal.Signals(-proc.returncode).name)
        elif report is None:
            log.error("the %s job (pid %d) ended with status %s and no report", job, proc.pid, proc.returncode)
        return report

    def signal_all(self, sig: signal.Signals) -> None:
        self.stop_signal = sig
        for proc in list(self.running):
            with contextlib.suppress(ProcessLookupError):  # ended a moment ago; its report is being read
                proc.send_signal(sig)


async def _talk(proc: asyncio.subprocess.Process, config_text: str,
                heard: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(config_text.encode("utf-8"))
        await proc.stdin.drain()
        proc.stdin.close()
    except (BrokenPipeError, ConnectionResetError):  # it died at once; its exit status says how
        pass
    last = None
    async for line in proc.stdout:
        try:
            news = json.loads(line)
        except ValueError:
            continue
        if isinstance(news, dict):
            last = news
            heard(news)
    await proc.wait()
    return last if last is not None and "ok" in last else None
