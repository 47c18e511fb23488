"""Content-Encoding decoded as the body streams in, with the decoded size bounded at every step.

A 5 KB brotli body can expand to gigabytes in one decode call, so checking the size after a chunk
is decoded is too late: each decoder here is asked for at most what is still allowed (plus one
byte, to know the limit was passed) and keeps the rest of its input for later.
"""
from __future__ import annotations

import zlib
from typing import Protocol

import brotli

ACCEPT_ENCODING = "gzip, deflate, br"


class TooLarge(Exception):
    """The decoded body passed the limit."""


class UnsupportedEncoding(Exception):
    pass


class _Step(Protocol):
    def feed(self, data: bytes, room: int) -> bytes: ...

    def flush(self, room: int) -> bytes: ...


class _Zlib:
    def __init__(self, wbits: int):
        self._d = zlib.decompressobj(wbits)
        self._raw_fallback = wbits == zlib.MAX_WBITS  # "deflate" is zlib-wrapped or raw in the wild
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        if not self._started and self._raw_fallback and data:
            self._started = True
            try:
                zlib.decompressobj(zlib.MAX_WBITS).decompress(data[:2], 1)
            except zlib.error:
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        out = self._d.decompress(data, room + 1)
        if len(out) > room or self._d.unconsumed_tail:
            raise TooLarge
        return out

    def flush(self, room: int) -> bytes:
        out = self._d.flush()
        if len(out) > room:
            raise TooLarge
        return out


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        out = self._d.process(data, output_buffer_limit=room + 1)
        while len(out) <= room and not self._d.can_accept_more_data():  # output held back: drain it
            out += self._d.process(b"", output_buffer_limit=room + 1 - len(out))
        if len(out) > room:
            raise TooLarge
        return out

    def flush(self, room: int) -> bytes:
        return b""


class _Identity:
    def feed(self, data: bytes, room: int) -> bytes:
        if len(data) > room:
            raise TooLarge
        return data

    def flush(self, room: int) -> bytes:
        return b""


def _step(name: str) -> _Step:
    if name in ("gzip", "x-gzip"):
        return _Zlib(16 + zlib.MAX_WBITS)
    if name == "deflate":
        return _Zlib(zlib.MAX_WBITS)
    if name == "br":
        return _Brotli()
    if name in ("identity", ""):
        return _Identity()
    raise UnsupportedEncoding(name)


class Decoder:
    """Decodes a body encoded with ``content_encoding`` (applied in the order listed, so undone in
    reverse), raising ``TooLarge`` as soon as the decoded size would pass ``limit``."""

    def __init__(self, content_encoding: str | None, limit: int):
        names = [n.strip().lower() for n in (content_encoding or "").split(",") if n.strip()]
        self._steps = [_step(n) for n in reversed(names)] or [_Identity()]
        self.limit = limit
        self.size = 0

    def feed(self, data: bytes) -> bytes:
        for step in self._steps:
            data = step.feed(data, self.limit - self.size)
        self.size += len(data)
        return data

    def flush(self) -> bytes:
        out = b""
        for i, step in enumerate(self._steps):
            tail = step.flush(self.limit - self.size)
            for later in self._steps[i + 1:]:
                tail = later.feed(tail, self.limit - self.size)
            out += tail
        self.size += len(out)
        if self.size > self.limit:
            raise TooLarge
        return out
