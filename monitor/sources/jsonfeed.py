"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org), read with the standard json module: RSSHub and
anyfeeder serve it, and feedparser reads no JSON."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .entries import FeedEntry, make_entry, plausible_time
from .outlets import channel_outlet
from .rss import text_of


class NotJsonFeed(ValueError):
    pass


def load(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise NotJsonFeed(f"not valid JSON: {str(e)[:120]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise NotJsonFeed("JSON, but not a JSON Feed (no items list)")
    if "jsonfeed.org" not in str(data.get("version", "")):
        raise NotJsonFeed(f"JSON, but not a JSON Feed (version {str(data.get('version'))[:60]!r})")
    return data


def entries_of(data: dict[str, Any], fetched_at: datetime, outlet: str | None = None) -> list[FeedEntry]:
    fallback = outlet or channel_outlet(text_of(_str(data.get("title"))))
    out = []
    for item in data["items"]:
        if isinstance(item, dict) and (entry := _entry(item, fetched_at, fallback)) is not None:
            out.append(entry)
    return out


def _entry(item: dict[str, Any], fetched_at: datetime, fallback: str | None) -> FeedEntry | None:
    title = text_of(_str(item.get("title")))
    content = text_of(_str(item.get("content_html"))) or text_of(_str(item.get("content_text")))
    summary = text_of(_str(item.get("summary")))
    link = _str(item.get("url")) or _str(item.get("external_url")) or None
    if not (title or content or summary or link):
        return None
    if not title:
        title = (summary or content)[:60] or (link or "")
    return make_entry(guid=_str(item.get("id")) or None, url=link, title=title, author=_author(item),
                      summary=summary, content=content, published=_when(item, fetched_at), source=fallback)


def _when(item: dict[str, Any], fetched_at: datetime) -> datetime:
    for key in ("date_published", "date_modified"):
        value = _str(item.get(key))
        if value:
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                continue
            return plausible_time(when if when.tzinfo else when.replace(tzinfo=UTC), fetched_at)
    return fetched_at


def _author(item: dict[str, Any]) -> str | None:
    authors = item.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        return _str(authors[0].get("name")) or None
    author = item.get("author")  # JSON Feed 1.0
    return _str(author.get("name")) or None if isinstance(author, dict) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def title_of(data: dict[str, Any]) -> str | None:
    return text_of(_str(data.get("title"))) or None
