"""Faults around delivery and the disk: a full disk is one line, not a traceback; a mail server that
refuses for good is given up on after a few tries and said so; an email whose sender was killed is
sent by the next command; no control character reaches an email."""
from __future__ import annotations

import email
import email.policy
import os
import resource
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.feedserver import Response
from helpers.polling import rss, run_poll, setup
from helpers.smtpserver import SmtpServer
from sqlalchemy import select, update

from monitor.mail.compose import queue_digests
from monitor.mail.outbox import PERMANENT_TRIES, send_due
from monitor.mail.transports import transport_for
from monitor.pipeline.seeds import import_seeds
from monitor.store.models import Delivery


def cli(path: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), *args],
                          capture_output=True, text=True, timeout=120, **kw)


def test_a_full_disk_is_one_line_naming_the_database(sqlite_config, feed_server, tmp_path):
    feed_server.routes["/f.xml"] = Response(200, rss([(f"a{i}", f"新市民第{i}条" * 20) for i in range(200)]))
    # Sixty readers: sixty emails of up to 100 KB each to record, more than the disk has room for.
    readers = [f"reader{i}@example.com" for i in range(60)]
    path = sqlite_config({"feeds": [{"name": "f", "url": feed_server.url("/f.xml")}],
                          "digest": {"recipients": readers, "subject": "日报 {date}"}})
    assert cli(path, "poll", "--all").returncode == 0  # stories for a digest
    # Far more text than the first poll wrote: storing it needs the files to grow (the write-ahead
    # log is reused from its start, and the search index is written after the poll).
    feed_server.routes["/f.xml"] = Response(200, rss([(f"b{i}", f"消费金融第{i}条" * 200) for i in range(200)]))
    biggest = max(p.stat().st_size for p in tmp_path.glob("monitor.db*"))

    def small_disk() -> None:  # the process may not grow a file past what is there now
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (biggest + 4096, biggest + 4096))

    poll = cli(path, "poll", "--all", preexec_fn=small_disk)
    assert "Traceback" not in poll.stderr, poll.stderr
    (row,) = [line for line in poll.stdout.splitlines() if line.startswith("f ")]
    assert "storing failed" in row and ("disk I/O error" in row or "disk is full" in row), poll.stdout
    digest = cli(path, "digest", "--send", "--now", preexec_fn=small_disk)
    assert digest.returncode == 1 and "Traceback" not in digest.stderr, digest.stderr
    (line,) = digest.stderr.strip().splitlines()  # one line: which database, what happened, what to do
    assert f"database sqlite:///{tmp_path / 'monitor.db'}" in line and ("disk" in line), line


def test_a_permanent_refusal_is_given_up_after_a_few_tries(make_config, feed_server):
    feed_server.routes["/f.xml"] = Response(200, rss([("a1", "新市民金融服务提速")]))
    with SmtpServer() as server:
        server.refuse = "550 5.7.1 message rejected as spam"
        config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml")}])
        config.mail.transport, config.mail.smtp = "smtp", _smtp(server.port, config)
        run_poll(config, db)
        (delivery_id,) = queue_digests(db, config, manual=True)
        transport = transport_for(config)
        now = datetime.now(UTC)
        for attempt in range(1, PERMANENT_TRIES + 1):
            (r,) = send_due(db, config, transport, now=now + timedelta(days=attempt))
            assert not r.ok and "550" in r.error
        with db.session() as s:
            d = s.get(Delivery, delivery_id)
            assert d.status == "failed" and d.next_attempt_at is None and d.attempts == PERMANENT_TRIES
        assert send_due(db, config, transport, now=now + timedelta(days=30)) == []  # not retried by itself
        status = cli(config.source_path, "status")
        assert "1 refused for good" in status.stdout, status.stdout
        server.refuse = None
        retry = cli(config.source_path, "outbox", "retry", env={**os.environ})
        assert "sent 0 of" not in retry.stdout  # the file transport in config.yaml: retried, delivered


def _smtp(port: int, config):
    from monitor.config.models import SmtpConfig

    return SmtpConfig(host="127.0.0.1", port=port, starttls=False)


def test_a_send_killed_mid_way_is_finished_by_the_next_command(make_config, feed_server):
    feed_server.routes["/f.xml"] = Response(200, rss([("a1", "新市民金融服务提速")]))
    config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml")}])
    run_poll(config, db)
    (delivery_id,) = queue_digests(db, config, manual=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with db.begin() as s:  # what a `digest --send` killed during the send leaves behind
        s.execute(update(Delivery).where(Delivery.id == delivery_id).values(
            status="sending", lease_owner=f"{os.uname().nodename}:{dead.pid}/x",
            lease_until=datetime.now(UTC) + timedelta(minutes=5)))
    out = cli(config.source_path, "outbox", "retry")
    assert out.returncode == 0 and "sent 1 of 1" in out.stdout, out.stdout + out.stderr
    with db.session() as s:
        assert s.scalar(select(Delivery.status).where(Delivery.id == delivery_id)) == "sent"


def test_no_control_character_reaches_an_email(make_config, feed_server):
    body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t&#0;</title><item>'
            "<title>新市民&#0;贷款\x01</title><guid>n1</guid><link>https://a.example.com/1</link>"
            "<description>正文&#27;[31m 新市民</description></item></channel></rss>")
    feed_server.routes["/f.xml"] = Response(200, body.encode(), {"Content-Type": "application/rss+xml"})
    config, db = setup(make_config, [{"name": "f", "url": feed_server.url("/f.xml")}])
    import_seeds(db, config.seeds, config.tz)
    run_poll(config, db)
    queue_digests(db, config, manual=True)
    send_due(db, config, transport_for(config))
    (eml,) = config.mail.outbox.glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    parts = [p.get_content() for p in msg.walk() if p.get_content_type() in ("text/plain", "text/html")]
    assert len(parts) == 2 and "新市民" in parts[0]
    for part in parts:
        assert not any(ord(c) < 32 and c not in "\n\t\r" for c in part), repr(part[:200])
