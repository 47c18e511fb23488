"""Parsing feed bytes into entries: real feeds captured by others (tests/data/feeds, origins in
SOURCES.tsv: GB2312 and Big5 feeds, Google News and Bing results, JSON Feed, scraped portal feeds,
a WeChat relay) against the expected results beside them, and what is not a feed."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from helpers.paths import DATA

from monitor.errors import FailureKind
from monitor.sources.parse import parse_feed

FEEDS = DATA / "feeds"
EXPECTED = json.loads((FEEDS / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_feeds_parse_as_expected(name):
    want = EXPECTED[name]
    parsed = parse_feed((FEEDS / name).read_bytes())
    assert parsed.failure is None and parsed.encoding == want["encoding"]
    assert len(parsed.entries) == want["entries"] and parsed.title == want["channel"]
    for index, item in want["items"].items():
        e = parsed.entries[int(index)]
        assert (e.title, e.source, e.canonical_url, e.published) == (
            item["title"], item["source"], item["url"], datetime.fromisoformat(item["published"])), index
    for e in parsed.entries:  # what every entry of every real feed must be
        assert "\n" not in e.title and len(e.title) <= 150 and e.title.strip() == e.title
        assert not (e.source and e.title.endswith(e.source)), e.title
        assert e.canonical_url and "utm_" not in e.canonical_url and "apiclick" not in e.canonical_url


def test_google_news_items_are_their_own_headline_only():
    parsed = parse_feed((FEEDS / "googlenews-ja-topstories-prettified.xml").read_bytes())
    first = parsed.entries[0]
    assert first.summary == "" and first.content == ""  # the description lists other stories
    # older tokens carry the publisher's URL: shown and deduped as that, the Google link kept
    assert first.url.startswith("https://news.google.com/rss/articles/")
    assert first.canonical_url == "https://www.asahi.com/articles/ASS256HGVS24UTIL00X.html"


def test_a_scraped_title_with_its_teaser_is_cut_and_the_teaser_is_text():
    (first, *_) = parse_feed((FEEDS / "infzm-scraped.xml").read_bytes()).entries
    assert first.title == "菲尔兹奖得主邓煜：尽情享受开拓未知领域的过程"
    assert first.summary.startswith("首个获菲尔兹奖的中国籍数学家邓煜")


def test_the_configured_outlet_is_used_when_entries_name_none():
    parsed = parse_feed((FEEDS / "wechat-feeds-21jingji.xml").read_bytes(), outlet="21财经")
    assert {e.source for e in parsed.entries} == {"21财经"}
    gn = parse_feed((FEEDS / "googlenews-en-fed-3items.xml").read_bytes(), outlet="ignored")
    assert gn.entries[0].source == "AP News"  # an entry's own outlet wins


def test_an_rsshub_error_page_is_a_failure_with_a_reason():
    parsed = parse_feed((FEEDS / "rsshub-zhihu-hotlist-htmlpage.xml").read_bytes(), content_type="application/xml")
    assert parsed.failure is not None and parsed.failure.kind == FailureKind.HTML_PAGE
    assert "HTML page" in parsed.failure.reason


@pytest.mark.parametrize("body, kind", [
    (b"", FailureKind.EMPTY),
    (b"   \n", FailureKind.EMPTY),
    (b"<!DOCTYPE html><html><body><p>Welcome</p></body></html>", FailureKind.HTML_PAGE),
    (bytes(range(256)) * 8, FailureKind.NOT_A_FEED),
    (b'{"not": "a feed"}', FailureKind.NOT_A_FEED),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": ', FailureKind.NOT_A_FEED),
])
def test_what_is_not_a_feed_is_a_failure_with_a_kind(body, kind):
    parsed = parse_feed(body, content_type="text/html")
    assert parsed.failure is not None and parsed.failure.kind == kind and parsed.entries == []


def test_entry_html_becomes_text_and_a_far_future_date_is_the_fetch_time():
    body = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title><item>"
            "<title>新市民 &lt;b&gt;贷款&lt;/b&gt;</title><link>https://a.example.com/1.html?utm_source=x</link>"
            "<description>&lt;p&gt;正文&lt;/p&gt;&lt;script&gt;bad()&lt;/script&gt;</description>"
            "<pubDate>Mon, 16 Nov 2099 08:00:00 +0800</pubDate></item></channel></rss>").encode()
    fetched = datetime(2026, 12, 1, tzinfo=UTC)
    (entry,) = parse_feed(body, fetched_at=fetched).entries
    assert entry.title == "新市民 贷款" and entry.summary == "正文"
    assert entry.canonical_url == "https://a.example.com/1.html"
    assert entry.published == fetched


def test_json_feed_fields():
    body = json.dumps({"version": "https://jsonfeed.org/version/1", "title": "财新网 - 最新文章", "items": [
        {"id": "1", "url": "https://a.example.com/1?utm_medium=x", "title": "央行<b>降准</b>",
         "content_html": "<p>新市民 <script>x()</script>贷款</p>", "summary": "摘要",
         "date_published": "2026-11-30T08:00:00+08:00", "author": {"name": "记者"}},
        {"id": "2", "content_text": "只有正文的一条快讯，没有标题。", "date_modified": "2026-11-30T01:00:00Z"},
        "not an item"]}, ensure_ascii=False).encode()
    a, b = parse_feed(body, fetched_at=datetime(2026, 12, 1, tzinfo=UTC)).entries
    assert (a.title, a.content, a.summary, a.author, a.source) == ("央行降准", "新市民 贷款", "摘要", "记者", "财新网")
    assert a.canonical_url == "https://a.example.com/1" and a.published == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    assert b.title.startswith("只有正文的一条快讯") and b.published == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
