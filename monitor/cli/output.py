"""Terminal columns that line up with Chinese text in them.

Python's format padding counts characters, but a terminal gives CJK (and other East Asian wide or
full-width) characters two cells: a feed named google-news:新市民 pushed the rest of its row out of
line. These pad and clip by display cells instead.
"""
from __future__ import annotations

import unicodedata


def cells(text: str) -> int:
    """Display width in terminal cells."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def clip(text: str, width: int) -> str:
    """At most ``width`` cells of ``text`` (an ellipsis marks a cut)."""
    if cells(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = cells(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def pad(text: str, width: int) -> str:
    """``text`` clipped to ``width`` cells and padded with spaces to exactly that many."""
    text = clip(text, width)
    return text + " " * (width - cells(text))
