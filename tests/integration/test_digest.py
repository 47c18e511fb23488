"""Digests and alerts end to end: feeds polled from a local HTTP server, matched and deduped into
a real database, composed, recorded in the outbox and sent to a real SMTP server (aiosmtpd) or
into the outbox folder, then read back."""
from __future__ import annotations

import asyncio
import email
import email.policy
import email.utils
import random
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

import pytest
from helpers.feedserver import Response
from helpers.paths import SEEDS
from helpers.polling import earlier_today, recent
from helpers.smtpserver import SmtpServer, free_port
from helpers.webhook import WebhookServer
from sqlalchemy import func, select

from monitor.config import load_config
from monitor.mail.compose import compose, digest_due, queue_alerts, queue_digests
from monitor.mail.outbox import send_due
from monitor.mail.transports import transport_for
from monitor.pipeline.poll import poll
from monitor.pipeline.seeds import import_seeds, read_article_file
from monitor.store import Database
from monitor.store.deliveries import retry_failed as retry_now
from monitor.store.models import Delivery, DeliveryItem

TZ = "Asia/Shanghai"
# A story of our own (not in the seeds): long enough for the near-duplicate stage.
STORY = (
    "本报讯 多家城商行近日上线面向新市民的专属信贷产品，覆盖租房、创业和职业培训等场景。"
    "某城商行零售金融部负责人介绍，今年以来该行新市民客户数量同比增长百分之四十二，"
    "其中灵活就业人员占比接近三成。为解决这部分群体缺少稳定流水的问题，银行引入社保、公积金和税务数据，"
    "建立了差异化的授信模型，单户额度最高可达三十万元，最快当天放款。\n"
    "业内人士表示，城商行深耕本地，熟悉区域产业结构，在服务新市民方面具有天然优势，"
    "但也要警惕过度授信带来的风险，应当坚持风险可控、商业可持续的原则，"
    "通过场景化、线上化的方式降低服务成本。监管部门此前发布的通知要求，银行保险机构要结合当地实际，"
    "在住房、教育、医疗、养老等方面提供有针对性的金融产品，持续提升金融服务的可得性和便利性。"
)
OTHER = (
    "记者获悉，某消费金融公司近日完成新一轮增资，注册资本增至八十亿元。公司表示，增资后将继续加大科技投入，"
    "优化风控体系，提升服务实体经济能力。今年前三季度，该公司累计发放贷款超过一千亿元，不良率保持在行业较低水平。"
)


def rss(channel: str, entries: list[dict]) -> bytes:
    items = "".join(
        f"<item><title>{escape(e['title'])}</title><link>{escape(e['link'])}</link><guid>{escape(e['guid'])}</guid>"
        f"<description>{escape(e['body'])}</description>"
        f"<pubDate>{e.get('date') or recent()}</pubDate></item>"
        for e in entries
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{channel}</title>'
            f"{items}</channel></rss>").encode()


def serve(feed_server, path: str, channel: str, entries: list[dict]) -> str:
    feed_server.routes[path] = Response(200, rss(channel, entries), {"Content-Type": "application/rss+xml"})
    return feed_server.url(path)


def setup(make_config, overrides: dict):
    path = make_config({"fetch": {"connect_timeout": "2s", "read_timeout": "2s"}, **overrides})
    config = load_config(path)
    db = Database(config.database)
    db.migrate()
    import_seeds(db, config.seeds, config.tz)
    return config, db


def run_poll(config, db, *names: str):
    """Poll all feeds, or the named ones one after another (so which article is first-seen is fixed)."""
    if not names:
        return asyncio.run(poll(config, db, owner="test", due_only=False))
    return [r for n in names for r in asyncio.run(poll(config, db, owner="test", names=[n], due_only=False))]


def seed_reprint() -> dict:
    seed = read_article_file(SEEDS / "000_c0b695cec8de91a6.txt", tz=UTC)
    return {"guid": "farm1", "title": "全球热点!" + seed.title, "link": "https://farm.example.net/1.html",
            "body": seed.body.replace("，", ",")}


def smtp_config(server: SmtpServer, **mail) -> dict:
    return {"from": "monitor@example.com", "transport": "smtp",
            "smtp": {"host": "127.0.0.1", "port": server.port, "starttls": False, "username": "mon",
                     "password_env": "TEST_SMTP_PASSWORD", "timeout": "5s"}, **mail}


