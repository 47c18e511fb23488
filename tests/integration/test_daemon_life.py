"""The daemon as users run it: a subprocess with a real feed server, a real SMTP server (aiosmtpd)
and a real database; signals, crashes, reloads and a second daemon."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import yaml
from helpers.feedserver import Response
from helpers.polling import earlier_today, recent
from helpers.procs import running
from helpers.smtpserver import SmtpServer, free_port
from sqlalchemy import func, select, text

from monitor.config import load_config
from monitor.store.engine import make_engine, sessions
from monitor.store.models import Delivery, DeliveryItem, Feed, Item, Match, Watch


def rss(entries: list[tuple[str, str]], channel: str = "测试财经", published: str | None = None) -> Response:
    body = "".join(
        f"<item><title>{escape(t)}</title><link>https://news.example.com/{g}.html</link><guid>{g}</guid>"
        f"<description>{escape(t)}。{escape(g)} 号稿件正文，记者从相关部门获悉的最新情况。</description>"
        f"<pubDate>{published or recent()}</pubDate></item>"
        for g, t in entries
    )
    xml = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{channel}</title>{body}'
           f"</channel></rss>")
    return Response(200, xml.encode(), {"Content-Type": "application/rss+xml"})


class Daemon:
    """A `monitor run` subprocess whose output is collected by a thread, so tests can wait for lines."""

    def __init__(self, config, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, timeout: float = 30, after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(needle in line for line in self.lines[after:]):
                return
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not seen in the daemon's output:\n{self.output}")

    def signal(self, sig) -> None:
        os.kill(self.proc.pid, sig)

    def stop(self, timeout: float = 40) -> int:
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._reader.join(timeout=5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


@pytest.fixture
def daemons():
    running: list[Daemon] = []
    yield running
    for d in running:
        d.kill()


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def mail_config(server: SmtpServer) -> dict:
    return {"from": "monitor@example.com", "transport": "smtp",
            "smtp": {"host": "127.0.0.1", "port": server.port, "starttls": False, "timeout": "5s"}}


WATCHES = [
    {"name": "新市民", "query": "新市民"},
    {"name": "消费金融", "keywords": ["消费金融"], "alert": "immediate"},
]


def titles_in(messages, kind: str) -> list[str]:
    """Titles listed in the plain-text part of every received email of this kind (alert / digest)."""
    out = []
    for m in messages:
        if not m["X-Monitor-Delivery"].startswith(kind):
            continue
        body = m.get_body(("plain",)).get_content()
        out += [line[2:].replace("**", "") for line in body.splitlines() if line.startswith("* ")]
    return out


def test_daemon_sends_alerts_each_poll_and_a_digest_every_minute(make_config, feed_server, daemons):
    feed = [("a1", "消费金融公司增资扩股"), ("a2", "新市民安居工程启动"), ("a3", "股市收盘")]
    feed_server.routes["/f.xml"] = rss(feed)
    with SmtpServer() as smtp:
        config = make_config({
            "poll_interval": "2s", "feeds": [{"name": "f", "url": feed_server.url("/f.xml"), "interval": "2s"}],
            "watches": WATCHES, "digest": {"schedule": "* * * * *", "recipients": ["analyst@example.com"],
                                           "subject": "日报 {date} ({count})"},
            "mail": mail_config(smtp),
        })
        d = Daemon(config)
        daemons.append(d)
        wait_until(lambda: titles_in(smtp.messages, "alert"), 30, "the first alert")
        # The feed changes while the daemon runs.
        feed += [("a4", "消费金融监管新规出台"), ("a5", "新市民职业培训补贴发放")]
        feed_server.routes["/f.xml"] = rss(feed)
        wait_until(lambda: len(titles_in(smtp.messages, "alert")) >= 2, 30, "the second alert")
        wanted = {"新市民安居工程启动", "新市民职业培训补贴发放"}
        wait_until(lambda: wanted <= set(titles_in(smtp.messages, "digest")), 130, "both items in digests")
        assert d.stop() == 0, d.output
    assert Counter(titles_in(smtp.messages, "alert")) == {"消费金融公司增资扩股": 1, "消费金融监管新规出台": 1}
    assert Counter(titles_in(smtp.messages, "digest")) == {t: 1 for t in wanted}
    alerts = [m for m in smtp.messages if m["X-Monitor-Delivery"].startswith("alert")]
    assert len(alerts) == 2  # one per poll that found something, not one per item
    digest = next(m for m in smtp.messages if m["X-Monitor-Delivery"].startswith("digest"))
    assert digest["Subject"].startswith("日报 ")


def test_kill_9_at_random_moments_loses_nothing_and_sends_nothing_twice(make_config, feed_server, daemons):
    rng = random.Random(int(os.environ.get("CRASH_SEED", "7")))
    feed: list[tuple[str, str]] = []
    with SmtpServer() as smtp:
        config = make_config({
            "poll_interval": "1s", "feeds": [{"name": "f", "url": feed_server.url("/f.xml"), "interval": "1s"}],
            "watches": WATCHES, "mail": mail_config(smtp),
            "digest": {"schedule": "* * * * *", "recipients": ["analyst@example.com"]},
        })
        cycles = 12
        for cycle in range(cycles):
            feed += [(f"c{cycle}a", f"消费金融快讯第{cycle}期"), (f"c{cycle}b", f"新市民服务第{cycle}期"),
                     (f"c{cycle}c", f"市场综述第{cycle}期")]
            feed_server.routes["/f.xml"] = rss(feed)
            d = Daemon(config)
            daemons.append(d)
            time.sleep(rng.uniform(0.5, 4.0))  # during start-up, polls, matching, sends
            d.kill()
        # A last, clean run delivers whatever the crashes left behind.
        d = Daemon(config)
        daemons.append(d)
        expected_alerts = {f"消费金融快讯第{c}期" for c in range(cycles)}
        wait_until(lambda: expected_alerts <= set(titles_in(smtp.messages, "alert")), 60, "every alert")
        d.wait_for("monitor running")
        d.wait_for("polled 1 feeds")  # a full poll after the crashes: its alerts are sent before it ends
        assert d.stop() == 0, d.output

    # Every matched item delivered once: each alerted item is in exactly one delivery (Message-ID).
    by_id = defaultdict(list)
    for m in smtp.messages:
        by_id[m["Message-ID"]].append(m)
    per_item = Counter()
    for mid, copies in by_id.items():
        per_item.update(set(titles_in(copies[:1], "alert")))
    assert set(per_item) == expected_alerts and set(per_item.values()) == {1}, per_item
    # A re-send after a crash reuses the Message-ID; it can only happen when the kill fell between
    # the SMTP server's "250" and our commit, a window of a millisecond or so.
    resent = sum(len(c) - 1 for c in by_id.values())
    assert resent <= 1, f"{resent} emails received twice"
    digest_titles = Counter(t for copies in by_id.values() for t in titles_in(copies[:1], "digest"))
    assert all(n == 1 for n in digest_titles.values()), digest_titles

    # The store is consistent: every item once, matched once per watch, nothing left leased or unsent.
    sess = sessions(make_engine(load_config(config).database))
    with sess() as s:
        assert s.scalar(select(func.count()).select_from(Item).where(Item.feed_id.is_not(None))) == 3 * cycles
        matched = dict(s.execute(select(Watch.name, func.count(Match.id)).join(Match).group_by(Watch.name)).all())
        assert matched == {"消费金融": cycles, "新市民": cycles}
        assert s.scalar(select(func.count()).select_from(Feed).where(Feed.lease_owner.is_not(None))) == 0
        assert s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status != "sent")) == 0
        alerted = s.scalar(select(func.count(func.distinct(DeliveryItem.item_id))).join(
            Delivery, Delivery.id == DeliveryItem.delivery_id).where(Delivery.kind == "alert"))
        assert alerted == cycles


def test_sigterm_during_a_poll_exits_cleanly_and_releases_the_feed(make_config, feed_server, daemons):
    slow = rss([("s1", "新市民慢速稿件")])
    slow.stall = 4.0
    feed_server.routes["/slow.xml"] = slow
    config = make_config({"poll_interval": "2s", "feeds": [{"name": "slow", "url": feed_server.url("/slow.xml")}]})
    d = Daemon(config)
    daemons.append(d)
    wait_until(lambda: feed_server.requests_to("/slow.xml"), 30, "the poll to start")
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.proc.wait(timeout=30) == 0, d.output
    assert time.monotonic() - t0 < 20 + 5  # the grace period
    assert "monitor stopped" in d.output
    sess = sessions(make_engine(load_config(config).database))
    with sess() as s:
        f = s.scalar(select(Feed).where(Feed.name == "slow"))
        assert f.lease_owner is None  # finished (the stall is shorter than the grace period) and released
        assert s.scalar(select(func.count()).select_from(Item)) == 1


def test_sighup_reloads_and_keeps_running_on_a_broken_config(make_config, feed_server, daemons):
    feed_server.routes["/a.xml"] = rss([("a1", "新市民")])
    feed_server.routes["/b.xml"] = rss([("b1", "消费金融")])
    config = make_config({"poll_interval": "2s", "feeds": [{"name": "a", "url": feed_server.url("/a.xml")}]})
    good = config.read_text(encoding="utf-8")
    d = Daemon(config)
    daemons.append(d)
    d.wait_for("monitor running")
    config.write_text(good.replace("poll_interval: 2s", "poll_interval: sometimes"), encoding="utf-8")
    d.signal(signal.SIGHUP)
    d.wait_for("keeping the running config")
    assert "poll_interval" in d.output
    time.sleep(0.5)
    assert d.proc.poll() is None

    data = yaml.safe_load(good)
    data["feeds"].append({"name": "b", "url": feed_server.url("/b.xml")})
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    d.signal(signal.SIGHUP)
    d.wait_for("SIGHUP: reloaded")
    wait_until(lambda: feed_server.requests_to("/b.xml"), 20, "the new feed to be polled")
    assert d.stop() == 0


def test_feeds_add_tells_the_running_daemon_to_reload(sqlite_config, feed_server, daemons):
    feed_server.routes["/a.xml"] = rss([("a1", "新市民")])
    feed_server.routes["/b.xml"] = rss([("b1", "消费金融")])
    config = sqlite_config({"poll_interval": "2s", "feeds": [{"name": "a", "url": feed_server.url("/a.xml")}]})
    d = Daemon(config)
    daemons.append(d)
    d.wait_for("monitor running")
    out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "feeds", "add",
                          feed_server.url("/b.xml"), "--name", "b"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"told the running daemon (pid {d.proc.pid}) to reload" in out.stdout
    probed = len(feed_server.requests_to("/b.xml"))  # `feeds add` fetched it once to validate it
    d.wait_for("SIGHUP: reloaded")
    wait_until(lambda: len(feed_server.requests_to("/b.xml")) > probed, 20, "the added feed to be polled")
    assert d.stop() == 0


def test_second_daemon_on_one_sqlite_file_refuses(sqlite_config, daemons):
    config = sqlite_config({"poll_interval": "30s"})
    first = Daemon(config)
    daemons.append(first)
    first.wait_for("monitor running")
    second = Daemon(config)
    daemons.append(second)
    assert second.proc.wait(timeout=30) == 1
    second._reader.join(timeout=5)
    assert "already running on" in second.output and f":{first.proc.pid}" in second.output
    assert first.proc.poll() is None and first.stop() == 0


def test_two_daemons_on_postgresql_share_feeds_and_send_each_digest_once(pg_config, feed_server, daemons):
    make_config = pg_config
    names = [f"f{i}" for i in range(6)]
    for i, n in enumerate(names):
        feed_server.routes[f"/{n}.xml"] = rss([(f"{n}-1", f"新市民第{i}条")])
    with SmtpServer() as smtp:
        config = make_config({
            "poll_interval": "3s", "feeds": [{"name": n, "url": feed_server.url(f"/{n}.xml"), "interval": "3s"}
                                             for n in names],
            "watches": WATCHES, "mail": mail_config(smtp),
        })
        # The database has been monitoring for two days and today's 08:00 digest was missed:
        # both daemons will try to catch it up at start.
        out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "poll", "--all"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        engine = make_engine(load_config(config).database)
        with engine.begin() as conn:
            conn.execute(text("UPDATE feeds SET created_at = created_at - interval '2 days', next_poll_at = NULL"))
        start = time.monotonic()
        for _ in range(2):
            daemons.append(Daemon(config))
        time.sleep(12)
        for d in daemons:
            assert d.stop() == 0, d.output
        digests = [m for m in smtp.messages if m["X-Monitor-Delivery"].startswith("digest")]
    assert len(digests) == 1
    assert all("polled" in d.output for d in daemons)
    for n in names:
        times = [r.at for r in feed_server.requests_to(f"/{n}.xml") if r.at > start]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert 2 <= len(times) <= 5, (n, len(times))
        assert min(gaps) > 2.5, (n, gaps)  # never polled twice within its 3 s interval
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM deliveries WHERE kind = 'digest'")).scalar() == 1


def test_status_healthz_and_metrics(make_config, feed_server, daemons):
    port = free_port()
    config = make_config({"poll_interval": "2s", "watches": WATCHES,
                          "feeds": [{"name": "f", "url": feed_server.url("/f.xml")},
                                    {"name": "down", "url": "http://127.0.0.1:9/x.xml"}]})
    feed_server.routes["/f.xml"] = rss([("a1", "消费金融公司增资扩股"), ("a2", "新市民安居工程")],
                                       published=earlier_today(load_config(config).tz))
    d = Daemon(config, "--http", f"127.0.0.1:{port}", "--log-format", "json")
    daemons.append(d)
    d.wait_for('"polled 2 feeds')
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        health = json.loads(r.read())
        assert r.status == 200 and health["status"] == "ok"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        metrics = r.read().decode()
    assert 'monitor_feed_polls_total{status="ok"}' in metrics
    assert 'monitor_feed_polls_total{status="error"}' in metrics
    assert "monitor_matches_total 2.0" in metrics and 'monitor_outbox{status="sent"}' in metrics
    assert json.loads(d.lines[0])["level"] == "info"  # --log-format json: one object per line
    out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "status", "--json"],
                         capture_output=True, text=True, timeout=60)
    st = json.loads(out.stdout)
    assert st["feeds"]["active"] == 2 and st["feeds"]["healthy"] == 1
    assert st["feeds"]["failing"] == 1 and st["feeds"]["backing_off"] in (0, 1)
    (problem,) = st["feeds"]["problems"]
    assert problem["feed"] == "down" and problem["error"].startswith("cannot connect (ConnectionRefusedError")
    assert {w["watch"]: w["stories_today"] for w in st["watches"]} == {"新市民": 1, "消费金融": 1}
    out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "status"],
                         capture_output=True, text=True, timeout=60)
    assert "feeds     2 active: 1 healthy" in out.stdout and "outbox" in out.stdout
    assert d.stop() == 0


def test_sigterm_while_smtp_hangs_keeps_the_grace_period_and_sends_once_later(make_config, feed_server, daemons):
    feed_server.routes["/f.xml"] = rss([("h1", "消费金融公司增资扩股")])
    with SmtpServer() as smtp:
        smtp.hang = 120  # far past the grace period and the SMTP timeout
        mail = mail_config(smtp)
        mail["smtp"]["timeout"] = "60s"
        config = make_config({"poll_interval": "30s", "feeds": [{"name": "f", "url": feed_server.url("/f.xml")}],
                              "watches": WATCHES, "mail": mail})
        d = Daemon(config)
        daemons.append(d)
        wait_until(lambda: smtp.hung, 30, "the alert to reach the hanging server")
        started = time.monotonic()
        d.signal(signal.SIGTERM)
        assert d.proc.wait(timeout=60) == 0, d.output
        took = time.monotonic() - started
        d._reader.join(timeout=5)
        assert took < 30, f"stopped after {took:.0f}s (grace 20s; systemd's TimeoutStopSec is 40s)"
        assert "Traceback" not in d.output and "CancelledError" not in d.output, d.output
        db = sessions(make_engine(load_config(config).database))
        with db() as s:
            (row,) = s.execute(select(Delivery.status, Delivery.attempts, Delivery.lease_owner)).all()
        assert row == ("pending", 0, None)  # cut off, not failed: the next process sends it
        smtp.hang = 0
        d2 = Daemon(config)
        daemons.append(d2)
        wait_until(lambda: len(smtp.messages) == 1, 30, "the alert from the next daemon")
        assert d2.stop() == 0
    assert len(smtp.messages) == 1 and smtp.messages[0]["X-Monitor-Delivery"].startswith("alert")


def job_pids(d: Daemon, job: str) -> list[int]:
    """The job processes the daemon started, from its debug lines."""
    return [int(line.split("(pid ")[1].split(")")[0]) for line in d.lines if f"started the {job} job" in line]


def children_of(pid: int) -> list[int]:
    return [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]


def test_at_rest_the_daemon_holds_no_job_no_database_and_starts_no_job_per_tick(sqlite_config, feed_server,
                                                                                 daemons):
    """Issue 21: the jobs' libraries leave with their processes; between due times nothing is
    started (poll_interval 4s ticks every second: the old daemon polled the database each tick)."""
    feed_server.routes["/f.xml"] = rss([("r1", "新市民安居工程启动")])
    config = sqlite_config({"poll_interval": "4s",
                            "feeds": [{"name": "f", "url": feed_server.url("/f.xml"), "interval": "1h"}]})
    d = Daemon(config, "--log-level", "debug")
    daemons.append(d)
    d.wait_for("polled 1 feeds")
    wait_until(lambda: not children_of(d.proc.pid), 20, "the job processes to end")
    time.sleep(6)
    assert job_pids(d, "poll") == job_pids(d, "poll")[:1], d.output  # one poll job: the first
    assert not children_of(d.proc.pid)
    status = Path(f"/proc/{d.proc.pid}/status").read_text()
    resident = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024
    assert resident < 80, f"{resident:.0f} MB at rest"
    opened = [os.readlink(f"/proc/{d.proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{d.proc.pid}/fd")]
    db_file = str(config.parent / "monitor.db")
    assert db_file + ".lock" in opened  # the lock, passed on through exec
    assert not [f for f in opened if f.startswith(db_file) and not f.endswith(".lock")], opened
    maps = Path(f"/proc/{d.proc.pid}/maps").read_text()
    assert "numpy" not in maps and "sqlalchemy" not in maps and "lxml" not in maps
    assert d.stop() == 0, d.output


def test_a_job_killed_mid_poll_loses_nothing_and_sends_once(make_config, feed_server, daemons):
    slow = rss([("k1", "消费金融公司增资扩股")])
    slow.stall = 5.0
    feed_server.routes["/slow.xml"] = slow
    with SmtpServer() as smtp:
        config = make_config({"poll_interval": "2s", "watches": WATCHES, "mail": mail_config(smtp),
                              "feeds": [{"name": "slow", "url": feed_server.url("/slow.xml"), "interval": "1h"}]})
        d = Daemon(config, "--log-level", "debug")
        daemons.append(d)
        wait_until(lambda: feed_server.requests_to("/slow.xml"), 30, "the poll to start")
        (victim,) = job_pids(d, "poll")
        os.kill(victim, signal.SIGKILL)  # holding the feed's lease, mid-fetch
        d.wait_for("killed by SIGKILL")
        wait_until(lambda: len(feed_server.requests_to("/slow.xml")) >= 2, 30, "the feed polled again")
        wait_until(lambda: titles_in(smtp.messages, "alert"), 30, "the alert")
        assert d.stop() == 0, d.output
    assert titles_in(smtp.messages, "alert") == ["消费金融公司增资扩股"]
    sess = sessions(make_engine(load_config(config).database))
    with sess() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 1
        assert s.scalar(select(func.count()).select_from(Feed).where(Feed.lease_owner.is_not(None))) == 0


def test_a_poll_job_killed_mid_poll_takes_its_forked_parse_workers_with_it(sqlite_config, feed_server, daemons):
    """Four feeds new to the store: the poll job forks its parse workers from itself
    (pipeline.pool). Killed outright (the OOM killer), it leaves no worker waiting on its queue,
    and the next job polls the feeds."""
    for n in range(4):
        feed_server.routes[f"/{n}.xml"] = slow = rss([(f"p{n}", f"普惠金融第{n}期")])
        slow.stall = 5.0
    config = sqlite_config({"poll_interval": "2s", "feeds": [
        {"name": f"f{n}", "url": feed_server.url(f"/{n}.xml"), "interval": "1h"} for n in range(4)]})
    d = Daemon(config, "--log-level", "debug")
    daemons.append(d)
    wait_until(lambda: all(feed_server.requests_to(f"/{n}.xml") for n in range(4)), 30, "the poll to start")
    (victim,) = job_pids(d, "poll")
    workers = children_of(victim)
    assert len(workers) >= 2, workers  # forked before the fetches began
    os.kill(victim, signal.SIGKILL)
    d.wait_for("killed by SIGKILL")
    wait_until(lambda: not any(running(pid) for pid in workers), 10, "the workers to end")
    wait_until(lambda: all(len(feed_server.requests_to(f"/{n}.xml")) >= 2 for n in range(4)), 30,
               "the feeds polled again")
    d.wait_for("polled 4 feeds")
    assert d.stop() == 0, d.output
