"""Long id lists cut for ``IN (…)``: SQLite and PostgreSQL both cap a statement's parameters."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
SIZE = 500


def chunked(seq: Sequence[T], size: int = SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(seq), size):
        yield seq[start:start + size]
