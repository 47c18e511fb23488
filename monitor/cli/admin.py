"""``monitor db``, ``monitor seeds import`` and ``monitor run``: setting up and running."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..config import Config, default_config_path
from ..pipeline.seeds import import_seeds
from ..store import Database, display_url
from ..store.engine import head_revision
from .common import EXIT_CONFIG, host_port, open_db


def register(sub: Any, common: argparse.ArgumentParser, command: Any) -> None:
    db = sub.add_parser("db", help="database schema").add_subparsers(metavar="ACTION")
    p = db.add_parser("upgrade", parents=[common], help="apply migrations up to the newest schema")
    p.set_defaults(func=cmd_db_upgrade)
    p = db.add_parser("current", parents=[common], help="print the schema revision")
    p.set_defaults(func=cmd_db_current)

    seeds = sub.add_parser("seeds", help="the seed corpus").add_subparsers(metavar="ACTION")
    p = seeds.add_parser("import", parents=[common], help="store the seed articles as known articles")
    p.add_argument("dir", nargs="?", type=Path, help="folder of seed files (default: seeds: from the config)")
    p.set_defaults(func=cmd_seeds_import)

    p = command("run", cmd_run, "run the daemon until SIGTERM or Ctrl-C (SIGHUP reloads the config)")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.add_argument("--http", type=host_port, metavar="HOST:PORT",
                   help="serve the web view with /healthz and Prometheus /metrics, e.g. 127.0.0.1:8080")


def cmd_db_upgrade(config: Config, args: argparse.Namespace) -> int:
    db = open_db(config, migrate=True)
    print(f"database {display_url(config.database)} at revision {db.revision()}")
    return 0


def cmd_db_current(config: Config, args: argparse.Namespace) -> int:
    db = Database(config.database)
    print(f"{db.revision() or '(empty)'} (newest: {head_revision()})")
    return 0


def cmd_seeds_import(config: Config, args: argparse.Namespace) -> int:
    directory = args.dir or config.seeds
    if directory is None:
        print("monitor: no seed folder: pass one or set seeds: in the config", file=sys.stderr)
        return EXIT_CONFIG
    db = open_db(config, migrate=True)
    try:
        results = import_seeds(db, directory, config.tz)
    except FileNotFoundError as e:
        print(f"monitor: {e}", file=sys.stderr)
        return 1
    for r in results:
        when = r.published.astimezone(config.tz).strftime("%Y-%m-%d") if r.published else "-"
        if r.status == "added":
            print(f"added     {r.file}: {r.title!r} ({r.source or 'source unknown'}, {when}, {r.chars} chars) "
                  f"-> item {r.item_id}")
        elif r.status == "exists":
            print(f"exists    {r.file}: item {r.item_id}, {r.title!r}")
        elif r.status == "duplicate":
            print(f"duplicate {r.file}: {r.reason}")
        else:
            print(f"skipped   {r.file}: {r.reason}", file=sys.stderr)
    added = sum(r.status == "added" for r in results)
    errors = sum(r.status == "error" for r in results)
    print(f"{added} added, {len(results) - added - errors} already stored, {errors} skipped with errors")
    return 0


def cmd_run(config: Config, args: argparse.Namespace) -> int:
    from ..daemon.start import start_daemon

    return start_daemon(config, args.config or default_config_path(), http=args.http, log_level=args.log_level,
                        log_format=args.log_format)
