"""``monitor feeds add|remove|import-opml|export-opml`` and ``monitor watches add|remove|test``:
the watchlist changed without hand-editing YAML. Every change goes through ``config.edit`` (comments
and layout kept, validated before writing), and a daemon running on this host's SQLite file is
told to reload."""
from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..config import Config, ConfigError
from ..errors import QueryError
from ..mail.channels import display
from ..mail.content import segments
from ..mail.render import bracketed
from ..pipeline.poll import make_fetcher
from ..pipeline.rematch import try_query
from ..sources import opml
from ..sources.discover import feed_links
from ..sources.fetch import FetchRequest
from ..sources.parse import parse_feed
from ..store import Database
from ..store.leases import pid_alive
from ..watch.query import parse_query, query_text

if TYPE_CHECKING:
    from ..config.edit import ConfigEditor

from .common import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, local, local_since, open_db, since_arg
from .feeds import cmd_feeds
from .output import clip, pad

FEEDS_EXAMPLES = """  monitor feeds
  monitor feeds add https://www.example.com/finance/   (a page: its linked feed is added)
  monitor feeds import-opml reader.opml
  monitor feeds export-opml > feeds.opml"""


def register(sub: Any, common: argparse.ArgumentParser, command: Any) -> None:
    p = command("feeds", cmd_feeds, "feed health, and adding, removing, importing and exporting feeds",
                examples=FEEDS_EXAMPLES)
    p.add_argument("--json", action="store_true", help="one JSON object per feed (a stable interface)")
    actions = p.add_subparsers(metavar="ACTION")
    a = actions.add_parser("add", parents=[common], help="add a feed (a site URL is resolved to the feed it links)")
    a.add_argument("url", metavar="URL")
    a.add_argument("--name", help="default: the feed's own title")
    a.add_argument("--interval", help="e.g. 15m, 1h (default: poll_interval)")
    a.add_argument("--category", help="a folder, for OPML")
    a.set_defaults(func=cmd_feeds_add)
    a = actions.add_parser("remove", parents=[common], help="remove a feed from the config (its items stay)")
    a.add_argument("name", metavar="NAME")
    a.set_defaults(func=cmd_feeds_remove)
    a = actions.add_parser("import-opml", parents=[common], help="add every feed of an OPML file not yet in the config")
    a.add_argument("file", type=Path, metavar="FILE")
    a.set_defaults(func=cmd_import_opml)
    a = actions.add_parser("export-opml", parents=[common], help="print the config's feeds as OPML")
    a.set_defaults(func=cmd_export_opml)

    p = command("watches", cmd_watches, "the watches, and adding, removing and trying them",
                examples="  monitor watches test '消费金融 -招聘' --since 7d\n"
                         "  monitor watches add 助贷 '助贷 OR 联合贷款'\n  monitor watches remove 助贷")
    actions = p.add_subparsers(metavar="ACTION")
    a = actions.add_parser("add", parents=[common], help="add a watch (the query language of config.yaml)")
    a.add_argument("name", metavar="NAME")
    a.add_argument("query", metavar="QUERY")
    a.add_argument("--alert", choices=["digest", "immediate"], default="digest")
    a.add_argument("--recipient", action="append", dest="recipients", metavar="EMAIL",
                   help="default: digest.recipients (repeatable)")
    a.set_defaults(func=cmd_watches_add)
    a = actions.add_parser("remove", parents=[common], help="remove a watch from the config (its matches stay)")
    a.add_argument("name", metavar="NAME")
    a.set_defaults(func=cmd_watches_remove)
    a = actions.add_parser("test", parents=[common], help="run a query over stored items and show what it matches")
    a.add_argument("query", metavar="QUERY")
    a.add_argument("--since", type=since_arg, help="only items published since (2026-11-01, 7d, yesterday…)")
    a.add_argument("--limit", type=int, default=20, help="at most this many shown (default 20)")
    a.set_defaults(func=cmd_watches_test)


# -- feeds ---------------------------------------------------------------------------------------

