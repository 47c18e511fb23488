"""The seed corpus: articles the analysts already have, stored as known items (and indexed for
dedupe) so that a reprint of one never reaches a digest."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from ..dedupe.decide import Article, Deduper
from ..sources.encoding import decode_bytes
from ..store import Database, fingerprints, items
from ..store import seeds as seed_rows
from ..text.articles import ParsedArticle, parse_article
from ..text.normalize import content_hash


@dataclass(frozen=True)
class SeedResult:
    file: str
    status: Literal["added", "exists", "duplicate", "error"]
    title: str | None = None
    source: str | None = None
    published: datetime | None = None
    chars: int = 0
    item_id: int | None = None
    reason: str | None = None


def seed_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith((".", "README")))


def read_article_file(path: Path, *, tz: ZoneInfo) -> ParsedArticle:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise OSError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        return parse_article(decode_bytes(data), tz=tz)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def import_seeds(db: Database, directory: Path, tz: ZoneInfo) -> list[SeedResult]:
    """Store each seed file once. A bad file is reported and skipped; the others still go in."""
    if not directory.is_dir():
        raise FileNotFoundError(f"seed folder {directory} does not exist (set seeds: in the config)")
    results = []
    deduper = Deduper()
    for path in seed_files(directory):
        with db.begin() as session:
            result = _import_one(session, path, tz)
            # In the dedupe index, so that a reprint of a seed is known as one. (Also catches up
            # seeds stored before the index existed.)
            if result.item_id is not None and result.status in ("added", "exists") \
                    and not fingerprints.is_indexed(session, result.item_id):
                stored = items.article(session, result.item_id)
                outcomes = deduper.decide(fingerprints.SqlLookup(session), [stored])
                fingerprints.save_outcomes(session, outcomes)
            results.append(result)
    return results


def _import_one(session, path: Path, tz: ZoneInfo) -> SeedResult:
    name = path.name
    existing = seed_rows.by_file(session, name)
    if existing is not None:
        return SeedResult(name, "exists", existing.title, existing.source, existing.published, item_id=existing.id)
    try:
        article = read_article_file(path, tz=tz)
    except (OSError, ValueError) as e:
        return SeedResult(name, "error", reason=str(e))
    digest = content_hash(article.body)
    same = seed_rows.by_content_hash(session, digest)
    if same is not None:
        return SeedResult(name, "duplicate", article.title, article.source, article.published,
                          item_id=same.id, reason=f"same text as item {same.id} ({same.seed or same.url})")
    item_id = seed_rows.add(session, name, article, digest, datetime.now(UTC))
    return SeedResult(name, "added", article.title, article.source, article.published, len(article.body), item_id)


__all__ = ["Article", "SeedResult", "import_seeds", "read_article_file", "seed_files"]
