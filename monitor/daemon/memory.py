"""Give freed heap back to the operating system after a burst of work.

glibc keeps memory that Python has freed in its arenas (one per thread that allocated), so a
daemon that once composed a large digest or stored a large first poll would hold that peak for
months. ``malloc_trim(0)`` returns the free pages; it costs a few milliseconds, so the daemon calls
it when a job ends and no other job is running. On a libc without it, this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util


def _malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def release() -> bool:
    """True when the allocator was asked to give memory back."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
