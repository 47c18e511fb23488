"""Compose digests and alerts per recipient list and record them in the outbox.

Shared by the CLI (``monitor digest``) and the daemon (cron digests, alerts after each poll). The
database decides what is due: the digest period is the latest scheduled time, so a daemon that
starts after a missed 08:00 sends that period's digest once, late, with everything since the
previous one.
"""
from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from ..config import Config, WatchConfig
from ..config.schedule import latest_period, period_key
from ..store import Database, Session, deliveries, feedback
from . import content
from .channels import is_channel
from .content import Digest, Kind
from .links import Links
from .outbox import SendResult, send_due
from .render import environment, render, render_text, subject
from .transports import Transport

log = logging.getLogger("monitor.mailing")
HTML_BUDGET = 100_000  # bytes of HTML: Gmail clips a message at 102 KB and hides the rest
FIT_TRIES = 12  # renders to bring an email under the budget (each cut is sized by the excess)


@dataclass
class Rendered:
    subject: str
    html: str
    text: str


@dataclass
class Composed:
    digest: Digest
    rendered: Rendered


def compose(session: Session, config: Config, kind: Kind, *, now: datetime, period: str,
            label: str) -> list[Composed]:
    """Every person's email of this kind."""
    return [compose_one(session, config, kind, recipients, watches, now=now, period=period, label=label)
            for recipients, watches in content.groups(config, kind, feedback.prefs(session)).items()]


def compose_one(session: Session, config: Config, kind: Kind, recipients: str, watches: list[WatchConfig], *,
                now: datetime, period: str, label: str, schedule: str | None = None) -> Composed:
    d = content.build(session, config, kind, recipients, watches, now=now, period=period, label=label,
                      schedule=schedule)
    if kind == "alert":
        # The period of an alert is its items: two daemons that see the same new items record one alert.
        key = ",".join(str(i) for i, _ in sorted(d.carried))
        d.period = "items " + hashlib.sha256(key.encode()).hexdigest()[:20]
    if kind == "digest":
        subj = subject(config.digest.subject, date=label, count=d.count, watches=len(watches))
    else:
        names = ", ".join(s.watch for s in d.sections if s.items)
        subj = subject(config.mail.alert_subject, date=label, count=d.count, watches=names)
    links = Links.of(config, session, recipients)
    env = environment(config.mail.templates, config.locale)
    view = links.view(message_key(d.kind, recipients, d.period))
    if is_channel(recipients):  # a chat message: compact Markdown, no HTML part
        return Composed(d, Rendered(subj, "", render_text(env, f"{kind}.md", config.tz, digest=d, subject=subj,
                                                          links=links, view_url=view)))
    html, text = render(env, kind, config.tz, digest=d, subject=subj, links=links, view_url=view)
    step = {"full": 1500.0, "title": 400.0}  # bytes a step saves: a first guess, then measured
    for _ in range(FIT_TRIES):
        size = len(html.encode())
        if size <= HTML_BUDGET:
            break
        stage, _ = content.shrink_stage(d)
        taken, stage = content.shrink(d, math.ceil(1.1 * (size - HTML_BUDGET) / step[stage]))
        if not taken:
            break
        html, text = render(env, kind, config.tz, digest=d, subject=subj, links=links, view_url=view)
        saved = size - len(html.encode())
        if saved > 0:
            step[stage] = max(saved / taken, 50.0)
    return Composed(d, Rendered(subj, html, text))


def message_key(kind: str, recipients: str, period: str) -> str:
    """The unique part of an email's Message-ID, also the key of its copy in the web view."""
    return hashlib.sha256(f"{kind}\n{recipients}\n{period}".encode()).hexdigest()[:24]


def message_id(kind: str, recipients: str, period: str, sender: str) -> str:
    """Stable for a delivery: a re-send after a crash carries the same Message-ID, so mail clients
    can fold the rare double."""
    domain = sender.rpartition("@")[2] or "monitor.invalid"
    return f"<{kind}.{message_key(kind, recipients, period)}@{domain}>"


