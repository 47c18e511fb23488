"""Feeds and watches managed from the CLI: config.yaml edited in place with its comments kept,
validated before it is written; OPML out and back in; a query tried on stored items."""
from __future__ import annotations

import textwrap
from pathlib import Path

from helpers.feedserver import Response

from monitor.cli import main
from monitor.config import load_config

RSS = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>城市金融报 财经频道</title>'
       '<item><title>城商行加码新市民信贷</title><link>https://a.example.com/1.html</link><guid>1</guid>'
       '<description>多家城商行近日上线面向新市民的专属信贷产品。</description></item>'
       '<item><title>消费金融公司增资</title><link>https://a.example.com/2.html</link><guid>2</guid>'
       '<description>某消费金融公司完成增资。</description></item></channel></rss>').encode()
PAGE = ('<html><head><title>城市金融报</title><link rel="stylesheet" href="/s.css">'
        '<link rel="alternate" type="application/rss+xml" title="财经" href="/rss/finance.xml"></head>'
        '<body>首页</body></html>').encode()


def write_config(tmp_path, feed_url: str | None = None) -> str:
    feeds = f"  - name: local   # the first feed\n    url: {feed_url}\n" if feed_url else ""
    text = textwrap.dedent("""\
        # The analysts' monitor. Keep this comment.
        timezone: Asia/Shanghai
        database: sqlite:///{db}
        locale: en
        feeds:
        {feeds}

        # The watchlist: what to look for.
        watches:
          - name: 新市民          # 新市民 and friends
            query: 新市民
        digest:
          recipients: [analyst@example.com]   # who reads it
        mail:
          from: monitor@example.com
        """).format(db=tmp_path / "m.db", feeds=feeds.rstrip("\n") or "  []")
    if not feed_url:
        text = text.replace("feeds:\n  []", "feeds: []")
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_feeds_add_follows_a_page_to_its_feed_and_keeps_comments(tmp_path, feed_server, capsys):
    feed_server.routes["/rss/finance.xml"] = Response(200, RSS, {"Content-Type": "application/rss+xml"})
    feed_server.routes["/"] = Response(200, PAGE, {"Content-Type": "text/html; charset=utf-8"})
    path = write_config(tmp_path, feed_server.url("/rss/finance.xml").replace("finance", "other"))
    assert main(["--config", path, "feeds", "add", feed_server.url("/"), "--category", "财经"]) == 0
    out = capsys.readouterr().out
    assert "it links the feed " + feed_server.url("/rss/finance.xml") in out
    text = Path(path).read_text(encoding="utf-8")
    for kept in ("# The analysts' monitor. Keep this comment.", "# the first feed", "# 新市民 and friends",
                 "# who reads it", "\n\n# The watchlist: what to look for.\nwatches:"):
        assert kept in text, text
    config = load_config(path)
    assert [(f.name, f.url, f.category) for f in config.feeds][1] == (
        "城市金融报 财经频道", feed_server.url("/rss/finance.xml"), "财经")
    assert main(["--config", path, "feeds", "add", feed_server.url("/rss/finance.xml")]) == 1  # already there
    feed_server.routes["/nofeed"] = Response(200, b"<html><body>no feed here</body></html>",
                                             {"Content-Type": "text/html"})
    assert main(["--config", path, "feeds", "add", feed_server.url("/nofeed")]) == 1
    assert "links no feed" in capsys.readouterr().err
    assert main(["--config", path, "feeds", "remove", "local"]) == 0
    assert [f.name for f in load_config(path).feeds] == ["城市金融报 财经频道"]


