"""Compose digests and alerts for every recipient list, record them in the outbox, send.

Shared by the CLI (``monitor digest``) and the daemon (cron digests, alerts after each poll,
outbox retries). The database decides what is due: the digest period is the latest scheduled
time, so a daemon that starts after a missed 08:00 sends that period's digest once, late, with
everything since the previous one.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from . import digest as dg
from .config import Config
from .models import Delivery, Feed
from .outbox import Rendered, enqueue
from .render import environment, render, subject

log = logging.getLogger("monitor.mailing")


@dataclass
class Composed:
    digest: dg.Digest
    rendered: Rendered


def compose(session: Session, config: Config, kind: str, *, now: datetime, period: str, label: str,
            config_path: str = "") -> list[Composed]:
    env = environment(config.mail.templates)
    config_path = config_path or str(config.source_path)
    out = []
    for recipients, watches in dg.groups(config, kind).items():
        d = dg.build(session, config, kind, recipients, watches, now=now, period=period, label=label,
                     config_path=config_path)
        if kind == "digest":
            subj = subject(config.digest.subject, date=label, count=d.count, watches=len(watches))
        else:
            names = ", ".join(s.watch for s in d.sections if s.items)
            subj = subject(config.mail.alert_subject, date=label, count=d.count, watches=names)
        html, text = render(env, kind, config.tz, digest=d, subject=subj)
        out.append(Composed(d, Rendered(subj, html, text)))
    return out


def digest_due(session: Session, config: Config, now: datetime) -> datetime | None:
    """The scheduled period to send now, if any: the latest fire time, unless it falls before this
    database started monitoring (a first start at 15:00 does not mail the 08:00 digest)."""
    fire = dg.latest_period(config, now)
    if fire is None:
        return None
    since = session.scalar(select(func.min(Feed.created_at)))
    if since is None or fire < since:
        return None
    return fire


def queue_digests(session_factory: sessionmaker, config: Config, *, now: datetime | None = None,
                  fire: datetime | None = None, manual: bool = False, config_path: str = "") -> list[int]:
    """Record this period's digest for every recipient list that has not had it. ``manual``: a
    period of its own (``digest --send --now``). Empty digests only with ``send_empty``."""
    now = now or datetime.now(timezone.utc)
    with session_factory() as s:
        if manual:
            local = now.astimezone(config.tz)
            period, label = f"manual {local.isoformat(timespec='seconds')}", local.strftime("%Y-%m-%d")
        else:
            fire = fire or digest_due(s, config, now)
            if fire is None:
                return []
            period, label = dg.period_key(fire), fire.astimezone(config.tz).strftime("%Y-%m-%d")
        done = set(s.scalars(select(Delivery.recipients).where(Delivery.kind == "digest", Delivery.period == period)))
    ids = []
    for recipients in dg.groups(config, "digest"):
        if recipients in done:
            continue
        with session_factory.begin() as s:
            for c in compose(s, config, "digest", now=now, period=period, label=label, config_path=config_path):
                if c.digest.recipients != recipients.split(","):
                    continue
                if not c.digest.count and not config.digest.send_empty:
                    log.info("digest %s for %s: nothing new, not sent (digest.send_empty is false)", period, recipients)
                    continue
                new = enqueue(s, config, c.digest, c.rendered, now=now)
                if new is None:
                    log.info("digest %s for %s was already recorded by another process", period, recipients)
                else:
                    ids.append(new)
    return ids


def queue_alerts(session_factory: sessionmaker, config: Config, *, now: datetime | None = None,
                 config_path: str = "") -> list[int]:
    """One alert per recipient list with the immediate watches' new matches. The period is a hash of
    the items, so two daemons that see the same new items record one alert."""
    now = now or datetime.now(timezone.utc)
    ids = []
    if not dg.groups(config, "alert"):
        return ids
    with session_factory.begin() as s:
        label = now.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
        for c in compose(s, config, "alert", now=now, period="", label=label, config_path=config_path):
            if not c.digest.count:
                continue
            key = ",".join(str(i) for i, _ in sorted(c.digest.carried))
            c.digest.period = "items " + hashlib.sha256(key.encode()).hexdigest()[:20]
            new = enqueue(s, config, c.digest, c.rendered, now=now)
            if new is not None:
                ids.append(new)
    return ids
