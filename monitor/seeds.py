"""The seed corpus: articles the analysts already have, stored as known items so that a reprint
of one never reaches a digest.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .dedupe import Deduper
from .models import Fingerprint, Item
from .normalize import content_hash, squash
from .seedfile import read_article_file
import hashlib


@dataclass(frozen=True)
class SeedResult:
    file: str
    status: str  # added | exists | duplicate | error
    title: str | None = None
    source: str | None = None
    published: datetime | None = None
    chars: int = 0
    item_id: int | None = None
    reason: str | None = None


def seed_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith((".", "README")))


def import_seeds(sessions: sessionmaker[Session], directory: Path, tz: ZoneInfo) -> list[SeedResult]:
    """Store each seed file once. A bad file is reported and skipped; the others still go in."""
    if not directory.is_dir():
        raise FileNotFoundError(f"seed folder {directory} does not exist (set seeds: in the config)")
    results = []
    deduper = Deduper()
    for path in seed_files(directory):
        with sessions.begin() as session:
            result = _import_one(session, path, tz)
            # In the dedupe index, so that a reprint of a seed is known as one. (Also catches up
            # seeds stored before the index existed.)
            if result.item_id is not None and result.status in ("added", "exists") and not session.scalar(
                    select(Fingerprint.item_id).where(Fingerprint.item_id == result.item_id).limit(1)):
                deduper.process(session, [result.item_id])
            results.append(result)
    return results


def _import_one(session: Session, path: Path, tz: ZoneInfo) -> SeedResult:
    name = path.name
    existing = session.scalar(select(Item).where(Item.seed_file == name))
    if existing is not None:
        return SeedResult(name, "exists", existing.title, existing.source, existing.published_at, item_id=existing.id)
    try:
        article = read_article_file(path, tz=tz)
    except (OSError, ValueError) as e:
        return SeedResult(name, "error", reason=str(e))

    digest = content_hash(article.body)
    same = session.scalar(select(Item).where(Item.content_hash == digest).limit(1))
    if same is not None:
        return SeedResult(name, "duplicate", article.title, article.source, article.published,
                          item_id=same.id, reason=f"same text as item {same.id} ({same.seed_file or same.url})")

    now = datetime.now(timezone.utc)
    item = Item(
        seed_file=name,
        guid=f"seed:{name}",
        url=article.url,
        canonical_url=article.url,
        title=article.title,
        title_derived=article.title_derived,
        source=article.source,
        author=article.author,
        content=article.body,
        content_hash=digest,
        title_key=hashlib.sha256(squash(article.title).encode()).hexdigest(),
        published_at=article.published or now,
        fetched_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    return SeedResult(name, "added", article.title, article.source, article.published, len(article.body), item.id)
