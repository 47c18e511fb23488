"""Feed autodiscovery: an HTML page that names its feeds in ``<link rel="alternate">``."""
from __future__ import annotations

from urllib.parse import urljoin

from lxml import html

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json",
              "application/rdf+xml", "text/xml", "application/xml")


def feed_links(page: bytes, base_url: str) -> list[str]:
    """The page's feed URLs, absolute, in the page's order (its first is its main feed)."""
    try:
        doc = html.fromstring(page[:2_000_000])
    except Exception:  # lxml raises several types for junk; an unreadable page names no feed
        return []
    out: list[str] = []
    for link in doc.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            url = urljoin(base_url, href)
            if url.startswith(("http://", "https://")) and url not in out:
                out.append(url)
    return out
