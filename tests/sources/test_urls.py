"""Canonical URLs: one address per article, whatever tracking or redirect wraps it."""
from __future__ import annotations

import pytest

from monitor.sources.urls import canonical_url


@pytest.mark.parametrize("raw, canonical", [
    ("https://News.Example.com:443/a.html?utm_source=rss&id=3#top", "https://news.example.com/a.html?id=3"),
    ("http://example.com:8080/x?spm=1.2&b=2", "http://example.com:8080/x?b=2"),
    ("https://www.google.com/url?rct=j&url=https://finance.example.com/n/1.html&ct=ga",
     "https://finance.example.com/n/1.html"),
    ("http://www.bing.com/news/apiclick.aspx?ref=FexRss&url=https%3A%2F%2Fwww.dailymail.co.uk%2Fa.html&c=1",
     "https://www.dailymail.co.uk/a.html"),
    ("mailto:someone@example.com", "mailto:someone@example.com"),
])
def test_canonical_url(raw, canonical):
    assert canonical_url(raw) == canonical


def test_no_url_is_none():
    assert canonical_url(None) is None and canonical_url("") is None
