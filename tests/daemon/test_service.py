"""The resting daemon's schedule (``daemon.service``): which lanes start a job when."""
from __future__ import annotations

import asyncio
import math
import time

from monitor.config import load_config
from monitor.daemon.service import MAIL_HOLD_SECONDS, Daemon


def test_maintenance_waits_while_a_poll_runs_and_goes_first_when_it_ends(sqlite_config):
    path = sqlite_config({})
    daemon = Daemon(load_config(path), path, path.read_text(encoding="utf-8"))
    now = time.time()
    daemon.maintenance.at = daemon.poll.at = now - 1
    daemon.mail.at = math.inf

    async def schedule():
        daemon.poll.task = asyncio.create_task(asyncio.sleep(60))  # a poll job running
        during = daemon._due(now), daemon._start_at(daemon.maintenance) > now
        daemon.poll.task.cancel()
        daemon.poll.task = None
        return during, daemon._due(now)

    (during, held), after = asyncio.run(schedule())
    assert during == [] and held  # the overdue maintenance is not started beside the poll
    assert after == [daemon.maintenance, daemon.poll]  # both due at once: maintenance is not starved
    assert daemon._due(now - 2) == []  # not due yet


def test_held_maintenance_does_not_make_the_schedule_spin(sqlite_config):
    """While it is held its due time is past: the loop must sleep until a job ends (or the next
    due time), not go round at once again and again."""
    path = sqlite_config({})
    daemon = Daemon(load_config(path), path, path.read_text(encoding="utf-8"))
    daemon.maintenance.at = time.time() - 5
    daemon.mail.at = daemon.poll.at = time.time() + 30
    daemon.digest_at = time.time() + 3600
    rounds = []
    due = daemon._due
    daemon._due = lambda now: rounds.append(now) or due(now)  # type: ignore[method-assign]

    async def run():
        daemon.poll.task = asyncio.create_task(asyncio.sleep(60))  # a poll job running; it does not end
        schedule = asyncio.create_task(daemon._schedule())
        await asyncio.sleep(1)
        daemon.stopping.set()
        daemon.wake.set()
        await asyncio.wait_for(schedule, 5)
        daemon.poll.task.cancel()

    asyncio.run(run())
    assert len(rounds) == 1 and daemon.maintenance.task is None


def test_mail_waits_for_a_running_poll_but_not_for_long(sqlite_config):
    """A digest due while a poll runs starts when the poll ends, or MAIL_HOLD_SECONDS after it
    fell due if the poll is still running then; with no poll running it starts when due."""
    path = sqlite_config({})
    daemon = Daemon(load_config(path), path, path.read_text(encoding="utf-8"))
    now = time.time()
    daemon.mail.at = now - 1
    daemon.poll.at = daemon.maintenance.at = math.inf

    async def schedule():
        daemon.poll.task = asyncio.create_task(asyncio.sleep(60))
        during = daemon._due(now), daemon._due(now - 1 + MAIL_HOLD_SECONDS)
        daemon.poll.task.cancel()
        daemon.poll.task = None
        return during, daemon._due(now)

    (held, late), after = asyncio.run(schedule())
    assert held == []  # not beside the poll
    assert late == [daemon.mail]  # but a poll that runs on does not hold the digest longer
    assert after == [daemon.mail]