def parts(msg) -> tuple[str, str]:
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    return text, html


@pytest.fixture
def smtp_env(monkeypatch):
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")


def test_digest_over_smtp_has_highlights_clusters_and_no_seed_reprint(make_config, feed_server, smtp_env):
    a = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "s1", "title": "城商行加码新市民信贷", "link": "https://a.example.com/s1.html", "body": STORY},
        {"guid": "evil", "title": "新市民\r\nBcc: victim@example.com <script>alert(1)</script>",
         "link": "javascript:alert(1)", "body": "新市民 <b onmouseover=x()>点我</b>"},
        seed_reprint(),
    ])
    b = serve(feed_server, "/b.xml", "财经早报", [
        {"guid": "s1b", "title": "城商行加码新市民信贷 - 新浪财经", "link": "https://b.example.org/x.html",
         "body": STORY + "\n责任编辑：张三"},
        {"guid": "o1", "title": "消费金融公司增资", "link": "https://b.example.org/o1.html", "body": OTHER},
    ])
    with SmtpServer(username="mon", password="s3cret") as server:
        config, db = setup(make_config, {
            "feeds": [{"name": "a", "url": a}, {"name": "b", "url": b}],
            "watches": [{"name": "新市民", "query": "新市民"}, {"name": "消费金融", "keywords": ["消费金融"]}],
            "mail": smtp_config(server),
        })
        run_poll(config, db, "a", "b")
        ids = queue_digests(db, config, manual=True)
        results = send_due(db, config, transport_for(config))
        assert [r.ok for r in results] == [True] and len(ids) == 1
        assert server.logins == ["mon"]
        (msg,) = server.messages
    assert server.envelopes[0] == ("monitor@example.com", ["analyst@example.com"])
    assert msg["Subject"] == f"日报 {datetime.now(config.tz):%Y-%m-%d}"
    assert re.fullmatch(r"<digest\.[0-9a-f]{24}@example\.com>", msg["Message-ID"])
    assert "victim" not in msg["To"] and msg["Bcc"] is None
    text, html = parts(msg)

    # The story once, with its reprint as another outlet; highlights in both parts.
    assert html.count("城商行加码新市民信贷</a>") == 0  # the title is highlighted, so split by <mark>
    assert len(re.findall(r"城商行加码<mark[^>]*>新市民</mark>信贷", html)) == 1
    # The other outlet is named and linked to its own copy.
    assert re.search(r'also reported by 1 outlet: <a href="http[^"]+"[^>]*>财经早报</a>', html)
    assert "城商行加码**新市民**信贷" in text and "also reported by 1 outlet: 财经早报" in text
    assert "新浪财经" not in text  # the reprint is not listed on its own
    assert 'style="' in html and "<style" not in html  # CSS inlined for mail clients
    # Grouped by watch, with counts.
    assert "== 新市民 (2) ==" in text and "== 消费金融 (1) ==" in text
    assert "**消费金融**公司增资" in text

    # No seed reprint.
    seed_title = read_article_file(SEEDS / "000_c0b695cec8de91a6.txt", tz=UTC).title
    assert seed_title not in text and seed_title not in html

    # Untrusted feed text is harmless.
    assert "<script>" not in html and "javascript:" not in html and "onmouseover" not in html
    assert "Bcc: victim" not in text.split("\n")[0]
    for line in text.splitlines():
        assert not line.startswith("Bcc:")


