"""``monitor explain ITEM_ID``: why an item did or did not match each watch, and (with the dedupe
stage) what it was judged a copy of. Computed from the current config, next to what is stored."""
from __future__ import annotations

from datetime import tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import Config
from .match import Hit
from .models import Duplicate, Feed, Item, Match, Watch
from .watches import doc_of, matcher_for

SNIPPET_RADIUS = 24


def snippet(text: str, start: int, end: int, radius: int = SNIPPET_RADIUS, mark: tuple[str, str] = ("»", "«")) -> str:
    """The hit with some context either side, on one line."""
    left = max(0, start - radius)
    right = min(len(text), end + radius)
    before = text[left:start].replace("\n", " ")
    after = text[end:right].replace("\n", " ")
    return (("…" if left else "") + before + mark[0] + text[start:end] + mark[1] + after
            + ("…" if right < len(text) else ""))


def explain_item(session: Session, config: Config, item_id: int) -> dict | None:
    row = session.execute(
        select(Item, Feed.name).outerjoin(Feed, Feed.id == Item.feed_id).where(Item.id == item_id)
    ).first()
    if row is None:
        return None
    item, feed_name = row
    doc = doc_of(item.title, item.summary, item.content, item.source, item.url, feed_name)
    stored = {name for (name,) in session.execute(
        select(Watch.name).join(Match, Match.watch_id == Watch.id).where(Match.item_id == item_id))}
    watches = []
    for result in matcher_for(config).explain(doc):
        watches.append({
            "watch": result.watch,
            "matched": result.matched,
            "stored": result.watch in stored,
            "hits": [dict(h.as_json(), context=snippet(getattr(doc, h.field), h.start, h.end)) for h in result.hits],
        })
    report = {
        "id": item.id,
        "title": item.title,
        "url": item.url,
        "source": item.source,
        "feed": feed_name,
        "seed": item.seed_file,
        "published": item.published_at.isoformat(),
        "watches": watches,
    }
    report["dedupe"] = _stored_duplicate(session, item)
    return report


def _stored_duplicate(session: Session, item: Item) -> dict:
    """The stored decision, and the nearest earlier articles as the dedupe stage sees them now."""
    from .dedupe import Deduper, item_body

    decision = Deduper().check(session, item.title, item_body(item.summary, item.content), before=item.id)
    nearest = [{"id": c.id, "title": c.title, "similarity": round(c.similarity, 4), "method": c.method,
                "duplicate": c.duplicate} for c in decision.nearest]
    dup = session.get(Duplicate, item.id)
    if dup is None:
        return {"decision": f"original: no earlier stored article is a copy ({decision.kind} text)",
                "duplicate_of": None, "nearest": nearest}
    return {
        "decision": f"duplicate of item {dup.duplicate_of_id} ({dup.method}, similarity {dup.similarity:.3f})",
        "duplicate_of": dup.duplicate_of_id,
        "nearest": nearest,
    }


def print_explanation(report: dict, tz: tzinfo) -> None:
    from datetime import datetime

    when = datetime.fromisoformat(report["published"]).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    origin = report["feed"] or f"seed {report['seed']}"
    print(f"item {report['id']}: {report['title']}")
    print(f"  {origin} · {report['source'] or '-'} · {when}")
    if report["url"]:
        print(f"  {report['url']}")
    print()
    for w in report["watches"]:
        state = "MATCH   " if w["matched"] else "no match"
        note = ""
        if w["matched"] != w["stored"]:
            note = "  (stored result differs: the query changed since; `monitor rematch` updates it)"
        print(f"  {state} {w['watch']}{note}")
        for h in w["hits"]:
            print(f"           {h['term']!r} in {h['field']} [{h['start']}:{h['end']}]  {h['context']}")
    dedupe = report.get("dedupe")
    if dedupe:
        print()
        print(f"  dedupe: {dedupe['decision']}")
        for n in dedupe.get("nearest", []):
            mark = "dup " if n["duplicate"] else "    "
            print(f"    {n['similarity']:.3f} {n['method']:<8} {mark}item {n['id']}: {n['title']}")


__all__ = ["explain_item", "print_explanation", "snippet", "Hit"]