def cmd_feeds_add(config: Config, args: argparse.Namespace) -> int:
    if not _http_url(args.url):
        print(f"monitor: {args.url!r} is not an http(s) URL", file=sys.stderr)
        return EXIT_CONFIG
    editor = _editor(config)
    found = asyncio.run(_probe(config, args.url))
    if isinstance(found, str):
        print(f"monitor: {found}", file=sys.stderr)
        return EXIT_FAILED
    url, title, entries, via = found
    if url in {str(f.get("url")) for f in editor.section("feeds")}:
        print(f"monitor: {url} is already a feed in {editor.path}", file=sys.stderr)
        return EXIT_FAILED
    name = args.name or _unique(" ".join((title or _host(url)).split())[:60], editor.names("feeds"))
    entry: dict[str, Any] = {"name": name, "url": url}
    entry.update({k: v for k, v in (("interval", args.interval), ("category", args.category)) if v})
    editor.append("feeds", entry)
    if not _save(editor):
        return EXIT_CONFIG
    if via:
        print(f"{args.url} is a page; it links the feed {url}")
    print(f"added feed {name!r}: {url} ({entries} entries now)")
    _reload(config)
    return EXIT_OK


async def _probe(config: Config, url: str) -> tuple[str, str | None, int, bool] | str:
    """(feed URL, its title, entries, found through the page) or why there is no feed: one fetch,
    and one more when the URL is a page that links its feed."""
    fetcher = make_fetcher(config)
    try:
        result = await fetcher.fetch(FetchRequest(url))
        if result.problem:
            return f"{url}: {result.problem.reason}"
        parsed = parse_feed(result.body, content_type=result.headers.get("content-type"))
        if not parsed.failure:
            return result.final_url, parsed.title, len(parsed.entries), False
        for link in feed_links(result.body, result.final_url)[:3]:
            linked = await fetcher.fetch(FetchRequest(link))
            feed = parse_feed(linked.body, content_type=linked.headers.get("content-type")) if linked.ok else None
            if feed is not None and not feed.failure:
                return linked.final_url, feed.title, len(feed.entries), True
        return f"{url}: {parsed.failure.reason}; the page links no feed that answers"
    finally:
        await fetcher.aclose()


def cmd_feeds_remove(config: Config, args: argparse.Namespace) -> int:
    return _remove(config, "feeds", args.name, "its stored items stay; `monitor feeds` shows it retired")


def cmd_import_opml(config: Config, args: argparse.Namespace) -> int:
    try:
        feeds = opml.read(args.file.read_bytes())
    except (OSError, opml.NotOpml) as e:
        print(f"monitor: {args.file}: {getattr(e, 'strerror', None) or e}", file=sys.stderr)
        return EXIT_CONFIG
    editor = _editor(config)
    have = {str(f.get("url")) for f in editor.section("feeds")}
    added = 0
    skipped = [f for f in feeds if not _http_url(f.url)]
    for f in feeds:
        if f.url in have or f in skipped:
            continue
        entry = {"name": _unique(f.name, editor.names("feeds")), "url": f.url}
        if f.category:
            entry["category"] = f.category
        editor.append("feeds", entry)
        have.add(f.url)
        added += 1
    if added and not _save(editor):
        return EXIT_CONFIG
    bad = f", {len(skipped)} skipped (not http(s): {', '.join(f.url[:60] for f in skipped[:3])})" if skipped else ""
    print(f"{args.file}: {len(feeds)} feeds, {added} added, {len(feeds) - added - len(skipped)} already in the config"
          + bad)
    if added:
        _reload(config)
    return EXIT_OK


def cmd_export_opml(config: Config, args: argparse.Namespace) -> int:
    sys.stdout.buffer.write(opml.write([opml.OpmlFeed(f.name, f.url, f.category) for f in config.feeds]))
    return EXIT_OK


# -- watches -------------------------------------------------------------------------------------

def cmd_watches(config: Config, args: argparse.Namespace) -> int:
    for w in config.watches:
        to = ", ".join(config.people_of(w)
                       + [display(u) for u in config.channels_of(w)])
        print(f"{pad(w.name, 16)} {w.alert:<9} {config.schedule_of(w):<12} {query_text(w)}   -> {to}")
    return EXIT_OK


