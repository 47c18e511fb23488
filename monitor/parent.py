"""A child process that ends when its parent does (Linux's ``PR_SET_PDEATHSIG``).

Why: a job process and the parse workers it forks are children that must not outlive the
process that started them (the daemon, the job): a job killed by the OOM killer would otherwise
leave workers waiting on a queue nobody feeds, for ever, holding their memory.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: int) -> bool:
    """Ask the kernel to send ``sig`` when the parent dies; False if ``parent`` has already
    gone (the kernel would never send it then: the caller must act at once)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)
    except (OSError, AttributeError):
        pass  # not Linux: the parent's shutdown still stops its children
    return os.getppid() == parent
