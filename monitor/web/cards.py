"""Stories as the pages show them: plain records built from the store's stories, with the
highlight segments, the outlet names and the words for how each copy joined its story."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..mail.content import Segments, snippet, source_of, title_segments
from ..store.items import ItemView
from ..store.stories import Story


@dataclass
class CopyRow:
    id: int
    title: str
    url: str | None
    outlet: str
    published: datetime
    how: str  # how it joined the story, in words
    root: bool


@dataclass
class Card:
    root: int
    shown: int
    title: Segments
    url: str | None
    outlet: str
    published: datetime
    snippet: Segments
    watches: list[str]
    copies: list[CopyRow] = field(default_factory=list)
    hidden_from: list[str] = field(default_factory=list)
    backlog: bool = False


def how_joined(_: Callable[[str], str], method: str | None, similarity: float | None) -> str:
    if method is None:
        return _("first seen")
    words = {
        "url": _("the same link"), "hash": _("the same text"), "near": _("nearly the same text"),
        "summary": _("a summary of the same text"), "title": _("the same headline"),
        "reader": _("a reader said it is the same story"),
    }.get(method, method)
    return words if similarity is None or method in ("url", "hash", "reader") else f"{words} ({similarity:.2f})"


def card(story: Story, _: Callable[[str], str], hits: list | None = None) -> Card:
    """``hits``: what to highlight on the shown copy (a search's own hits); else every watch's."""
    it: ItemView = story.shown
    marks = hits if hits is not None else [h for hs in story.hits.values() for h in hs]
    copies = [CopyRow(c.item.id, c.item.title, c.item.url, source_of(c.item), c.item.published,
                      how_joined(_, c.method, c.similarity), c.item.id == story.root) for c in story.copies]
    return Card(story.root, it.id, title_segments(it, marks), it.url, source_of(it), it.published,
                snippet(it, marks), sorted(story.hits), copies, story.hidden_from, it.backlog)
