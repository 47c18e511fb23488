"""The operator's CLI as a user meets it: exit codes, JSON lines, --since forms, help that
suggests, log lines with the config's zone. In-process through ``monitor.cli.main``, against a
loopback feed server and a real SQLite file."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from helpers.feedserver import Response
from helpers.paths import SEEDS

from monitor.cli import main
from monitor.config import load_config
from monitor.store import Database, search
from monitor.watch.query import parse_query

RSS = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>城市金融报</title>'
       '<item><title>城商行加码新市民信贷</title><link>https://a.example.com/1.html</link><guid>1</guid>'
       '<description>多家城商行近日上线面向新市民的专属信贷产品，覆盖租房、创业和职业培训等场景。</description>'
       '</item></channel></rss>').encode()


@pytest.fixture
def cfg(sqlite_config, feed_server):
    feed_server.routes["/ok.xml"] = Response(200, RSS, {"Content-Type": "application/rss+xml"})
    path = sqlite_config({"feeds": [{"name": "ok", "url": feed_server.url("/ok.xml")}]})

    def run(*argv: str) -> int:
        return main(["--config", str(path), *argv])

    assert run("db", "upgrade") == 0 and run("seeds", "import") == 0
    return run, path, sqlite_config, feed_server


def test_poll_exits_1_when_a_feed_failed_and_for_an_unknown_feed(cfg, capsys):
    run, path, make, server = cfg
    assert run("poll", "--all") == 0
    with Database(load_config(path).database).session() as s:  # the poll ends by indexing what it stored
        assert search.pending(s) == 0
        assert len(search.candidates(s, parse_query("专属信贷产品"), limit=10)[0]) == 1
    make({"feeds": [{"name": "ok", "url": server.url("/ok.xml")}, {"name": "down", "url": "http://127.0.0.1:9/x.xml"}]})
    assert run("poll", "--all") == 1
    assert run("poll", "--feed", "nosuch") == 1
    assert "no feed named nosuch" in capsys.readouterr().err


def test_poll_of_new_feeds_parses_in_processes_forked_from_itself(sqlite_config, feed_server):
    """``monitor poll`` as a new user runs it, in a process of its own: four feeds never polled are
    parsed by workers forked from the command (pipeline.pool), not by a fork server's; polled
    again, known now, they parse on threads and nothing is forked."""
    from helpers.polling import rss

    for n in range(4):
        feed_server.routes[f"/{n}.xml"] = Response(200, rss([(f"g{n}", f"城商行加码新市民信贷{n}")]),
                                                   {"Content-Type": "application/rss+xml"})
    path = sqlite_config({"feeds": [{"name": f"f{n}", "url": feed_server.url(f"/{n}.xml")} for n in range(4)]})

    def poll() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-P", "-m", "monitor", "--config", str(path), "--log-level", "debug",
                               "poll", "--all", "--json"], capture_output=True, text=True, timeout=120)

    first = poll()
    assert first.returncode == 0, first.stderr
    assert "parse pool forked from this process" in first.stderr
    assert "parse pool started" not in first.stderr  # (the fork server's)
    results = [json.loads(line) for line in first.stdout.splitlines()]
    assert sorted((r["feed"], r["status"], r["new"]) for r in results) == [(f"f{n}", "ok", 1) for n in range(4)]
    again = poll()
    assert again.returncode == 0, again.stderr
    assert len(again.stdout.splitlines()) == 4 and "parse pool forked" not in again.stderr


def test_poll_says_when_it_indexes_many_items_for_search(cfg, capsys, monkeypatch):
    from monitor.cli import feeds

    monkeypatch.setattr(feeds, "INDEX_NOTICE", 1)
    run = cfg[0]
    assert run("poll", "--all") == 0
    assert "indexing 1 new items for search..." in capsys.readouterr().err
    assert run("poll", "--all") == 0  # nothing new: nothing to say
    assert "indexing" not in capsys.readouterr().err


def test_filters_naming_no_watch_fail_and_since_takes_words_and_durations(cfg, capsys):
    run = cfg[0]
    run("poll", "--all")
    capsys.readouterr()
    assert run("items", "--watch", "不存在") == 1
    assert "no watch named '不存在'" in capsys.readouterr().err
    for since in ("2d", "12h", "today", "yesterday", "2020-01-01", "2020-01-01T08:00+08:00"):
        assert run("items", "--since", since, "--json") == 0
        lines = capsys.readouterr().out.splitlines()
        assert "城商行加码新市民信贷" in [json.loads(line)["title"] for line in lines], since
    with pytest.raises(SystemExit) as bad:
        run("items", "--since", "soon")
    assert bad.value.code == 2 and "today/yesterday" in capsys.readouterr().err
    assert run("items", "--since", "2999-01-01", "--json") == 0 and capsys.readouterr().out == ""


def test_dedupe_says_duplicate_with_exit_1_like_grep(cfg, tmp_path, capsys):
    run = cfg[0]
    seed = sorted(SEEDS.iterdir())[0]
    assert run("dedupe", str(seed)) == 1
    assert "duplicate of item" in capsys.readouterr().out
    fresh = tmp_path / "new.txt"
    fresh.write_text("一篇从未见过的文章：某农商行试点县域数字普惠金融服务站，覆盖十二个乡镇。" * 3, encoding="utf-8")
    assert run("dedupe", str(fresh), "--title", "县域普惠") == 0
    assert run("dedupe", str(tmp_path / "missing.txt")) == 2


def test_every_json_output_is_json_lines(cfg, capsys):
    run = cfg[0]
    for argv in (["poll", "--all", "--json"], ["feeds", "--json"], ["check", "--json"], ["status", "--json"],
                 ["items", "--json"], ["explain", "1", "--json"]):
        assert run(*argv) == 0, argv
        lines = capsys.readouterr().out.splitlines()
        assert lines and all(isinstance(json.loads(line), dict) for line in lines), (argv, lines[:2])
    capsys.readouterr()
    run("feeds", "--json")
    (feed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert feed["feed"] == "ok" and feed["state"] == "healthy" and feed["last_ok"]


def test_help_suggests_and_a_missing_config_is_named_missing(tmp_path, capsys):
    with pytest.raises(SystemExit) as bad:
        main(["pol"])
    assert bad.value.code == 2 and "did you mean 'poll'?" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "nope.yaml"), "check"]) == 2
    err = capsys.readouterr().err
    assert "no such config file" in err and "not valid" not in err
    with pytest.raises(SystemExit):
        main(["poll", "--help"])
    out = capsys.readouterr().out
    assert "A feed is due when" in out and "exit status:" in out and "examples:" in out


def test_log_lines_carry_the_config_zone(cfg, capsys):
    run = cfg[0]
    run("poll", "--all")
    capsys.readouterr()
    run("digest", "--send", "--now")
    err = capsys.readouterr().err
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0800 INFO", err, re.M), err
