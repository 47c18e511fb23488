"""Search-engine result feeds, recognised by the host their channel and links point at.

A search engine's item is a headline about an article elsewhere: Google News appends the outlet to
the title, names it in ``<source>`` and fills the description with this headline and its sibling
stories (which are other articles, so it is not this item's text); Bing News names the outlet in
``News:Source`` and links through a redirect (unwrapped by ``urls.canonical_url``). A result with
no outlet of its own is the site its link points at.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from .urls import canonical_url

EngineName = Literal["google_news", "bing", "none"]


@dataclass(frozen=True)
class Engine:
    name: EngineName
    own_text: bool  # is the entry's description text about this article?

    @property
    def is_search(self) -> bool:
        return self.name != "none"


NONE = Engine("none", True)
GOOGLE_NEWS = Engine("google_news", False)
BING = Engine("bing", True)


def engine_of(channel_link: str | None, generator: str | None, item_links: list[str]) -> Engine:
    hosts = {_host(channel_link)} | {_host(u) for u in item_links[:5]}
    if "news.google.com" in hosts or (generator or "").startswith("NFE/"):
        return GOOGLE_NEWS
    if any(h == "bing.com" or h.endswith(".bing.com") for h in hosts):
        return BING
    return NONE


def result_outlet(engine: Engine, link: str | None) -> str | None:
    """The outlet of a search result that names none: the host of the page it points to."""
    if not engine.is_search or not link:
        return None
    host = _host(canonical_url(link))
    return host.removeprefix("www.") if host and host not in ("news.google.com", "bing.com", "www.bing.com") else None


def _host(url: str | None) -> str:
    try:
        return (urlsplit(url).hostname or "") if url else ""
    except ValueError:
        return ""