def enqueue(session: Session, config: Config, c: Composed, *, now: datetime) -> int | None:
    """Record the email and its items; None when this (kind, recipients, period) already exists."""
    d = c.digest
    recipients = ",".join(d.recipients)
    return deliveries.enqueue(session, deliveries.NewDelivery(
        d.kind, recipients, d.period, message_id(d.kind, recipients, d.period, config.mail.from_),
        c.rendered.subject, c.rendered.html, c.rendered.text, d.carried), now=now)


def digest_due(session: Session, config: Config, now: datetime, schedule: str | None = None) -> datetime | None:
    """The scheduled period to send now, if any: the latest fire time, unless it falls before this
    database started monitoring (a first start at 15:00 does not mail the 08:00 digest)."""
    fire = latest_period(schedule or config.digest.schedule, config.tz, now)
    if fire is None:
        return None
    since = deliveries.monitoring_since(session)
    if since is None or fire < since:
        return None
    return fire


def queue_digests(db: Database, config: Config, *, now: datetime | None = None, manual: bool = False) -> list[int]:
    """Record the due period's digest of every schedule for every person who has not had it.
    ``manual``: one period of its own with all of a person's watches (``digest --send --now``).
    Empty digests only with ``send_empty``."""
    now = now or datetime.now(UTC)
    ids: list[int] = []
    for schedule in [None] if manual else config.digest_schedules:
        with db.session() as s:
            due = _period(s, config, now, schedule)
            if due is None:
                continue
            period, label = due
            done = deliveries.recorded_for_period(s, "digest", period)
            people = content.groups(config, "digest", feedback.prefs(s), schedule=schedule)
        ids += _queue_period(db, config, now, period, label, schedule,
                             {r: w for r, w in people.items() if r not in done})
    return ids


def _period(session: Session, config: Config, now: datetime, schedule: str | None) -> tuple[str, str] | None:
    """(period key, label) due now on ``schedule``; None (manual) makes a period of its own. The
    default schedule's keys stay bare, so an upgrade does not re-send the day's digest."""
    if schedule is None:
        local = now.astimezone(config.tz)
        return f"manual {local.isoformat(timespec='seconds')}", local.strftime("%Y-%m-%d")
    fire = digest_due(session, config, now, schedule)
    if fire is None:
        return None
    key = period_key(fire) if schedule == config.digest.schedule else f"{period_key(fire)} {schedule}"
    return key, fire.astimezone(config.tz).strftime("%Y-%m-%d")


def _queue_period(db: Database, config: Config, now: datetime, period: str, label: str, schedule: str | None,
                  people: dict[str, list[WatchConfig]]) -> list[int]:
    ids = []
    for recipients, watches in people.items():
        with db.begin() as s:
            c = compose_one(s, config, "digest", recipients, watches, now=now, period=period, label=label,
                            schedule=schedule)
            if not c.digest.count and not config.digest.send_empty:
                log.info("digest %s for %s: nothing new, not sent (digest.send_empty is false)", period, recipients)
                continue
            new = enqueue(s, config, c, now=now)
            if new is None:
                log.info("digest %s for %s was already recorded by another process", period, recipients)
            else:
                ids.append(new)
    return ids


def alert_now(db: Database, config: Config, transport: Transport) -> list[SendResult]:
    """Record and send the alerts a poll's matches call for, in the process that polled: an alert
    found by ``monitor poll`` must not wait for the daemon's next own poll. A failed send stays in
    the outbox, retried by whichever process sends next."""
    ids = queue_alerts(db, config)
    return send_due(db, config, transport, only=ids) if ids else []


def queue_alerts(db: Database, config: Config, *, now: datetime | None = None) -> list[int]:
    """One alert per recipient list with the immediate watches' new matches. The period is a hash of
    the items, so two daemons that see the same new items record one alert."""
    now = now or datetime.now(UTC)
    ids: list[int] = []
    if not content.groups(config, "alert"):
        return ids
    with db.begin() as s:
        label = now.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
        for c in compose(s, config, "alert", now=now, period="", label=label):
            if not c.digest.count:
                continue
            new = enqueue(s, config, c, now=now)
            if new is not None:
                ids.append(new)
    return ids
