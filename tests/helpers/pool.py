"""Run inside a parse-pool worker (tests/integration/test_text_work.py): what it found built."""
from __future__ import annotations

from monitor.text import normalize


def built() -> list[tuple[int, int]]:
    """(entries, misses) of the lazily built converters and table, as this process sees them."""
    return [(f.cache_info().currsize, f.cache_info().misses)
            for f in (normalize._t2s, normalize._regional, normalize._t2s_table)]


def frozen() -> int:
    """Objects this process's garbage collector leaves alone (``gc.freeze``)."""
    import gc

    return gc.get_freeze_count()
