"""What the dedupe decision needs to know about the articles already stored, as a protocol, so the
decision is plain code over plain data: the store implements it with indexed SQL look-ups
(``monitor.store.fingerprints``), the tests with ``MemoryLookup``."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

BODY_FROM = 20  # characters: a shorter "body" is a title repeated or a stub, not text


def has_body(body: str | None) -> bool:
    return len((body or "").strip()) >= BODY_FROM


class Lookup(Protocol):
    def by_hash(self, content_hash: str) -> list[tuple[int, str]]:
        """Up to three stored articles with this normalised-content hash: (id, title), oldest first."""

    def by_url(self, url: str) -> list[tuple[int, str]]:
        """Up to three stored articles at this canonical URL (other feeds' copies): (id, title), oldest first."""

    def postings(self, hashes: Sequence[int]) -> list[tuple[int, int]]:
        """(hash, item id) for every indexed fingerprint among ``hashes``."""

    def articles(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """id → (title, body) of stored articles, to verify a candidate that has no sketch."""

    def sketches(self, ids: Sequence[int]) -> dict[int, tuple[str, bytes]]:
        """id → (title, sketch) of stored articles that have one (fingerprint.pack)."""

    def titles(self, ids: Sequence[int]) -> dict[int, tuple[str, bool]]:
        """id → (title, has a body): title candidates need nothing else."""

    def published(self, ids: Sequence[int]) -> dict[int, datetime]:
        """id → published time: what breaks a tie between two stories a copy fits equally."""

    def root(self, item_id: int) -> int:
        """The first-seen article of the item's story (the item itself when it is an original)."""

    def prefetch(self, content_hashes: Sequence[str], hashes: Sequence[int], urls: Sequence[str] = ()) -> None:
        """A hint: these will be asked for next (a batch's hashes), so fetch them together."""

    def add(self, item_id: int, title: str, body: str, content_hash: str | None,
            fingerprints: Sequence[int], duplicate_of: int | None, url: str | None = None,
            published: datetime | None = None, sketch: bytes | None = None) -> None:
        """An article just decided, visible to the rest of its batch."""


class MemoryLookup:
    """A store in dictionaries: for tests, and a model of what the SQL look-up must answer."""

    def __init__(self) -> None:
        self._articles: dict[int, tuple[str, str]] = {}
        self._hashes: dict[str, list[int]] = {}
        self._urls: dict[str, list[int]] = {}
        self._published: dict[int, datetime] = {}
        self._postings: dict[int, list[int]] = {}
        self._roots: dict[int, int] = {}
        self._sketches: dict[int, bytes] = {}

    def by_hash(self, content_hash: str) -> list[tuple[int, str]]:
        return [(i, self._articles[i][0]) for i in sorted(self._hashes.get(content_hash, []))[:3]]

    def by_url(self, url: str) -> list[tuple[int, str]]:
        return [(i, self._articles[i][0]) for i in sorted(self._urls.get(url, []))[:3]]

    def postings(self, hashes: Sequence[int]) -> list[tuple[int, int]]:
        return [(h, i) for h in hashes for i in self._postings.get(h, ())]

    def articles(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        return {i: self._articles[i] for i in ids if i in self._articles}

    def sketches(self, ids: Sequence[int]) -> dict[int, tuple[str, bytes]]:
        return {i: (self._articles[i][0], self._sketches[i]) for i in ids if i in self._sketches}

    def titles(self, ids: Sequence[int]) -> dict[int, tuple[str, bool]]:
        return {i: (self._articles[i][0], has_body(self._articles[i][1])) for i in ids if i in self._articles}

    def published(self, ids: Sequence[int]) -> dict[int, datetime]:
        return {i: self._published[i] for i in ids if i in self._published}

    def root(self, item_id: int) -> int:
        return self._roots.get(item_id, item_id)

    def prefetch(self, content_hashes: Sequence[str], hashes: Sequence[int], urls: Sequence[str] = ()) -> None:
        pass  # everything is in memory already

    def add(self, item_id: int, title: str, body: str, content_hash: str | None,
            fingerprints: Sequence[int], duplicate_of: int | None, url: str | None = None,
            published: datetime | None = None, sketch: bytes | None = None) -> None:
        self._articles[item_id] = (title, body)
        if sketch:
            self._sketches[item_id] = sketch
        if published is not None:
            self._published[item_id] = published
        if url:
            self._urls.setdefault(url, []).append(item_id)
        if content_hash:
            self._hashes.setdefault(content_hash, []).append(item_id)
        for h in fingerprints:
            self._postings.setdefault(h, []).append(item_id)
        if duplicate_of is not None:
            self._roots[item_id] = duplicate_of