def test_smtp_down_then_refusing_then_back_delivers_once(make_config, feed_server, smtp_env):
    url = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "s1", "title": "城商行加码新市民信贷", "link": "https://a.example.com/s1.html", "body": STORY}])
    server = SmtpServer(free_port(), username="mon", password="s3cret")
    config, db = setup(make_config, {"feeds": [{"name": "a", "url": url}], "mail": smtp_config(server)})
    run_poll(config, db)
    transport = transport_for(config)
    (delivery_id,) = queue_digests(db, config, manual=True)

    # Down: the send fails, the email and its items stay.
    (r,) = send_due(db, config, transport)
    assert not r.ok and "ConnectionRefused" in r.error
    with db.session() as s:
        d = s.get(Delivery, delivery_id)
        assert (d.status, d.attempts) == ("failed", 1) and d.next_attempt_at > datetime.now(UTC)
        assert s.scalar(select(func.count()).select_from(DeliveryItem).where(DeliveryItem.delivery_id == d.id)) == 1
    assert send_due(db, config, transport) == []  # backing off: not due yet

    # Up but refusing with a temporary error.
    server.start()
    try:
        server.refuse = "451 4.3.0 mailbox busy, try again later"
        with db.begin() as s:
            assert retry_now(s) == 1
        (r,) = send_due(db, config, transport)
        assert not r.ok and "451" in r.error
        assert server.messages == []

        server.refuse = None
        with db.begin() as s:
            retry_now(s)
        (r,) = send_due(db, config, transport)
        assert r.ok
        assert send_due(db, config, transport) == []  # nothing left
        with db.begin() as s:
            assert retry_now(s) == 0
        assert len(server.messages) == 1
        assert "城商行加码" in parts(server.messages[0])[0]
    finally:
        server.stop()
    with db.session() as s:
        d = s.get(Delivery, delivery_id)
        assert (d.status, d.attempts, d.last_error) == ("sent", 3, None)


def test_same_period_is_recorded_once_and_missed_days_catch_up(make_config, feed_server):
    url = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "s1", "title": "城商行加码新市民信贷", "link": "https://a.example.com/s1.html", "body": STORY}])
    config, db = setup(make_config, {"feeds": [{"name": "a", "url": url}]})
    run_poll(config, db)
    transport = transport_for(config)
    start = datetime.now(UTC)
    # Just after the next scheduled 08:00: that period is due.
    first = config.next_digest(start.astimezone(config.tz)) + timedelta(minutes=1)
    with db.session() as s:
        assert digest_due(s, config, start) is None  # the database started monitoring after the last 08:00
        assert digest_due(s, config, first) is not None
    ids = queue_digests(db, config, now=first)
    assert len(ids) == 1
    assert queue_digests(db, config, now=first) == []  # the same period again
    assert queue_digests(db, config, now=first + timedelta(hours=3)) == []  # still the same period
    send_due(db, config, transport, now=first)

    # New items arrive; the daemon is down for three days.
    serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "s1", "title": "城商行加码新市民信贷", "link": "https://a.example.com/s1.html", "body": STORY},
        {"guid": "s2", "title": "新市民安居工程启动", "link": "https://a.example.com/s2.html",
         "body": "住房租赁支持新市民，首批房源三千套。" * 3},
        {"guid": "s3", "title": "新市民职业技能培训补贴", "link": "https://a.example.com/s3.html",
         "body": "人社部门发放培训补贴，覆盖新市民群体。" * 3},
        {"guid": "s1-reprint", "title": "城商行加码新市民信贷 - 新浪财经", "link": "https://a.example.com/r.html",
         "body": STORY + "\n免责声明：本文仅供参考。"},  # a reprint of the story already delivered
    ])
    run_poll(config, db)
    later = first + timedelta(days=3, hours=2)
    ids2 = queue_digests(db, config, now=later)
    assert len(ids2) == 1
    assert queue_digests(db, config, now=later) == []
    send_due(db, config, transport, now=later)
    files = sorted(config.mail.outbox.glob("*.eml"))
    assert len(files) == 2
    msg = email.message_from_bytes(files[1].read_bytes(), policy=email.policy.default)
    text, html = parts(msg)
    assert "Catching up: 2 scheduled digests were not sent" in text
    assert "**新市民**安居工程启动" in text and "**新市民**职业技能培训补贴" in text
    assert "城商行加码" not in text  # delivered in the first digest: not again


