"""The ``monitor`` command. Each subcommand is a thin shell over the stage functions, so the
daemon, the CLI and the tests drive the same code.

Exit status: 0 ok, 1 a run-time failure, 2 a bad config or bad arguments.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .columns import clip, pad
from .config import Config, ConfigError, default_config_path, load_config
from .durations import format_duration

EXIT_CONFIG = 2
log = logging.getLogger("monitor")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Options given before the subcommand and after it both land here (defaults are SUPPRESSed).
    args.config = getattr(args, "config", None)
    args.log_level = getattr(args, "log_level", "info")
    _setup_logging(args.log_level, getattr(args, "log_format", "text"))
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_CONFIG
    try:
        config = load_config(args.config or default_config_path())
    except ConfigError as e:
        print(f"monitor: config {e.path} is not valid; fix these and run again:", file=sys.stderr)
        for p in e.problems:
            print(f"  {p}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return args.func(config, args) or 0
    except BrokenPipeError:  # `monitor items --json | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


def _setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        from .logjson import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def _parser() -> argparse.ArgumentParser:
    # --config and --log-level work before or after the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", "-c", type=Path, default=argparse.SUPPRESS,
        help="config file (default: $MONITOR_CONFIG or ./config.yaml)",
    )
    common.add_argument("--log-level", default=argparse.SUPPRESS, help="debug, info, warning, error")

    parser = argparse.ArgumentParser(prog="monitor", description=__doc__, parents=[common])
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, func: Callable, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    command("check", cmd_check, "validate the config and print what it sets up")

    db = sub.add_parser("db", help="database schema").add_subparsers(metavar="ACTION")
    p = db.add_parser("upgrade", parents=[common], help="apply migrations up to the newest schema")
    p.set_defaults(func=cmd_db_upgrade)
    p = db.add_parser("current", parents=[common], help="print the schema revision")
    p.set_defaults(func=cmd_db_current)

    seeds = sub.add_parser("seeds", help="the seed corpus").add_subparsers(metavar="ACTION")
    p = seeds.add_parser("import", parents=[common], help="store the seed articles as known articles")
    p.add_argument("dir", nargs="?", type=Path, help="folder of seed files (default: seeds: from the config)")
    p.set_defaults(func=cmd_seeds_import)

    p = command("items", cmd_items, "list stored articles, newest first")
    p.add_argument("--json", action="store_true", help="one JSON object per line (a stable interface)")
    p.add_argument("--watch", help="only items matched by this watch")
    p.add_argument("--since", type=_iso_date, help="only items published at or after this ISO date/time")
    p.add_argument("--seeds", action="store_true", help="only seed-corpus articles")
    p.add_argument("--limit", type=int, help="at most this many")

    p = command("poll", cmd_poll, "poll the due feeds once and print what each gave")
    p.add_argument("--feed", action="append", dest="feeds", metavar="NAME", help="only this feed (repeatable)")
    p.add_argument("--all", action="store_true", help="every active feed, due or not")
    p.add_argument("--json", action="store_true", help="one JSON object per feed (a stable interface)")

    command("feeds", cmd_feeds, "feed health: last success, last error, failures, next poll")

    p = command("explain", cmd_explain, "show for one stored item which watches match it and where")
    p.add_argument("item_id", type=int, metavar="ITEM_ID")
    p.add_argument("--json", action="store_true", help="as one JSON object")

    p = command("dedupe", cmd_dedupe, "tell whether a text (a file, or - for stdin; text or HTML) "
                "duplicates a stored article, without storing it")
    p.add_argument("file", metavar="FILE", help="article file (plain text, HTML, Markdown with front matter) or -")
    p.add_argument("--title", help="the title, when the file has none")
    p.add_argument("--json", action="store_true", help="as one JSON object")

    p = command("rematch", cmd_rematch, "re-run the current watch queries over stored items")
    p.add_argument("--watch", metavar="NAME", help="only this watch")
    p.add_argument("--since", type=_iso_date, help="only items published at or after this ISO date/time")

    p = command("digest", cmd_digest, "preview or send the digest email(s)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--preview", type=Path, metavar="FILE.html",
                   help="write what would be sent now as HTML (one file per recipient list); sends and marks nothing")
    g.add_argument("--send", action="store_true",
                   help="record and send the digest of the latest scheduled period, unless already sent")
    p.add_argument("--now", action="store_true", help="with --send: a digest of everything undelivered, now, "
                   "as a period of its own")

    p = command("outbox", cmd_outbox, "emails recorded for sending: pending, failed (with reasons), sent")
    p.add_argument("action", nargs="?", choices=["list", "retry"], default="list",
                   help="retry: send every failed email now")
    p.add_argument("--json", action="store_true", help="one JSON object per email")

    p = command("status", cmd_status, "is the monitor doing its job: feeds, watches, digests, outbox")
    p.add_argument("--json", action="store_true", help="as one JSON object")

    p = command("run", cmd_run, "run the daemon until SIGTERM or Ctrl-C (SIGHUP reloads the config)")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.add_argument("--http", type=_host_port, metavar="HOST:PORT",
                   help="serve /healthz and Prometheus /metrics, e.g. 127.0.0.1:8080")
    return parser


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def _iso_date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date like 2026-11-01 or 2026-11-01T08:00+08:00")
    return value


# ---------------------------------------------------------------------------------------------


def _open_db(config: Config, *, upgrade: bool = True):
    from .db import make_engine, sessions, upgrade as do_upgrade

    engine = make_engine(config.database)
    if upgrade:
        do_upgrade(engine)
    return engine, sessions(engine)


def cmd_check(config: Config, args) -> int:
    from .feeds import desired_feeds

    feeds = desired_feeds(config)
    print(f"{config.source_path}: OK")
    print(f"  timezone   {config.timezone}")
    print(f"  database   {_safe_url(config.database)}")
    print(f"  seeds      {config.seeds}")
    plain = [f for f in feeds if f.kind == "feed"]
    search = [f for f in feeds if f.kind == "search"]
    print(f"  feeds      {len(plain)} plain, {len(search)} search "
          f"({len(config.search_feeds)} templates x {sum(w.search for w in config.watches)} watches)")
    for f in feeds:
        print(f"    - {pad(f.name, 28)} every {format_duration(f.interval):<6} {f.url}")
    print(f"  watches    {len(config.watches)}")
    for w in config.watches:
        rule = w.query if w.query is not None else " | ".join(w.keywords or [])
        to = ", ".join(w.recipients or config.digest.recipients)
        print(f"    - {pad(w.name, 12)} {w.alert:<9} {rule}   -> {to}")
    nxt = config.next_digest()
    wait = nxt - datetime.now(config.tz)
    print(f"  digest     '{config.digest.schedule}' next {nxt:%Y-%m-%d %H:%M %Z} "
          f"(in {format_duration(wait)}) to {', '.join(config.digest.recipients) or '-'}")
    where = config.mail.outbox if config.mail.transport == "file" else f"{config.mail.smtp.host}:{config.mail.smtp.port}"
    print(f"  mail       {config.mail.transport} -> {where} (from {config.mail.from_})")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_db_upgrade(config: Config, args) -> int:
    from .db import current_revision

    engine, _ = _open_db(config)
    print(f"database {_safe_url(config.database)} at revision {current_revision(engine)}")
    return 0


def cmd_db_current(config: Config, args) -> int:
    from .db import current_revision, head_revision

    engine, _ = _open_db(config, upgrade=False)
    cur = current_revision(engine)
    print(f"{cur or '(empty)'} (newest: {head_revision()})")
    return 0


def cmd_seeds_import(config: Config, args) -> int:
    from .seeds import import_seeds

    directory = args.dir or config.seeds
    if directory is None:
        print("monitor: no seed folder: pass one or set seeds: in the config", file=sys.stderr)
        return EXIT_CONFIG
    _, sessions = _open_db(config)
    try:
        results = import_seeds(sessions, directory, config.tz)
    except FileNotFoundError as e:
        print(f"monitor: {e}", file=sys.stderr)
        return 1
    for r in results:
        when = r.published.astimezone(config.tz).strftime("%Y-%m-%d") if r.published else "-"
        if r.status == "added":
            print(f"added     {r.file}: {r.title!r} ({r.source or 'source unknown'}, {when}, {r.chars} chars) -> item {r.item_id}")
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


def cmd_items(config: Config, args) -> int:
    from .store import ItemFilter, iter_items

    since = args.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=config.tz)
    _, sessions = _open_db(config)
    flt = ItemFilter(watch=args.watch, since=since, seeds_only=args.seeds, limit=args.limit)
    out = sys.stdout
    with sessions() as session:
        for row in iter_items(session, flt):
            if args.json:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                when = datetime.fromisoformat(row["published"]).astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
                origin = row["feed"] or f"seed:{row['seed']}"
                dup = f"  [dup of {row['duplicate_of']['id']}]" if row["duplicate_of"] else ""
                watches = ",".join(row["watches"])
                out.write(f"{row['id']:>6}  {when}  {pad(origin, 24)}  {clip(row['title'], 64)}{dup}  {watches}\n")
    return 0


def cmd_poll(config: Config, args) -> int:
    import asyncio

    from .instance import instance_id
    from .feeds import desired_feeds
    from .poll import poll

    _, sessions = _open_db(config)
    known = {f.name for f in desired_feeds(config)}
    unknown = [n for n in args.feeds or [] if n not in known]
    if unknown:
        print(f"monitor: no feed named {', '.join(unknown)} in {config.source_path} "
              f"(known: {', '.join(sorted(known))})", file=sys.stderr)
        return EXIT_CONFIG
    progress = _Progress(enabled=sys.stderr.isatty() and not args.json)
    results = asyncio.run(poll(config, sessions, owner=instance_id(), names=args.feeds,
                               due_only=not (args.all or args.feeds), on_result=progress.step))
    progress.close()
    if args.json:
        for r in results:
            print(json.dumps(r.as_json(), ensure_ascii=False))
    else:
        _print_poll_table(results)
    return 0


class _Progress:
    """A one-line counter on a terminal; nothing when piped."""

    def __init__(self, enabled: bool):
        self.enabled, self.count = enabled, 0

    def step(self, result) -> None:
        self.count += 1
        if self.enabled:
            sys.stderr.write(f"\rpolled {self.count} feeds, last: {pad(result.feed, 40)}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.count:
            sys.stderr.write("\r" + " " * 70 + "\r")


def _print_poll_table(results) -> None:
    if not results:
        print("no feed was due (use --all to poll every feed now)")
        return
    print(f"{'feed':<30} {'status':<13} {'http':>4} {'new':>5} {'upd':>5} {'same':>5} {'match':>5} {'secs':>6}  error")
    for r in sorted(results, key=lambda r: r.feed):
        print(f"{pad(r.feed, 30)} {r.status:<13} {r.http_status or '-':>4} {r.new:>5} {r.updated:>5} "
              f"{r.unchanged:>5} {r.matches:>5} {r.seconds:>6.2f}  {r.error or r.warning or ''}")
    total = {k: sum(getattr(r, k) for r in results) for k in ("new", "updated", "unchanged", "matches")}
    errors = sum(r.status == "error" for r in results)
    print(f"{len(results)} feeds: {total['new']} new, {total['updated']} updated, "
          f"{total['unchanged']} unchanged items, {total['matches']} watch matches; {errors} feeds failed")


def cmd_feeds(config: Config, args) -> int:
    from sqlalchemy import select

    from .models import Feed

    _, sessions = _open_db(config)

    def local(dt):
        return dt.astimezone(config.tz).strftime("%m-%d %H:%M") if dt else "-"

    with sessions() as session:
        rows = session.scalars(select(Feed).order_by(Feed.active.desc(), Feed.name)).all()
    print(f"{'feed':<30} {'state':<9} {'last ok':<11} {'next poll':<11} {'fails':>5}  last error")
    for f in rows:
        state = "retired" if not f.active else ("failing" if f.consecutive_failures else "ok")
        err = f"{local(f.last_error_at)} {f.last_error}" if f.consecutive_failures else ""
        print(f"{pad(f.name, 30)} {state:<9} {local(f.last_success_at):<11} {local(f.next_poll_at):<11} "
              f"{f.consecutive_failures:>5}  {err}")
    return 0


def cmd_explain(config: Config, args) -> int:
    from .explain import explain_item, print_explanation

    _, sessions = _open_db(config)
    with sessions() as session:
        report = explain_item(session, config, args.item_id)
    if report is None:
        print(f"monitor: no item {args.item_id} in {_safe_url(config.database)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_explanation(report, config.tz)
    return 0


def cmd_dedupe(config: Config, args) -> int:
    from .dedupe import Deduper
    from .extract import decode_bytes
    from .seedfile import parse_article

    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as e:
        print(f"monitor: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 1
    name = "standard input" if args.file == "-" else args.file
    try:
        article = parse_article(decode_bytes(data), tz=config.tz)
    except ValueError as e:
        print(f"monitor: {name}: {e}", file=sys.stderr)
        return 1
    title = args.title or article.title
    _, sessions = _open_db(config)
    with sessions() as session:
        decision = Deduper().check(session, title, article.body)
    report = {
        "file": name, "title": title, "kind": decision.kind, "duplicate": decision.is_duplicate,
        "duplicate_of": decision.duplicate_of, "matched": decision.matched, "method": decision.method,
        "similarity": round(decision.similarity, 4),
        "nearest": [{"id": c.id, "title": c.title, "similarity": round(c.similarity, 4), "method": c.method,
                     "duplicate": c.duplicate} for c in decision.nearest],
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    if decision.is_duplicate:
        print(f"duplicate of item {decision.duplicate_of} ({decision.method}, similarity {decision.similarity:.3f}, "
              f"matched item {decision.matched}): {title}")
    else:
        print(f"new: no stored article is a copy of {title!r} ({decision.kind} text)")
    for c in decision.nearest:
        print(f"  {c.similarity:.3f} {c.method:<8} {'dup ' if c.duplicate else '    '} item {c.id}: {c.title}")
    return 0


def cmd_rematch(config: Config, args) -> int:
    from .watches import rematch

    if args.watch and args.watch not in {w.name for w in config.watches}:
        print(f"monitor: no watch named {args.watch!r} in {config.source_path} "
              f"(known: {', '.join(w.name for w in config.watches)})", file=sys.stderr)
        return EXIT_CONFIG
    since = args.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=config.tz)
    _, sessions = _open_db(config)
    r = rematch(sessions, config, watch=args.watch, since=since)
    scope = f"watch {args.watch}" if args.watch else f"{len(config.watches)} watches"
    print(f"re-matched {r.items} items against {scope}: {r.before} matches before, {r.after} now")
    return 0


def cmd_digest(config: Config, args) -> int:
    from datetime import timezone

    from .mailer import transport_for
    from .mailing import compose, queue_digests
    from .outbox import send_due

    _, sessions = _open_db(config)
    now = datetime.now(timezone.utc)
    path = str(config.source_path)
    if args.preview:
        with sessions() as session:
            composed = compose(session, config, "digest", now=now, period="preview", config_path=path,
                               label=now.astimezone(config.tz).strftime("%Y-%m-%d"))
        for i, c in enumerate(composed):
            target = args.preview if i == 0 else args.preview.with_name(f"{args.preview.stem}-{i + 1}{args.preview.suffix}")
            target.write_text(c.rendered.html, encoding="utf-8")
            print(f"{target}: {c.digest.count} stories for {', '.join(c.digest.recipients)}: {c.rendered.subject}")
        if not composed:
            print("no watch goes into a digest (every watch is alert: immediate without digest: true)")
        return 0
    if not args.send:
        print("monitor digest: give --preview FILE.html or --send", file=sys.stderr)
        return EXIT_CONFIG
    ids = queue_digests(sessions, config, now=now, manual=args.now, config_path=path)
    if not ids:
        print("nothing to send: this period's digest was already recorded, nothing is new (and "
              "digest.send_empty is false), or no digest is due yet (use --now)")
    results = send_due(sessions, config, transport_for(config), only=ids) if ids else []
    for r in results:
        print(f"delivery {r.id} {'sent' if r.ok else 'FAILED'}: {r.subject} -> {r.recipients}"
              + (f" ({r.error}; kept in the outbox, retried later)" if r.error else ""))
    return 0 if all(r.ok for r in results) else 1


def cmd_outbox(config: Config, args) -> int:
    from .mailer import transport_for
    from .outbox import listing, retry_now, send_due

    _, sessions = _open_db(config)
    if args.action == "retry":
        with sessions.begin() as session:
            n = retry_now(session)
        results = send_due(sessions, config, transport_for(config))
        ok = sum(r.ok for r in results)
        print(f"{n} failed emails made due; sent {ok} of {len(results)}")
        for r in results:
            if not r.ok:
                print(f"  delivery {r.id} failed again: {r.error}")
        return 0 if ok == len(results) else 1
    with sessions() as session:
        rows = listing(session)
    def local(dt):
        return dt.astimezone(config.tz).strftime("%m-%d %H:%M") if dt else "-"
    if args.json:
        for d in rows:
            print(json.dumps({"id": d.id, "kind": d.kind, "status": d.status, "recipients": d.recipients.split(","),
                              "period": d.period, "subject": d.subject, "attempts": d.attempts,
                              "created": d.created_at.isoformat(), "sent": d.sent_at.isoformat() if d.sent_at else None,
                              "next_attempt": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
                              "error": d.last_error}, ensure_ascii=False))
        return 0
    if not rows:
        print("outbox is empty")
        return 0
    print(f"{'id':>5} {'kind':<6} {'status':<8} {'tries':>5} {'created':<11} {'sent/next':<11} recipients / subject / error")
    for d in rows:
        when = local(d.sent_at) if d.status == "sent" else local(d.next_attempt_at)
        print(f"{d.id:>5} {d.kind:<6} {d.status:<8} {d.attempts:>5} {local(d.created_at):<11} {when:<11} "
              f"{d.recipients}: {d.subject}" + (f"\n{'':>50}{d.last_error}" if d.last_error else ""))
    return 0


def cmd_status(config: Config, args) -> int:
    from .status import gather, print_status

    _, sessions = _open_db(config)
    with sessions() as session:
        st = gather(session, config)
    if args.json:
        print(json.dumps(st, ensure_ascii=False))
    else:
        print_status(st, config)
    return 0


def cmd_run(config: Config, args) -> int:
    from .daemon import run_daemon

    return run_daemon(config, config_path=args.config or default_config_path(), http=args.http)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
