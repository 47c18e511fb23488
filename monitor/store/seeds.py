"""Seed articles as items: feed NULL, the seed file's name kept, so they count as already seen."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..text.articles import ParsedArticle
from . import search
from .items import ItemView, item_view
from .models import Item


def by_file(session: Session, name: str) -> ItemView | None:
    item_id = session.scalar(select(Item.id).where(Item.seed_file == name))
    return item_view(session, item_id) if item_id is not None else None


def by_content_hash(session: Session, digest: str) -> ItemView | None:
    item_id = session.scalar(select(Item.id).where(Item.content_hash == digest).order_by(Item.id).limit(1))
    return item_view(session, item_id) if item_id is not None else None


def add(session: Session, name: str, article: ParsedArticle, digest: str, now: datetime) -> int:
    item = Item(
        seed_file=name, guid=f"seed:{name}", url=article.url, canonical_url=article.url, title=article.title,
        title_derived=article.title_derived, source=article.source, author=article.author, content=article.body,
        content_hash=digest, published_at=article.published or now, fetched_at=now, updated_at=now,
    )
    session.add(item)
    session.flush()
    search.index_rows(session, [(item.id, item.title, None, item.content)], new=True)
    return item.id

