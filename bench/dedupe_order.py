"""Dedupe as a poll meets it: a stream of originals, their reprints in many shapes and different
stories that look alike, stored into an empty SQLite store in three arrival orders.

Every item belongs to a story (the truth); the store links each item to the first-stored copy of
what it judged the same story. Per shape: recall (reprints linked into their own story) and
precision (of the items linked, those linked into their own story), and the spread of precision
between the orders; hard negatives flagged (target: at most 2 of 120).

Shapes (bench/reprints.py): farm (prefixes, suffixes, navigation, footers, cut and merged
paragraphs), traditional, taiwan (Taiwan vocabulary), wechat (account furniture and a list of
other posts), numerals (figures in words), summary (a 150-character description), aggregator
(first paragraph and a link), headline (a search engine's title only). Hard negatives: the same
click-bait headline on another story, another day's templated report (every figure different),
a title with one word of substance changed, a search result naming only the topic.
"""
from __future__ import annotations

import os
import random
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import reprints  # noqa: E402
from dedupe_bench import group_of, is_unclear, load_articles  # noqa: E402

from monitor.dedupe.decide import Article, Deduper  # noqa: E402
from monitor.store.engine import make_engine, sessions, upgrade  # noqa: E402
from monitor.store.fingerprints import SqlLookup, save_outcomes  # noqa: E402
from monitor.store.items import insert_items  # noqa: E402
from monitor.text.normalize import content_hash  # noqa: E402

ORDERS = int(os.environ.get("BENCH_ORDERS", 3))
DEBUG = bool(os.environ.get("BENCH_DEBUG"))
BATCH = 50


@dataclass
class Entry:
    story: str
    shape: str  # original | a reprint shape | a negative shape
    title: str
    body: str
    published: datetime


def build(rng: random.Random) -> list[Entry]:
    seeds, posts = load_articles()
    articles = [a for a in seeds + posts if not is_unclear(a.key)]
    paired = {k for a in articles for k in group_of(a.key) if len(group_of(a.key)) > 1}
    bait = rng.sample([a for a in posts if a.key not in paired and not is_unclear(a.key) and len(a.body) >= 60], 20)
    articles = [a for a in articles if a not in bait]  # the bait stories appear only as bait
    titles = [a.title for a in articles]
    base = datetime(2026, 11, 1, tzinfo=UTC)
    out: list[Entry] = []
    same_text: dict[str, str] = {}  # posts whose whole text is the same are one story, whatever else
    for n, a in enumerate(articles):
        # natural reprints in the corpus are one story
        story = same_text.setdefault(content_hash(a.title + "\n" + a.body), min(group_of(a.key)))
        when = base + timedelta(minutes=10 * n)
        out.append(Entry(story, "original", a.title, a.body, when))
        out += _reprints(rng, story, a, titles, when)
    out += _negatives(rng, articles, bait, base)
    return out


def _reprints(rng: random.Random, story: str, a, titles: list[str], when: datetime) -> list[Entry]:
    later = [when + timedelta(minutes=rng.randint(1, 600)) for _ in range(8)]
    shapes = {
        "farm": (reprints.reprint_title(rng, a.title), reprints.reprint_body(rng, a.body, titles)),
        "traditional": (reprints.traditional(a.title), reprints.traditional(a.body)),
        "taiwan": (reprints.taiwan(a.title), reprints.taiwan(a.body)),
        "wechat": (a.title, reprints.wechat(rng, a.body, titles)),
        "numerals": (reprints.numerals(rng, a.title), reprints.numerals(rng, a.body)),
        "summary": (reprints.reprint_title(rng, a.title), reprints.summary_of(rng, a.body)),
        "aggregator": (a.title, reprints.aggregator(rng, a.body)),
        "headline": (reprints.headline(rng, a.title), ""),
    }
    return [Entry(story, shape, t, b, w) for (shape, (t, b)), w in zip(shapes.items(), later)]


def _negatives(rng: random.Random, articles, bait, base: datetime) -> list[Entry]:
    out: list[Entry] = []
    for i, (a, b) in enumerate(zip(bait[:10], bait[10:])):  # one click-bait headline, two stories
        h = reprints.GENERIC_HEADLINES[i % len(reprints.GENERIC_HEADLINES)] + ("" if i < 5 else f"，第{i}期")
        out += [Entry(f"bait-a{i}", "bait", h, a.body, base), Entry(f"bait-b{i}", "bait", h, b.body, base)]
    figured = [a for a in articles if sum(ch.isdigit() for ch in a.body) >= 8]
    for i, a in enumerate(rng.sample(figured, min(30, len(figured)))):  # another day's report
        # Its headline changes with its figures (and stays the same when it states none).
        out.append(Entry(f"day2-{i}", "template", reprints.shift_figures(rng, a.title),
                         reprints.shift_figures(rng, a.body), base + timedelta(days=1)))
    # Title-only negatives, one per distinct title (two posts of one story give the same one).
    swapped = dict.fromkeys(t for a in articles if (t := reprints.one_word_changed(rng, a.title)))
    out += [Entry(f"word-{i}", "one word", t, "", base) for i, t in enumerate(list(swapped)[:30])]
    topics = dict.fromkeys(t for a in articles if (t := reprints.topic_of(a.title)))
    out += [Entry(f"topic-{i}", "topic", t, "", base) for i, t in enumerate(list(topics)[:30])]
    return out