def test_two_processes_racing_for_one_period_send_one_email(make_config, feed_server):
    url = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "s1", "title": "城商行加码新市民信贷", "link": "https://a.example.com/s1.html", "body": STORY}])
    config, db = setup(make_config, {"feeds": [{"name": "a", "url": url}]})
    run_poll(config, db)
    fire = config.next_digest() + timedelta(minutes=1)
    script = (
        "import sys; from monitor.config import load_config; from monitor.store import Database;"
        "from monitor.mail.compose import queue_digests; from datetime import datetime;"
        "c = load_config(sys.argv[1]); s = Database(c.database);"
        "print(len(queue_digests(s, c, now=datetime.fromisoformat(sys.argv[2]))))"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(config.source_path), fire.isoformat()],
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(outs) == ["0", "0", "0", "1"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 1


def test_immediate_alerts_batched_and_kept_out_of_the_digest(make_config, feed_server):
    url = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "c1", "title": "消费金融公司增资", "link": "https://a.example.com/c1.html", "body": OTHER},
        {"guid": "c2", "title": "消金行业三季度观察", "link": "https://a.example.com/c2.html",
         "body": "消金公司三季度放款规模回升，头部机构集中度提高。" * 3},
        {"guid": "s1", "title": "城商行加码新市民信贷", "link": "https://a.example.com/s1.html", "body": STORY},
    ])
    config, db = setup(make_config, {
        "feeds": [{"name": "a", "url": url}],
        "watches": [
            {"name": "新市民", "query": "新市民"},
            {"name": "消费金融", "keywords": ["消费金融", "消金"], "alert": "immediate",
             "recipients": ["desk@example.com", "Boss@Example.com"]},
        ],
    })
    run_poll(config, db)
    ids = queue_alerts(db, config)
    assert len(ids) == 2  # one per person on the list
    assert queue_alerts(db, config) == []  # nothing new since
    send_due(db, config, transport_for(config))
    msgs = [email.message_from_bytes(e.read_bytes(), policy=email.policy.default)
            for e in config.mail.outbox.glob("*-alert.eml")]
    assert sorted(m["To"] for m in msgs) == ["boss@example.com", "desk@example.com"]
    for msg in msgs:
        assert msg["Subject"] == "[新闻提醒] 消费金融: 2 条"
        text, _ = parts(msg)
        assert "**消费金融**公司增资" in text and "**消金**行业三季度观察" in text and "城商行" not in text

    # The digest has the digest watch only: the alerted items are not repeated.
    queue_digests(db, config, manual=True)
    send_due(db, config, transport_for(config))
    (eml,) = config.mail.outbox.glob("*-digest.eml")
    text, _ = parts(email.message_from_bytes(eml.read_bytes(), policy=email.policy.default))
    assert "城商行加码**新市民**信贷" in text and "增资" not in text


def test_alerted_items_also_in_digest_with_digest_true(make_config, feed_server):
    url = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "c1", "title": "消费金融公司增资", "link": "https://a.example.com/c1.html", "body": OTHER}])
    config, db = setup(make_config, {
        "feeds": [{"name": "a", "url": url}],
        "watches": [{"name": "消费金融", "keywords": ["消费金融"], "alert": "immediate", "digest": True}],
    })
    run_poll(config, db)
    assert len(queue_alerts(db, config)) == 1
    assert len(queue_digests(db, config, manual=True)) == 1
    assert len(queue_digests(db, config, manual=True, now=datetime.now(UTC) + timedelta(seconds=5))) == 0