def test_an_invalid_change_writes_nothing(tmp_path, capsys):
    path = write_config(tmp_path)
    before = Path(path).read_text(encoding="utf-8")
    assert main(["--config", path, "watches", "add", "坏", "新市民 AND ("]) == 2
    assert "nothing written" in capsys.readouterr().err
    assert Path(path).read_text(encoding="utf-8") == before
    assert main(["--config", path, "watches", "add", "助贷", "助贷 OR 联合贷款", "--alert", "immediate"]) == 0
    assert [(w.name, w.alert) for w in load_config(path).watches] == [("新市民", "digest"), ("助贷", "immediate")]
    assert main(["--config", path, "watches", "remove", "助贷"]) == 0
    assert Path(path).read_text(encoding="utf-8") == before  # added and removed: the file as it was
    assert main(["--config", path, "watches", "remove", "助贷"]) == 1


def test_opml_export_imported_into_an_empty_config_gives_the_same_feeds(tmp_path, capsysbinary):
    first = tmp_path / "a"
    first.mkdir()
    path = write_config(first)
    feeds = [("财新网", "https://a.example.com/caixin.xml", "财经"), ("36氪", "https://b.example.com/36kr.xml", None),
             ("Reuters & Co", "https://c.example.com/r?x=1&y=2", "外媒")]
    from monitor.config.edit import ConfigEditor
    editor = ConfigEditor(load_config(path).source_path)
    for name, url, cat in feeds:
        editor.append("feeds", {"name": name, "url": url, **({"category": cat} if cat else {})})
    editor.save()
    assert main(["--config", path, "feeds", "export-opml"]) == 0
    exported = capsysbinary.readouterr().out
    (tmp_path / "feeds.opml").write_bytes(exported)
    second = tmp_path / "b"
    second.mkdir()
    empty = write_config(second)
    assert main(["--config", empty, "feeds", "import-opml", str(tmp_path / "feeds.opml")]) == 0
    assert b"3 feeds, 3 added" in capsysbinary.readouterr().out
    assert [(f.name, f.url, f.category) for f in load_config(empty).feeds] == feeds
    assert main(["--config", empty, "feeds", "import-opml", str(tmp_path / "feeds.opml")]) == 0
    assert b"0 added, 3 already" in capsysbinary.readouterr().out


def test_watches_test_prints_what_a_query_matches(tmp_path, feed_server, capsys):
    feed_server.routes["/f.xml"] = Response(200, RSS, {"Content-Type": "application/rss+xml"})
    path = write_config(tmp_path, feed_server.url("/f.xml"))
    assert main(["--config", path, "poll", "--all"]) == 0
    capsys.readouterr()
    assert main(["--config", path, "watches", "test", "消費金融 OR 消金"]) == 0  # traditional finds simplified
    out = capsys.readouterr().out
    assert "**消费金融**公司增资" in out and "城商行" not in out and "1 of 2 stored items match" in out
    assert main(["--config", path, "watches", "test", "(新市民"]) == 2


def test_reload_signals_only_a_daemon_that_holds_the_lock(tmp_path):
    import fcntl
    import socket
    import subprocess
    import sys
    import time

    from monitor.cli.manage import _lock_holder
    lock = tmp_path / "m.db.lock"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock.write_text(f"{socket.gethostname()}:{child.pid} since now\n")
        assert _lock_holder(lock) is None  # a live pid, but nobody holds the lock: a stale file
        holder = subprocess.Popen([sys.executable, "-c", f"import fcntl,time; f=open({str(lock)!r}); "
                                   "fcntl.flock(f, fcntl.LOCK_EX); time.sleep(30)"])
        try:
            for _ in range(100):
                with lock.open() as f:
                    try:
                        fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
                        fcntl.flock(f, fcntl.LOCK_UN)
                    except BlockingIOError:
                        break
                time.sleep(0.05)
            assert _lock_holder(lock) == child.pid  # held: the pid the file names
        finally:
            holder.kill()
    finally:
        child.kill()
    assert _lock_holder(tmp_path / "none.lock") is None


def test_a_malformed_url_is_refused_before_anything_is_fetched(tmp_path, capsys):
    path = write_config(tmp_path)
    assert main(["--config", path, "feeds", "add", "http://[x"]) == 2
    assert "not an http(s) URL" in capsys.readouterr().err