def cmd_watches_add(config: Config, args: argparse.Namespace) -> int:
    editor = _editor(config)
    if args.name in editor.names("watches"):
        print(f"monitor: a watch named {args.name!r} is already in {editor.path}", file=sys.stderr)
        return EXIT_FAILED
    entry: dict[str, Any] = {"name": args.name, "query": args.query}
    if args.alert != "digest":
        entry["alert"] = args.alert
    if args.recipients:
        entry["recipients"] = args.recipients
    editor.append("watches", entry)
    if not _save(editor):
        return EXIT_CONFIG
    print(f"added watch {args.name!r}: {args.query} (`monitor rematch --watch {args.name}` applies it to stored items)")
    _reload(config)
    return EXIT_OK


def cmd_watches_remove(config: Config, args: argparse.Namespace) -> int:
    return _remove(config, "watches", args.name, "its stored matches stay")


def cmd_watches_test(config: Config, args: argparse.Namespace) -> int:
    try:
        node = parse_query(args.query)
    except QueryError as e:
        print(f"monitor: query {args.query!r}: {e} (at character {e.position})", file=sys.stderr)
        return EXIT_CONFIG
    db = open_db(config, migrate=False)
    found, scanned = try_query(db, node, since=local_since(config, args.since), limit=args.limit)
    for m in found:
        title = bracketed(segments(m.title, [h.as_json() for h in m.hits], "title"))
        print(f"{m.id:>6}  {local(config, m.published, '%Y-%m-%d %H:%M')}  {pad(m.source, 16)}  {clip(title, 80)}")
        terms = sorted({h.term for h in m.hits})
        print(f"{'':>8}found: {', '.join(terms)}")
    more = f" (showing {len(found)})" if len(found) == args.limit else ""
    print(f"{len(found)} of {scanned} stored items match{more}")
    return EXIT_OK


# -- shared --------------------------------------------------------------------------------------

def _path(config: Config) -> Path:
    assert config.source_path is not None  # the CLI always loads from a file
    return config.source_path


def _remove(config: Config, section: str, name: str, after: str) -> int:
    editor = _editor(config)
    what = {"feeds": "feed", "watches": "watch"}[section]
    if not editor.remove(section, name):
        print(f"monitor: no {what} named {name!r} in {editor.path} (known: {', '.join(editor.names(section))})",
              file=sys.stderr)
        return EXIT_FAILED
    if not _save(editor):
        return EXIT_CONFIG
    print(f"removed {what} {name!r} ({after})")
    _reload(config)
    return EXIT_OK


def _save(editor: ConfigEditor) -> bool:
    try:
        editor.save()
    except ConfigError as e:
        print(f"monitor: the change would make {editor.path} invalid; nothing written:", file=sys.stderr)
        for p in e.problems:
            print(f"  {p}", file=sys.stderr)
        return False
    return True


def _unique(name: str, taken: list[str]) -> str:
    out, n = name or "feed", 2
    while out in taken:
        out, n = f"{name} ({n})", n + 1
    return out


def _http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # http://[x
        return False


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _reload(config: Config) -> None:
    """A daemon on this host's SQLite file holds the lock on ``<db>.lock`` and names itself in it:
    send it SIGHUP. The lock must be held right now (the file outlives its daemon, and its pid may
    belong to another process by now)."""
    db_file = Database(config.database).sqlite_path()
    pid = _lock_holder(Path(str(db_file) + ".lock")) if db_file else None
    try:
        if pid is None:
            raise ProcessLookupError
        os.kill(pid, signal.SIGHUP)
        print(f"told the running daemon (pid {pid}) to reload the config")
    except OSError:
        print("a running daemon takes this on its next SIGHUP or restart")


def _lock_holder(lock: Path) -> int | None:
    try:
        with lock.open() as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:  # held: a daemon runs; the file says which
                host, _, pid = (f.read().split() or [""])[0].partition(":")
                ok = host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid()
                return int(pid) if ok and pid_alive(int(pid)) else None
            fcntl.flock(f, fcntl.LOCK_UN)
            return None  # nobody holds it: no daemon
    except OSError:
        return None


def _editor(config: Config) -> ConfigEditor:
    """ruamel.yaml is loaded by the commands that edit the config only, not by every process that
    builds the parser (the daemon at rest held it for nothing)."""
    from ..config.edit import ConfigEditor

    return ConfigEditor(_path(config))
