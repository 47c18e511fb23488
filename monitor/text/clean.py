"""Untrusted text made safe to store and show: control characters removed, sizes bounded.

Feeds send NUL (PostgreSQL text cannot hold it, and one in a title failed a whole feed's store),
other C0/C1 controls, and titles of thousands of characters. This runs on every string a source
produces, before anything else sees it.
"""
from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, the Unicode line/paragraph separators (they
# break lines in headers and terminals), and lone surrogates (a JSON feed's "\\ud800": no UTF-8
# encoder, the database's included, accepts one).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_CONTROL_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # newline and tab too
_SURROGATE = re.compile("[\ud800-\udfff]")

MAX_TEXT = 200_000  # characters of one field: a long article is 20,000


def clean_text(value: str | None, limit: int = MAX_TEXT) -> str:
    """Text with paragraphs: tabs and newlines kept (CR becomes a newline)."""
    if not value:
        return ""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", value)[:limit]


def clean_line(value: str | None, limit: int = MAX_TEXT) -> str:
    """One line (a title, a name, a URL): every control character, newlines included, becomes a
    space, and runs of white space collapse."""
    if not value:
        return ""
    return " ".join(_CONTROL_LINE.sub(" ", _SURROGATE.sub("", value[: limit * 2])).split())[:limit]