def test_cli_preview_sends_nothing_and_send_writes_eml(make_config, feed_server, tmp_path):
    url = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "s1", "title": "城商行加码新市民信贷", "link": "https://a.example.com/s1.html", "body": STORY}])
    config, db = setup(make_config, {"feeds": [{"name": "a", "url": url}]})
    run_poll(config, db)
    monitor = [sys.executable, "-m", "monitor", "--config", str(config.source_path)]
    out = subprocess.run([*monitor, "digest", "--preview", str(tmp_path / "p.html")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "1 stories for analyst@example.com" in out.stdout
    assert "<mark" in (tmp_path / "p.html").read_text(encoding="utf-8")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 0
    assert not config.mail.outbox.exists() or not list(config.mail.outbox.iterdir())

    out = subprocess.run([*monitor, "digest", "--send", "--now"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.search(r"delivery \d+ sent: 日报 ", out.stdout)
    assert len(list(config.mail.outbox.glob("*.eml"))) == 1
    out = subprocess.run([*monitor, "digest", "--send", "--now"], capture_output=True, text=True, timeout=60)
    assert "nothing to send" in out.stdout  # everything was delivered already
    out = subprocess.run([*monitor, "outbox"], capture_output=True, text=True, timeout=60)
    assert re.search(r"digest +sent +1 ", out.stdout), out.stdout


def test_templates_override_send_empty_chart_and_failing_feeds(make_config, feed_server, tmp_path):
    from monitor.store.models import Feed

    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "digest.txt").write_text(
        "CUSTOM {{ digest.count }}{% for s in digest.sections %} {{ s.watch }}="
        "{{ s.chart | map(attribute='count') | join(',') }}{% endfor %}"
        "{% for f in digest.failing %} FAILING {{ f.name }}{% endfor %}\n", encoding="utf-8")
    ok = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "s1", "title": "城商行加码新市民信贷", "link": "https://a.example.com/s1.html", "body": STORY,
         "date": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")}])
    config, db = setup(make_config, {
        "feeds": [{"name": "a", "url": ok}, {"name": "gone", "url": feed_server.url("/missing.xml")}],
        "mail": {"from": "monitor@example.com", "transport": "file", "outbox": "outbox/", "templates": "tpl/"},
        "digest": {"recipients": ["analyst@example.com"], "send_empty": True},
    })
    run_poll(config, db)
    with db.begin() as s:  # the broken feed has failed for two days
        f = s.scalar(select(Feed).where(Feed.name == "gone"))
        f.created_at = datetime.now(UTC) - timedelta(days=2)
    queue_digests(db, config, manual=True)
    send_due(db, config, transport_for(config))
    (eml,) = config.mail.outbox.glob("*.eml")
    text, html = parts(email.message_from_bytes(eml.read_bytes(), policy=email.policy.default))
    assert text.strip() == "CUSTOM 1 新市民=0,0,0,0,0,0,1 FAILING gone"  # 消费金融 is alert-only
    assert "gone" in html and "HTTP 404" in html  # the bundled HTML template, footer included

    # Nothing new: with send_empty an empty digest still goes out, saying so.
    later = datetime.now(UTC) + timedelta(seconds=2)
    assert len(queue_digests(db, config, manual=True, now=later)) == 1
    send_due(db, config, transport_for(config), now=later + timedelta(seconds=1))
    assert len(list(config.mail.outbox.glob("*.eml"))) == 2


def test_empty_digest_not_sent_by_default(make_config, feed_server):
    url = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "o1", "title": "无关新闻", "link": "https://a.example.com/o1.html", "body": "今日股市平稳。"}])
    config, db = setup(make_config, {"feeds": [{"name": "a", "url": url}]})
    run_poll(config, db)
    assert queue_digests(db, config, manual=True) == []
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 0


