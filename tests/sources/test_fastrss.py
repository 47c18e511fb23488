"""The plain-RSS fast path gives what feedparser gives, and declines everything else.

The differential tests run both on every feed file at hand (tests/data/feeds, and the shared
corpora where present: feedparser's own test suite, real portal and search-engine feeds) and
compare what the adapter makes of each: its entries, and the channel values it reads.
"""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from helpers.paths import CORPORA, DATA

from monitor.sources import fastrss, rss
from monitor.sources.encoding import as_utf8_xml, decode
from monitor.sources.parse import parse_feed

NOW = datetime(2026, 12, 1, tzinfo=UTC)
FEED_KEYS = ("title", "link", "generator", "ttl")


def _feedparser(data: bytes):
    return feedparser.parse(data, response_headers={"content-type": "application/xml; charset=utf-8"},
                            sanitize_html=False, resolve_relative_uris=False)


def _compare(files: list[Path]) -> tuple[int, list[str]]:
    """How many of ``files`` the fast path took, and those where it differed from feedparser."""
    took, differ = 0, []
    for path in files:
        decoded = decode(path.read_bytes())
        if decoded.text.lstrip().startswith("{"):
            continue
        data = as_utf8_xml(decoded)
        fast = fastrss.parse(data)
        if fast is None:
            continue
        took += 1
        slow = _feedparser(data)
        same = (rss.entries_of(fast, NOW) == rss.entries_of(slow, NOW)
                and {k: fast.feed.get(k) for k in FEED_KEYS} == {k: slow.feed.get(k) for k in FEED_KEYS}
                and bool(slow.version) and not slow.bozo and rss.ttl_of(fast) == rss.ttl_of(slow))
        if not same:
            differ.append(path.name)
    return took, differ


def test_same_entries_as_feedparser_on_the_feeds_in_tests_data():
    took, differ = _compare(sorted((DATA / "feeds").glob("*.xml")))
    assert differ == []
    assert took >= 8  # the Google News, RSSHub, scraped-portal and WeChat feeds among them


@pytest.mark.corpus("feedparser_tests")
def test_same_entries_as_feedparser_on_its_own_test_suite():
    files = sorted(p for p in (CORPORA / "feedparser_tests").rglob("*.xml") if p.is_file())
    took, differ = _compare(files)
    assert differ == []
    assert took >= 250  # of about 2,100: the rest are Atom, RDF, ill-formed or unusual, and go to feedparser


@pytest.mark.corpus("real_feeds")
@pytest.mark.corpus("zh_feeds")
def test_same_entries_as_feedparser_on_real_feeds():
    files = sorted(p for name in ("real_feeds", "zh_feeds") for p in (CORPORA / name).glob("*.xml"))
    took, differ = _compare(files)
    assert differ == []
    assert took >= 30


def _rss(items: str, channel: str = "<title>频道</title>", root: str = '<rss version="2.0">') -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>{root}<channel>{channel}{items}</channel></rss>').encode()


def test_reads_the_values_feedparser_would():
    data = _rss('<item><title> 新市民贷款 </title><guid>https:///example.com/a?x=1&amp;y=2</guid>'
                '<content:encoded><![CDATA[<p>正文</p>]]></content:encoded><dc:creator>记者</dc:creator>'
                '<pubDate>Tue, 01 Dec 2026 08:00:00 +0800</pubDate></item>',
                root='<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
                     'xmlns:dc="http://purl.org/dc/elements/1.1/">')
    fast = fastrss.parse(data)
    assert fast is not None
    entry = fast.entries[0]
    assert entry["title"] == "新市民贷款"
    assert entry["link"] == entry["id"] == "https://example.com/a?x=1&y=2"  # a permalink guid is the link
    assert entry["summary"] == entry["content"][0]["value"] == "<p>正文</p>"  # content copied to the summary
    assert entry["author"] == "记者"
    assert entry["published_parsed"][:4] == (2026, 12, 1, 0)
    assert rss.entries_of(fast, NOW) == rss.entries_of(_feedparser(data), NOW)


def test_a_guid_that_is_no_permalink_is_not_the_link():
    data = _rss('<item><title>标题</title><guid isPermaLink="false">id-1</guid></item>')
    entry = fastrss.parse(data).entries[0]
    assert entry["id"] == "id-1" and "link" not in entry
    assert _feedparser(data).entries[0].get("link") is None


def test_c1_characters_are_mapped_as_feedparser_maps_them():
    data = _rss("<item><title>收益\u0080率</title></item>")
    assert fastrss.parse(data).entries[0]["title"] == _feedparser(data).entries[0]["title"] == "收益€率"


@pytest.mark.parametrize("data", [
    pytest.param(b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>', id="atom"),
    pytest.param(_rss("<item><title>a<b>b</b></title></item>"), id="markup-in-title"),
    pytest.param(_rss("<item><title>a</title><title>b</title></item>"), id="twice"),
    pytest.param(_rss("<item><author>a@example.com (甲)</author></item>"), id="author-email"),
    pytest.param(_rss("<item><media:thumbnail url='x'/></item>",
                      root='<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'), id="unknown-element"),
    pytest.param(_rss('<item xml:base="http://example.com/"><link>a</link></item>'), id="xml-base"),
    pytest.param(_rss("<item><title>&nbsp;</title></item>"), id="not-well-formed"),
    pytest.param(b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "x">]><rss><channel><item><title>&a;</title>'
                 b'</item></channel></rss>', id="dtd"),
    pytest.param(_rss("<item><title>t</title></item>", channel="<item><title>s</title></item><title>late</title>"),
                 id="channel-title-after-items"),
])
def test_declines_what_it_does_not_copy(data):
    assert fastrss.parse(data) is None


def test_parse_feed_gives_the_same_entries_either_way(monkeypatch):
    body = (DATA / "feeds" / "googlenews-zhCN-search-qinghua.xml").read_bytes()
    fast = parse_feed(body, fetched_at=NOW)
    assert fastrss.parse(as_utf8_xml(decode(body))) is not None
    monkeypatch.setattr(fastrss, "parse", lambda data: None)
    slow = parse_feed(body, fetched_at=NOW)
    assert fast.entries == slow.entries and len(fast.entries) > 50
    assert (fast.title, fast.ttl, fast.failure, fast.warning) == (slow.title, slow.ttl, slow.failure, slow.warning)
