"""Parsing feed bytes into entries: real GB2312 and Big5 feeds (tests/data/feeds, origins in
SOURCES.tsv) against the expected results beside them, and what is not a feed."""
from __future__ import annotations

import json
from datetime import datetime

import pytest
from helpers.paths import DATA

from monitor.errors import FailureKind
from monitor.sources.parse import parse_feed

FEEDS = DATA / "feeds"
EXPECTED = json.loads((FEEDS / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_feeds_decode_and_parse_as_expected(name):
    want = EXPECTED[name]
    parsed = parse_feed((FEEDS / name).read_bytes())
    assert parsed.failure is None and parsed.encoding == want["encoding"]
    assert len(parsed.entries) == want["entries"] and parsed.title == want["channel"]
    first = parsed.entries[0]
    assert (first.title, first.url, first.published) == (
        want["first"]["title"], want["first"]["url"], datetime.fromisoformat(want["first"]["published"]))
    assert first.source == want["channel"]  # no <source>: the channel names the outlet


@pytest.mark.parametrize("body, kind", [
    (b"", FailureKind.EMPTY),
    (b"   \n", FailureKind.EMPTY),
    (b"<!DOCTYPE html><html><body><p>Welcome</p></body></html>", FailureKind.HTML_PAGE),
    (bytes(range(256)) * 8, FailureKind.NOT_A_FEED),
])
def test_what_is_not_a_feed_is_a_failure_with_a_kind(body, kind):
    parsed = parse_feed(body, content_type="text/html")
    assert parsed.failure is not None and parsed.failure.kind == kind and parsed.entries == []


def test_entry_html_becomes_text_and_a_far_future_date_is_clamped():
    body = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title><item>"
            "<title>新市民 &lt;b&gt;贷款&lt;/b&gt;</title><link>https://a.example.com/1.html?utm_source=x</link>"
            "<description>&lt;p&gt;正文&lt;/p&gt;&lt;script&gt;bad()&lt;/script&gt;</description>"
            "<pubDate>Mon, 16 Nov 2099 08:00:00 +0800</pubDate></item></channel></rss>").encode()
    fetched = datetime(2026, 12, 1, tzinfo=datetime.now().astimezone().tzinfo)
    (entry,) = parse_feed(body, fetched_at=fetched).entries
    assert entry.title == "新市民 贷款" and entry.summary == "正文"
    assert entry.canonical_url == "https://a.example.com/1.html"
    assert (entry.published - fetched).days == 1