@pytest.fixture
def tls_cert(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1, trusted by the client through SSL_CERT_FILE."""
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_smtp_over_tls_with_auth(make_config, feed_server, smtp_env, tls_cert, mode):
    url = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "s1", "title": "城商行加码新市民信贷", "link": "https://a.example.com/s1.html", "body": STORY}])
    tls = {"starttls": tls_cert} if mode == "starttls" else {"implicit_tls": tls_cert}
    with SmtpServer(username="mon", password="s3cret", **tls) as server:
        mail = smtp_config(server)
        mail["smtp"].update(host="127.0.0.1", starttls=mode == "starttls", ssl=mode == "implicit")
        config, db = setup(make_config, {"feeds": [{"name": "a", "url": url}], "mail": mail})
        run_poll(config, db)
        queue_digests(db, config, manual=True)
        (r,) = send_due(db, config, transport_for(config))
        assert r.ok, r.error
        assert server.logins == ["mon"] and len(server.messages) == 1


def test_past_full_items_titles_only_past_max_items_counted_all_delivered(make_config, feed_server):
    topics = ["住房租赁", "职业培训", "子女入学", "创业担保贷款", "养老保险"]
    entries = [{"guid": f"t{i}", "title": f"新市民{t}政策落地", "link": f"https://a.example.com/t{i}.html",
                "body": f"{t}方面，本市出台{i + 3}项措施支持新市民，涉及{t}的办理时限缩短一半。",
                "date": recent(60 - i)}
               for i, t in enumerate(topics)]
    url = serve(feed_server, "/a.xml", "城市金融报", entries)
    config, db = setup(make_config, {"feeds": [{"name": "a", "url": url}],
                                       "digest": {"recipients": ["analyst@example.com"], "full_items": 2, "max_items": 4}})
    run_poll(config, db)
    now = datetime.now(UTC)
    assert len(queue_digests(db, config, now=now, manual=True)) == 1
    send_due(db, config, transport_for(config), now=now)
    [eml] = config.mail.outbox.glob("*.eml")
    text, html = parts(email.message_from_bytes(eml.read_bytes(), policy=email.policy.default))
    listed = topics[1:]  # the newest four (published in topic order, one minute apart)
    for t in listed:
        assert t in text and t in html
    assert topics[0] not in text and topics[0] not in html
    assert html.count('class="snippet"') == 2  # two of them in full, two as titles
    assert "2 more:" in html and "2 more:" in text
    # The reader is not sent to a shell: without web.base_url no link, never a command to run.
    assert "1 older story is not listed here (at most 4 per watch, and each email under 100 KB)." in text and "monitor items" not in text
    assert "1 older story is not listed here" in html and "monitor items" not in html
    assert "新市民 (5)" in text  # the count is of every story
    with db.session() as s:  # and all five count as delivered: none comes back tomorrow
        assert s.scalar(select(func.count()).select_from(DeliveryItem)) == 5
    assert queue_digests(db, config, now=now + timedelta(minutes=1), manual=True) == []


def test_monitor_poll_sends_the_alert_before_it_returns(make_config, feed_server, smtp_env):
    """An alert found by the CLI's poll goes out in that poll, not after the daemon's next one."""
    url = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "c1", "title": "消费金融公司增资", "link": "https://a.example.com/c1.html", "body": OTHER}])
    with SmtpServer(username="mon", password="s3cret") as server:
        config, _ = setup(make_config, {"feeds": [{"name": "a", "url": url}], "mail": smtp_config(server)})
        monitor = [sys.executable, "-m", "monitor", "--config", str(config.source_path)]
        out = subprocess.run([*monitor, "poll", "--all"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "alert to analyst@example.com: sent" in out.stdout
        (msg,) = server.messages
        assert msg["Subject"] == "[新闻提醒] 消费金融: 1 条"
        assert "**消费金融**公司增资" in parts(msg)[0]
        out = subprocess.run([*monitor, "poll", "--all"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "alert to" not in out.stdout  # nothing new: nothing sent again
        assert len(server.messages) == 1


def test_no_alert_for_what_a_digest_carried_or_for_old_news(make_config, feed_server):
    old = email.utils.format_datetime(datetime.now(UTC) - timedelta(days=10))
    first = [{"guid": "c1", "title": "消费金融公司增资", "link": "https://a.example.com/c1.html", "body": OTHER}]
    url = serve(feed_server, "/a.xml", "城市金融报", first)
    config, db = setup(make_config, {
        "feeds": [{"name": "a", "url": url}],
        "watches": [{"name": "消费金融", "keywords": ["消费金融"], "alert": "immediate", "digest": True}],
    })
    run_poll(config, db)
    assert len(queue_digests(db, config, manual=True)) == 1  # the digest carries c1 before any alert
    serve(feed_server, "/a.xml", "城市金融报", first + [
        {"guid": "c0", "title": "消费金融旧闻：十天前的报道", "link": "https://a.example.com/c0.html",
         "body": "消费金融公司十天前的一则旧闻，今天才出现在这个频道里。" * 3, "date": old},
        {"guid": "c3", "title": "消费金融新规发布", "link": "https://a.example.com/c3.html",
         "body": "监管部门今日发布消费金融公司管理新规，对资本充足率和贷款集中度提出新要求。" * 3},
    ])
    run_poll(config, db)
    (alert,) = queue_alerts(db, config)
    with db.session() as s:
        carried = set(s.scalars(select(DeliveryItem.item_id).where(DeliveryItem.delivery_id == alert)))
        subject = s.get(Delivery, alert).subject
    assert subject == "[新闻提醒] 消费金融: 1 条" and len(carried) == 1  # c3 only: not c1, not the old c0


def test_a_story_counts_once_per_watch_everywhere(make_config, feed_server):
    config, db = setup(make_config, {"feeds": [{"name": "a", "url": feed_server.url("/a.xml")}], "watches": [
        {"name": "新市民", "query": "新市民"}, {"name": "城商行", "query": "城商行"}]})
    published = earlier_today(config.tz)  # counted among today's stories at any hour
    serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "s1", "title": "城商行加码新市民信贷", "link": "https://a.example.com/s1.html", "body": STORY,
         "date": published},
        {"guid": "s2", "title": "城商行零售转型观察", "link": "https://a.example.com/s2.html",
         "body": "城商行零售业务转型进入深水区，多家银行调整考核体系。" * 4, "date": published}])
    run_poll(config, db)
    with db.session() as s:
        (c,) = compose(s, config, "digest", now=datetime.now(UTC), period="p", label="d")
    text = c.rendered.text
    assert "2 new stories" in text  # distinct stories in the header
    assert "== 新市民 (1) ==" in text and "== 城商行 (2) ==" in text  # per watch in the sections
    assert "shown above under 新市民" in text and text.count("城商行加码**新市民**信贷") == 1
    today = datetime.now(config.tz).strftime("%m-%d")
    assert "新市民: 1   (last 7 days:" in text and f"{today} 1)" in text and f"{today} 2)" in text
    from monitor.cli.status import gather
    with db.session() as s:
        st = gather(s, config)
    assert {w["watch"]: w["stories_today"] for w in st["watches"]} == {"新市民": 1, "城商行": 2}


VOCABULARY = ["新市民", "城商行", "消费金融", "普惠", "信贷", "额度", "利率", "监管", "通知", "住房", "公积金", "社保", "创业", "培训", "风控", "不良率", "科技", "县域", "农户", "小微", "担保", "贴息", "数字化", "场景", "线上", "审批", "放款", "续贷", "征信", "数据", "模型", "网点", "客户", "增长", "同比", "季度"]


def words(seed: int, n: int) -> str:
    """A distinct article of ``n`` words: seeded, so the test is the same at every run."""
    rng = random.Random(seed)
    return "，".join("".join(rng.choice(VOCABULARY) for _ in range(6)) for _ in range(n // 6)) + "。"


def test_a_200_story_digest_stays_under_100_kb_and_carries_everything(make_config, feed_server):
    entries = [{"guid": f"n{i}", "title": f"新市民金融服务第{i}期：" + words(1000 + i, 60)[:140],  # a farm's long headlines
                "link": f"https://a.example.com/n{i}.html?utm_source=rss",
                "body": words(i, 120), "date": recent(300 - i)}
               for i in range(200)]
    url = serve(feed_server, "/a.xml", "城市金融报", entries)
    config, db = setup(make_config, {"feeds": [{"name": "a", "url": url}]})
    run_poll(config, db)
    ids = queue_digests(db, config, manual=True)
    with db.session() as s:
        d = s.get(Delivery, ids[0])
        html, text, carried = d.body_html, d.body_text, s.scalar(
            select(func.count()).select_from(DeliveryItem).where(DeliveryItem.delivery_id == ids[0]))
        stories = s.scalar(select(func.count()).select_from(DeliveryItem))
    assert len(html.encode()) < 100_000, len(html.encode())
    assert 'class="snippet"' in html  # the newest still in full
    assert carried == stories and carried >= 150  # every story counted as had, listed or not
    listed = html.count('class="line"') + html.count('class="snippet"')
    assert 0 < listed < carried and f"{carried - listed} older stories are not listed" in text


def test_a_webhook_channel_gets_each_digest_once_across_an_outage(make_config, feed_server, monkeypatch):
    url = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "s1", "title": "城商行加码新市民信贷 [独家] *重磅*", "link": "https://a.example.com/s1.html",
         "body": STORY}])
    monkeypatch.setenv("HOOK_TOKEN", "tok-3f9a")
    with WebhookServer() as hook:
        channel = f"json://127.0.0.1:{hook.port}/hook/${{HOOK_TOKEN}}"
        config, db = setup(make_config, {"feeds": [{"name": "a", "url": url}],
                                          "watches": [{"name": "新市民", "query": "新市民", "notify": [channel]}]})
        run_poll(config, db)
        hook.fail_with = [503, 503]  # the receiver is down (Apprise's json:// does not retry by itself)
        ids = queue_digests(db, config, manual=True)
        assert len(ids) == 2  # the email and the channel: two outbox rows
        now = datetime.now(UTC)
        results = {r.recipients: r for r in send_due(db, config, transport_for(config), now=now)}
        assert results["analyst@example.com"].ok and not results[channel].ok
        assert "503" in (results[channel].error or "") and "tok-3f9a" not in (results[channel].error or "")
        assert hook.received == [] and hook.refused >= 1
        # Retried with back-off: nothing before it is due, then once, then never again.
        assert send_due(db, config, transport_for(config), now=now + timedelta(seconds=5)) == []
        hook.fail_with = []
        later = now + timedelta(hours=2)
        (retry,) = send_due(db, config, transport_for(config), now=later)
        assert retry.ok and retry.recipients == channel
        assert send_due(db, config, transport_for(config), now=later + timedelta(hours=2)) == []
        (got,) = hook.received
    assert got["path"] == "/hook/tok-3f9a"  # the secret filled in at send time...
    with db.session() as s:  # ...and never stored
        assert s.scalar(select(func.count()).select_from(Delivery).where(Delivery.recipients.contains("tok-"))) == 0
    assert "新市民" in got["title"] or "新市民" in got["message"]
    assert "**新市民**" in got["message"] and "\\[独家\\]" in got["message"]  # hits bold; feed's own marks escaped
    assert "(https://a.example.com/s1.html)" in got["message"]


def test_an_unknown_channel_url_is_refused_for_good_with_its_reason(make_config, feed_server):
    url = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "s1", "title": "城商行加码新市民信贷", "link": "https://a.example.com/s1.html", "body": STORY}])
    config, db = setup(make_config, {"feeds": [{"name": "a", "url": url}],
                                      "digest": {"recipients": [], "notify": ["nosuchservice://x/y"]}})
    run_poll(config, db)
    queue_digests(db, config, manual=True)
    (r,) = send_due(db, config, transport_for(config))
    assert not r.ok and "not a URL Apprise can send to" in (r.error or "") and "x/y" not in (r.error or "")


def test_one_email_per_person_per_distinct_schedule(make_config, feed_server):
    url = serve(feed_server, "/a.xml", "城市金融报", [
        {"guid": "s1", "title": "城商行加码新市民信贷", "link": "https://a.example.com/s1.html", "body": STORY},
        {"guid": "c1", "title": "消费金融公司增资", "link": "https://a.example.com/c1.html", "body": OTHER}])
    config, db = setup(make_config, {"feeds": [{"name": "a", "url": url}], "watches": [
        {"name": "新市民", "query": "新市民"},  # daily: digest.schedule, 08:00
        {"name": "消费金融", "query": "消费金融", "schedule": "0 9 * * *",
         "recipients": ["analyst@example.com", "desk@example.com"]},
        {"name": "消金", "query": "增资", "schedule": "0 9 * * *"}]})
    run_poll(config, db)
    assert config.digest_schedules == ["0 8 * * *", "0 9 * * *"]
    tomorrow = datetime.now(config.tz).date() + timedelta(days=1)
    at = datetime.combine(tomorrow, datetime.min.time(), config.tz).replace(hour=9, minute=30).astimezone(UTC)
    ids = queue_digests(db, config, now=at)
    with db.session() as s:
        sent = {(d.recipients, d.period.partition(" ")[2] or "default"): d.body_text for d in s.scalars(select(Delivery))}
    assert sorted(sent) == [("analyst@example.com", "0 9 * * *"), ("analyst@example.com", "default"),
                            ("desk@example.com", "0 9 * * *")]
    assert len(ids) == 3
    nine = sent[("analyst@example.com", "0 9 * * *")]
    assert "== 消费金融 (1) ==" in nine and "== 消金 (1) ==" in nine and "新市民" not in nine  # one email, two watches
    assert "== 新市民 (1) ==" in sent[("analyst@example.com", "default")]
    assert queue_digests(db, config, now=at + timedelta(minutes=5)) == []  # each period once


def test_an_empty_list_on_a_watch_opts_out_of_the_digest_defaults(make_config):
    from monitor.mail.content import groups
    config = load_config(make_config({
        "digest": {"recipients": ["analyst@example.com"], "notify": ["json://127.0.0.1:9/all"]},
        "watches": [{"name": "新市民", "query": "新市民"},
                    {"name": "内部", "query": "内部", "notify": []},
                    {"name": "群聊", "query": "群聊", "recipients": [], "notify": ["json://127.0.0.1:9/team"]}]}))
    people = {a: [w.name for w in ws] for a, ws in groups(config, "digest").items()}
    assert people == {"analyst@example.com": ["新市民", "内部"], "json://127.0.0.1:9/all": ["新市民"],
                      "json://127.0.0.1:9/team": ["群聊"]}
