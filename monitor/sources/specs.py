"""Which feeds the config asks for: plain feeds, and one search feed per (template, watch)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from urllib.parse import quote

from ..config import Config, WatchConfig
from ..watch.query import And, Node, Not, Term, parse_watch
from .pages import PageRule

FeedKind = Literal["feed", "search", "page"]


@dataclass(frozen=True)
class FeedSpec:
    name: str
    url: str
    kind: FeedKind
    interval: timedelta
    encoding: str | None = None
    full_text: bool = False
    watch_name: str | None = None
    source: str | None = None  # the configured outlet for entries that name none
    page: PageRule | None = None  # a page without a feed: how to read it


def search_terms(watch: WatchConfig) -> str:
    """The watch's query in the search engines' shared syntax (quotes, OR, -term, intitle:)."""
    return _render(parse_watch(watch), top=True)


def _render(node: Node, top: bool = False) -> str:
    if isinstance(node, Term):
        text = f'"{node.text}"' if node.phrase or " " in node.text else node.text
        return f"intitle:{text}" if node.field == "title" else text
    if isinstance(node, Not):
        return f"-{_render(node.child)}"
    if isinstance(node, And):
        # source: scopes have no search-engine equivalent; the watchlist filter applies them later.
        parts = [_render(c) for c in node.children if not (isinstance(c, Term) and c.field == "source")]
        return " ".join(parts)
    inner = " OR ".join(_render(c) for c in node.children)
    return inner if top else f"({inner})"


def desired_feeds(config: Config) -> list[FeedSpec]:
    out = [
        FeedSpec(f.name, f.url, "feed", f.interval or config.poll_interval, f.encoding, f.full_text, source=f.source)
        for f in config.feeds
        if f.enabled
    ]
    out += [
        FeedSpec(p.name, p.url, "page", p.interval or config.poll_interval, p.encoding, p.full_text, source=p.source,
                 page=PageRule(p.item, p.title, p.link, p.date, p.date_format, p.summary, config.timezone))
        for p in config.pages
        if p.enabled
    ]
    for template in config.search_feeds:
        if not template.enabled:
            continue
        for watch in config.watches:
            if not watch.search:
                continue
            url = template.url.replace("{query}", quote(search_terms(watch), safe=""))
            out.append(
                FeedSpec(f"{template.name}:{watch.name}", url, "search", template.interval or config.poll_interval,
                         template.encoding, False, watch.name)
            )
    return out
