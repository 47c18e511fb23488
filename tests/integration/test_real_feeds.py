"""Every captured real feed (../shared/corpora/real_feeds) served on 127.0.0.1 and polled as a new
user would: the Google News search results as a watch's search feed, the rest as plain feeds."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.feedserver import Response
from helpers.paths import CORPORA
from helpers.polling import run_poll, setup
from sqlalchemy import func, select

from monitor.store.models import Feed, Item, Match, Watch

REAL = CORPORA / "real_feeds"
GOOGLE = "googlenews-zhCN-search-qinghua.xml"
ERROR_PAGE = "rsshub-zhihu-hotlist-htmlpage.xml"
pytestmark = pytest.mark.corpus("real_feeds")


def feed_name(path: Path) -> str:
    return path.stem.replace(".", "-")


def entries_in(path: Path) -> int:
    """Counted from the file itself, not by the code under test."""
    if path.suffix == ".json":
        return len(json.loads(path.read_text(encoding="utf-8"))["items"])
    return len(re.findall(rb"<item[ >]|<entry[ >]", path.read_bytes()))


@pytest.fixture
def polled(make_config, feed_server, tmp_path):
    files = sorted(p for p in REAL.iterdir() if p.suffix in (".xml", ".json"))
    for p in files:  # JSON labelled as text: the format is told by the content
        feed_server.routes["/" + p.name] = Response(200, p.read_bytes(), {"Content-Type": "text/plain"})
    feeds = [{"name": feed_name(p), "url": feed_server.url("/" + p.name)} for p in files if p.name != GOOGLE]
    path_overrides = {
        "search_feeds": [{"name": "gn", "url": feed_server.url(f"/{GOOGLE}?q={{query}}")}],
        "watches": [
            {"name": "清华大学", "query": "清华大学 -招聘"},
            {"name": "新浪财经", "query": "新浪财经", "search": False},
            {"name": "新浪来源", "query": "source:新浪财经", "search": False},
        ],
    }
    config, db = setup(lambda overrides: make_config({**overrides, **path_overrides}), feeds)
    results = run_poll(config, db)
    return config, db, files, results


def cli(config, *args):
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(config.source_path), *args],
                          capture_output=True, text=True, timeout=120)


def test_every_entry_of_every_feed_is_stored_clean(polled):
    config, db, files, results = polled
    assert results[feed_name(REAL / ERROR_PAGE)].status == "error"
    assert "HTML page" in results[feed_name(REAL / ERROR_PAGE)].error
    with db.session() as s:
        stored = dict(s.execute(select(Feed.name, func.count(Item.id)).join(Item, Item.feed_id == Feed.id)
                                .group_by(Feed.name)).all())
    for p in files:
        name = "gn:清华大学" if p.name == GOOGLE else feed_name(p)
        if p.name != ERROR_PAGE:
            assert results[name].status == "ok", (name, results[name].error)
            assert stored.get(name) == entries_in(p), name
    rows = [json.loads(line) for line in cli(config, "items", "--json").stdout.splitlines()]
    assert len(rows) == sum(stored.values())
    for r in rows:
        assert "\n" not in r["title"] and len(r["title"]) <= 150, r["title"]
        assert not (r["source"] and r["title"].endswith(r["source"])), r
        assert r["url"] and "utm_" not in r["url"] and "apiclick" not in r["url"] and "google.com/url" not in r["url"]
    bing = [r for r in rows if r["feed"] == "bing-news-madrid-1item"]
    assert [(r["source"], r["url"].split("/")[2]) for r in bing] == [("Daily Mail", "www.dailymail.co.uk")]


def test_google_news_items_carry_their_outlet_and_only_their_own_headline(polled):
    config, db, _, _ = polled
    outlets = re.findall(r"<source url=\"[^\"]*\">([^<]+)</source>", (REAL / GOOGLE).read_text(encoding="utf-8"))
    with db.session() as s:
        items = s.execute(select(Item.title, Item.source, Item.id).join(Feed, Feed.id == Item.feed_id)
                          .where(Feed.name == "gn:清华大学").order_by(Item.id)).all()
        matched = {(name, item_id) for name, item_id in s.execute(
            select(Watch.name, Match.item_id).join(Watch, Watch.id == Match.watch_id))}
    assert len(items) == 100 and sorted(o for _, o, _ in items) == sorted(outlets)
    sina = [(t, i) for t, o, i in items if o.startswith("新浪财经")]
    assert len(sina) == 3
    assert not [t for t, _, i in items if ("新浪财经", i) in matched and "新浪财经" not in t]
    assert {i for _, i in sina} <= {i for n, i in matched if n == "新浪来源"}
    kept = [i for _, _, i in items if ("清华大学", i) in matched]
    assert len(kept) >= 95, len(kept)


def test_back_catalogue_is_stored_but_never_mailed(polled, tmp_path):
    config, db, _, _ = polled
    rows = [json.loads(line) for line in cli(config, "items", "--json").stdout.splitlines()]
    feed_rows = [r for r in rows if r["feed"]]
    assert feed_rows and all(r["backlog"] for r in feed_rows)  # every capture predates the first poll
    out = cli(config, "digest", "--preview", str(tmp_path / "p.html"))
    assert out.returncode == 0 and ": 0 stories for" in out.stdout, out.stdout + out.stderr


def test_explain_names_the_search_engine(polled):
    config, db, _, _ = polled
    with db.session() as s:
        item_id = s.scalar(select(Item.id).join(Feed, Feed.id == Item.feed_id).where(
            Feed.name == "gn:清华大学", ~Item.title.contains("清华")).limit(1))
    report = json.loads(cli(config, "explain", str(item_id), "--json").stdout)
    watch = next(w for w in report["watches"] if w["watch"] == "清华大学")
    assert watch["matched"] and watch["via"] == "search" and "search engine" in watch["reason"]
    text = cli(config, "explain", str(item_id)).stdout
    assert "returned by the search engine for this watch" in text


def test_no_two_google_news_headlines_that_differ_in_a_word_are_linked(polled):
    from monitor.store.models import Duplicate
    from monitor.text.headlines import strip_farm_prefix

    config, db, _, _ = polled
    with db.session() as s:
        gn = dict(s.execute(select(Item.id, Item.title).join(Feed, Feed.id == Item.feed_id)
                            .where(Feed.name == "gn:清华大学")).all())
        links = [(a, b) for a, b in s.execute(select(Duplicate.item_id, Duplicate.duplicate_of_id)) if a in gn and b in gn]

    def bare(title: str) -> str:
        return re.sub(r"\W", "", strip_farm_prefix(title))

    for a, b in links:
        short, long_ = sorted((bare(gn[a]), bare(gn[b])), key=len)
        assert short in long_ and len(short) >= 8, (gn[a], gn[b])
