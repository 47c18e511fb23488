"""Signals that come before an event loop can take them.

``monitor run`` execs the resting daemon, and the daemon starts job processes: each of them is a
moment without handlers. The signals are blocked across such a gap (a blocked signal waits, also
across exec, instead of taking its default action: SIGHUP's ends the process without a word), and
noted by ``remember`` until the event loop's own handlers are in. Imports nothing of ours: the
resting daemon uses it before it has loaded anything."""
from __future__ import annotations

import signal
from collections.abc import Iterable

HANDLED = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})


def remember(signals: Iterable[int] = HANDLED) -> list[int]:
    """Handlers that note ``signals`` in the list returned, for the event loop to act on."""
    early: list[int] = []
    for sig in signals:
        signal.signal(sig, lambda signum, _frame: early.append(signum))
    return early


def block() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)


def unblock() -> None:
    """Unblocked, not restored to a saved mask: two lanes start jobs side by side, and restoring
    the first one's saved mask after the second blocked would leave them blocked for good."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
