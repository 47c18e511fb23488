"""``monitor explain ITEM_ID``: why an item did or did not match each watch, and what the dedupe
stage judged it a copy of. Computed from the current config, next to what is stored."""
from __future__ import annotations

from ..config import Config
from ..dedupe.decide import Deduper
from ..store import Session, feedback, fingerprints, items, matches
from ..watch.matcher import Matcher, doc_of

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
    item = items.item_view(session, item_id)
    if item is None:
        return None
    doc = doc_of(item.title, item.summary, item.content, item.source, item.url, item.feed)
    stored = matches.matched_watches(session, item_id)
    searched_for = matches.search_watch_of(session, item_id)
    watches = [{
        "watch": result.watch,
        "matched": result.matched,
        "stored": result.watch in stored,
        "via": result.via,
        "reason": _reason(result.matched, result.via, item.feed),
        "hits": [dict(h.as_json(), context=snippet(getattr(doc, h.field), h.start, h.end)) for h in result.hits],
    } for result in Matcher.for_watches(config.watches).explain(doc, searched_for=searched_for)]
    return {
        "id": item.id, "title": item.title, "url": item.url, "source": item.source, "feed": item.feed,
        "seed": item.seed, "published": item.published.isoformat(), "watches": watches,
        "dedupe": _dedupe(session, item),
        "feedback": [{"watch": v.watch, "by": v.by, "at": v.at.isoformat()}
                     for v in feedback.verdicts(session, item.id)],
    }


def _reason(matched: bool, via: str | None, feed: str | None) -> str:
    if via == "search":
        return (f"returned by the search engine for this watch (search feed {feed}): the engine matched the "
                "whole article, and none of the watch's NOT terms is in its headline")
    return "its terms are in the text" if matched else "its query does not match the text"


def _dedupe(session: Session, item: items.ItemView) -> dict:
    """The stored decision, and the nearest earlier articles as the dedupe stage sees them now."""
    decision = Deduper().check(fingerprints.SqlLookup(session), item.title, item.body, before=item.id)
    nearest = [{"id": c.id, "title": c.title, "similarity": round(c.similarity, 4), "method": c.method,
                "duplicate": c.duplicate, "rule": c.rule} for c in decision.nearest]
    link = items.duplicate_link(session, item.id)
    if link is None:
        return {"decision": f"original: no earlier stored article is a copy ({decision.kind} text)",
                "duplicate_of": None, "nearest": nearest}
    return {"decision": f"duplicate of item {link.duplicate_of} ({link.method}, similarity {link.similarity:.3f})",
            "duplicate_of": link.duplicate_of, "nearest": nearest}
