"""``monitor items``, ``explain``, ``dedupe`` and ``rematch``: looking at what is stored."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path

from ..config import Config
from ..dedupe.decide import Deduper
from ..pipeline.explain import explain_item
from ..pipeline.rematch import rematch
from ..sources.encoding import decode_bytes
from ..store import fingerprints
from ..store.items import ItemFilter, iter_items
from ..text.articles import parse_article
from .common import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, known_watch, local_since, open_db, since_arg
from .output import clip, pad

Command = Callable[..., argparse.ArgumentParser]
SINCE_HELP = "only items published since: 2026-11-01, 2026-11-01T08:00, 2d, 12h, today or yesterday (config's zone)"


def register(command: Command) -> None:
    p = command("items", cmd_items, "list stored articles, newest first",
                examples="  monitor items --watch 新市民 --since yesterday\n"
                         "  monitor items --since 12h --json | jq .title")
    p.add_argument("--json", action="store_true", help="one JSON object per line (a stable interface)")
    p.add_argument("--watch", help="only items matched by this watch")
    p.add_argument("--since", type=since_arg, help=SINCE_HELP)
    p.add_argument("--seeds", action="store_true", help="only seed-corpus articles")
    p.add_argument("--limit", type=int, help="at most this many")

    p = command("explain", cmd_explain, "show for one stored item which watches match it and where")
    p.add_argument("item_id", type=int, metavar="ITEM_ID")
    p.add_argument("--json", action="store_true", help="as one JSON object")

    p = command("dedupe", cmd_dedupe, "is this text a copy of a stored article? (exit 1: yes, 0: no)",
                about="FILE is plain text, HTML or Markdown with front matter, or - for standard input; "
                "nothing is stored.",
                examples="  monitor dedupe article.html\n  curl -s URL | monitor dedupe - --title '标题'")
    p.add_argument("file", metavar="FILE", help="article file (plain text, HTML, Markdown with front matter) or -")
    p.add_argument("--title", help="the title, when the file has none")
    p.add_argument("--json", action="store_true", help="as one JSON object")

    p = command("rematch", cmd_rematch, "re-run the current watch queries over stored items")
    p.add_argument("--watch", metavar="NAME", help="only this watch")
    p.add_argument("--since", type=since_arg, help=SINCE_HELP)


def cmd_items(config: Config, args: argparse.Namespace) -> int:
    if not known_watch(config, args.watch):
        return EXIT_FAILED
    db = open_db(config, migrate=False)
    flt = ItemFilter(watch=args.watch, since=local_since(config, args.since), seeds_only=args.seeds, limit=args.limit)
    out = sys.stdout
    with db.session() as session:
        for row in iter_items(session, flt):
            if args.json:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                continue
            when = datetime.fromisoformat(row["published"]).astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
            origin = row["feed"] or f"seed:{row['seed']}"
            dup = f"  [dup of {row['duplicate_of']['id']}]" if row["duplicate_of"] else ""
            watches = ",".join(row["watches"])
            out.write(f"{row['id']:>6}  {when}  {pad(origin, 24)}  {clip(row['title'], 64)}{dup}  {watches}\n")
    return 0


def cmd_explain(config: Config, args: argparse.Namespace) -> int:
    db = open_db(config, migrate=False)
    with db.session() as session:
        report = explain_item(session, config, args.item_id)
    if report is None:
        print(f"monitor: no item {args.item_id} in {db.shown}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, ensure_ascii=False))  # one line: every --json output is JSON lines
    else:
        print_explanation(report, config.tz)
    return 0


def print_explanation(report: dict, tz: tzinfo) -> None:
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
        if w.get("via") == "search":
            print(f"           {w['reason']}")
        for h in w["hits"]:
            print(f"           {h['term']!r} in {h['field']} [{h['start']}:{h['end']}]  {h['context']}")
    for v in report.get("feedback", []):
        at = datetime.fromisoformat(v["at"]).astimezone(tz).strftime("%Y-%m-%d %H:%M")
        print(f"  not relevant to {v['watch']}: said by {v['by']} on {at} (the web view can undo it)")
    dedupe = report.get("dedupe")
    if dedupe:
        print()
        print(f"  dedupe: {dedupe['decision']}")
        for n in dedupe.get("nearest", []):
            mark = "dup " if n["duplicate"] else "    "
            print(f"    {n['similarity']:.3f} {n['method']:<8} {mark}item {n['id']}: {n['title']}")
            if n.get("rule"):
                print(f"{'':>23}{n['rule']}")


def cmd_dedupe(config: Config, args: argparse.Namespace) -> int:
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as e:
        print(f"monitor: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return EXIT_CONFIG
    name = "standard input" if args.file == "-" else args.file
    try:
        article = parse_article(decode_bytes(data), tz=config.tz)
    except ValueError as e:
        print(f"monitor: {name}: {e}", file=sys.stderr)
        return EXIT_CONFIG
    title = args.title or article.title
    db = open_db(config, migrate=False)
    with db.session() as session:
        decision = Deduper().check(fingerprints.SqlLookup(session), title, article.body)
    report = {
        "file": name, "title": title, "kind": decision.kind, "duplicate": decision.is_duplicate,
        "duplicate_of": decision.duplicate_of, "matched": decision.matched, "method": decision.method,
        "similarity": round(decision.similarity, 4),
        "nearest": [{"id": c.id, "title": c.title, "similarity": round(c.similarity, 4), "method": c.method,
                     "duplicate": c.duplicate, "rule": c.rule} for c in decision.nearest],
    }
    verdict = EXIT_FAILED if decision.is_duplicate else EXIT_OK  # grep-like: 1 means "it is a duplicate"
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return verdict
    if decision.is_duplicate:
        print(f"duplicate of item {decision.duplicate_of} ({decision.method}, similarity {decision.similarity:.3f}, "
              f"matched item {decision.matched}): {title}")
    else:
        print(f"new: no stored article is a copy of {title!r} ({decision.kind} text)")
    for c in decision.nearest:
        print(f"  {c.similarity:.3f} {c.method:<8} {'dup ' if c.duplicate else '    '} item {c.id}: {c.title}")
        if c.rule:
            print(f"{'':>21}{c.rule}")
    return verdict


def cmd_rematch(config: Config, args: argparse.Namespace) -> int:
    if not known_watch(config, args.watch):
        return EXIT_FAILED
    db = open_db(config, migrate=True)
    r = rematch(db, config, watch=args.watch, since=local_since(config, args.since))
    scope = f"watch {args.watch}" if args.watch else f"{len(config.watches)} watches"
    print(f"re-matched {r.items} items against {scope}: {r.before} matches before, {r.after} now")
    return 0
