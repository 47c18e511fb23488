"""``monitor digest`` and ``monitor outbox``: what is sent, and sending it."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ..config import Config
from ..mail.channels import display
from ..mail.compose import compose, queue_digests
from ..mail.outbox import send_due
from ..mail.transports import transport_for
from ..store import deliveries
from ..store.leases import release_dead_leases
from ..store.models import Delivery
from .common import EXIT_CONFIG, local, open_db

Command = Callable[..., argparse.ArgumentParser]


def register(command: Command) -> None:
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


def cmd_digest(config: Config, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    if args.preview:
        return _preview(config, args.preview, now)
    if not args.send:
        print("monitor digest: give --preview FILE.html or --send", file=sys.stderr)
        return EXIT_CONFIG
    db = open_db(config, migrate=True)
    release_dead_leases(db)  # an earlier send killed mid-way is this one's to finish
    ids = queue_digests(db, config, now=now, manual=args.now)
    if not ids:
        print("nothing to send: this period's digest was already recorded, nothing is new (and "
              "digest.send_empty is false), or no digest is due yet (use --now)")
    results = send_due(db, config, transport_for(config), only=ids) if ids else []
    for r in results:
        print(f"delivery {r.id} {'sent' if r.ok else 'FAILED'}: {r.subject} -> {display(r.recipients)}"
              + (f" ({r.error}; kept in the outbox, retried later)" if r.error else ""))
    return 0 if all(r.ok for r in results) else 1


def _preview(config: Config, target: Path, now: datetime) -> int:
    db = open_db(config, migrate=False)
    with db.session() as session:
        composed = compose(session, config, "digest", now=now, period="preview",
                           label=now.astimezone(config.tz).strftime("%Y-%m-%d"))
    for i, c in enumerate(composed):
        out = target if i == 0 else target.with_name(f"{target.stem}-{i + 1}{target.suffix}")
        out.write_text(c.rendered.html, encoding="utf-8")
        print(f"{out}: {c.digest.count} stories for {', '.join(c.digest.recipients)}: {c.rendered.subject}")
    if not composed:
        print("no watch goes into a digest (every watch is alert: immediate without digest: true)")
    return 0


def cmd_outbox(config: Config, args: argparse.Namespace) -> int:
    if args.action == "retry":
        db = open_db(config, migrate=True)
        release_dead_leases(db)  # "sending" rows of a killed process on this host come back too
        with db.begin() as session:
            n = deliveries.retry_failed(session)
        results = send_due(db, config, transport_for(config))
        ok = sum(r.ok for r in results)
        print(f"{n} failed emails made due; sent {ok} of {len(results)}")
        for r in results:
            if not r.ok:
                print(f"  delivery {r.id} failed again: {r.error}")
        return 0 if ok == len(results) else 1
    db = open_db(config, migrate=False)
    with db.session() as session:
        rows = deliveries.listing(session)
    if args.json:
        for d in rows:
            print(json.dumps(_as_json(d), ensure_ascii=False))
        return 0
    if not rows:
        print("outbox is empty")
        return 0
    print(f"{'id':>5} {'kind':<6} {'status':<8} {'tries':>5} {'created':<11} {'sent/next':<11} "
          "recipients / subject / error")
    for d in rows:
        when = local(config, d.sent_at) if d.status == "sent" else local(config, d.next_attempt_at)
        print(f"{d.id:>5} {d.kind:<6} {d.status:<8} {d.attempts:>5} {local(config, d.created_at):<11} {when:<11} "
              f"{display(d.recipients)}: {d.subject}" + (f"\n{'':>50}{d.last_error}" if d.last_error else ""))
    return 0


def _as_json(d: Delivery) -> dict:
    return {"id": d.id, "kind": d.kind, "status": d.status, "recipients": [display(a) for a in d.recipients.split(",")],
            "period": d.period, "subject": d.subject, "attempts": d.attempts,
            "created": d.created_at.isoformat(), "sent": d.sent_at.isoformat() if d.sent_at else None,
            "next_attempt": d.next_attempt_at.isoformat() if d.next_attempt_at else None, "error": d.last_error}
