"""Human durations in config: ``30m``, ``1h30m``, ``2d``, ``45s`` (or a bare number of seconds)."""
from __future__ import annotations

import math
import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
LONGEST = timedelta(days=3650)  # past this a duration is a typo (and soon too large for datetime)
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(value: object) -> timedelta:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration like 30m, 1h or 2d")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        else:
            pos, seconds = 0, 0.0
            for m in _PART.finditer(text):
                if text[pos : m.start()].strip():
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
            if pos == 0 or text[pos:].strip():
                raise ValueError(f"{value!r} is not a duration like 30m, 1h30m, 2d or 45s")
    else:
        raise ValueError(f"{value!r} is not a duration like 30m, 1h or 2d")
    if math.isnan(seconds) or seconds <= 0:
        raise ValueError(f"{value!r}: a duration must be positive")
    if seconds > LONGEST.total_seconds():
        raise ValueError(f"{value!r} is longer than {LONGEST.days} days")
    return timedelta(seconds=seconds)


def format_duration(td: timedelta) -> str:
    seconds = int(td.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"