def main() -> None:
    rng = random.Random(16)
    entries = build(rng)
    results = []
    with tempfile.TemporaryDirectory() as d:
        for n in range(ORDERS):
            order = list(range(len(entries)))
            random.Random(100 + n).shuffle(order)
            folder = Path(d) / str(n)
            folder.mkdir()
            results.append(evaluate(entries, order, folder))
    report(entries, results)


def evaluate(entries: list[Entry], order: list[int], folder: Path) -> dict[str, dict[str, float]]:
    """Per shape: n, linked, linked into its own story, and (for reprints) reached its story."""
    engine_roots = run(entries, order, folder)
    per: dict[str, dict[str, float]] = defaultdict(lambda: {"n": 0, "linked": 0, "right": 0, "reached": 0})
    seen_story: set[str] = set()
    for i in order:
        e, (linked, root_story) = entries[i], engine_roots[i]
        st = per[e.shape]
        st["n"] += 1
        if linked:
            st["linked"] += 1
            st["right"] += root_story == e.story
        # A reprint "reached" its story when it was linked into it, or is the story's first copy.
        st["reached"] += (linked and root_story == e.story) or (not linked and e.story not in seen_story)
        seen_story.add(e.story)
    return per


def run(entries: list[Entry], order: list[int], folder: Path) -> dict[int, tuple[bool, str]]:
    engine = make_engine(f"sqlite:///{folder / 'o.db'}")
    upgrade(engine)
    sess = sessions(engine)
    deduper = Deduper()
    story_of_item: dict[int, str] = {}
    out: dict[int, tuple[bool, str]] = {}
    for start in range(0, len(order), BATCH):
        chunk = order[start:start + BATCH]
        with sess.begin() as s:
            rows: list[dict[str, Any]] = [dict(title=entries[i].title, content=entries[i].body or None, title_derived=False,
                         content_hash=content_hash(entries[i].body) if entries[i].body else None,
                         published_at=entries[i].published, fetched_at=entries[i].published,
                         updated_at=entries[i].published) for i in chunk]
            ids = insert_items(s, rows)
            for i, item in zip(chunk, ids):
                story_of_item[item] = entries[i].story
            articles = [Article(item, r["title"], entries[i].body, r["content_hash"], published=entries[i].published)
                        for i, item, r in zip(chunk, ids, rows)]
            outcomes = deduper.decide(SqlLookup(s), articles)
            save_outcomes(s, outcomes)
            for i, o in zip(chunk, outcomes):
                root = o.decision.duplicate_of
                out[i] = (root is not None, story_of_item[root] if root is not None else entries[i].story)
                if DEBUG and root is not None and story_of_item[root] != entries[i].story:
                    print("   wrong:", entries[i].shape, entries[i].title[:30], "->", story_of_item[root],
                          o.decision.method, round(o.decision.similarity, 3))
    engine.dispose()
    return out


NEGATIVES = ("bait", "template", "one word", "topic")


def report(entries: list[Entry], results: list[dict[str, dict[str, float]]]) -> None:
    shapes = sorted({e.shape for e in entries}, key=lambda s: (s in NEGATIVES, s))
    print(f"dedupe in arrival order: {len(entries)} items ({sum(e.shape == 'original' for e in entries)} stories), "
          f"{len(results)} orders, {BATCH} per transaction")
    print(f"  {'shape':<12} {'items':>5}  {'precision by order':<26} {'recall by order':<26}")
    totals = []
    for shape in shapes:
        ps, rs = [], []
        for per in results:
            st = per[shape]
            ps.append(st["right"] / st["linked"] if st["linked"] else 1.0)
            rs.append(st["reached"] / st["n"] if st["n"] else 1.0)
        n = results[0][shape]["n"]
        if shape in NEGATIVES:
            flagged = [int(per[shape]["linked"] - per[shape]["right"]) for per in results]
            print(f"  {shape:<12} {n:>5}  hard negatives flagged as duplicates: {' '.join(map(str, flagged))}")
        else:
            print(f"  {shape:<12} {n:>5}  {' '.join(f'{p:.4f}' for p in ps):<26} {' '.join(f'{r:.4f}' for r in rs):<26}")
    for per in results:
        linked = sum(st["linked"] for st in per.values())
        right = sum(st["right"] for st in per.values())
        pos = [s for s in shapes if s not in NEGATIVES and s != "original"]
        reached = sum(per[s]["reached"] for s in pos) / sum(per[s]["n"] for s in pos)
        totals.append((right / linked if linked else 1.0, reached))
    print("  all          precision " + " ".join(f"{p:.4f}" for p, _ in totals)
          + f"  (spread {max(p for p, _ in totals) - min(p for p, _ in totals):.4f}; target >= 0.995, spread <= 0.01)")
    print("               recall    " + " ".join(f"{r:.4f}" for _, r in totals) + "  (target >= 0.97)")
    flagged = [sum(int(per[s]["linked"] - per[s]["right"]) for s in NEGATIVES) for per in results]
    print(f"  hard negatives flagged: {' '.join(map(str, flagged))} of "
          f"{sum(results[0][s]['n'] for s in NEGATIVES)} (target <= 2 of 120)")


if __name__ == "__main__":
    main()
