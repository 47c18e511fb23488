"""Rendering: feed text is escaped, links and headers sanitised."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from monitor.mail.content import Digest, DigestItem, Outlet, Section
from monitor.mail.render import environment, header_safe, render, safe_url, subject

TZ = "Asia/Shanghai"


def test_feed_text_is_escaped_by_the_templates():
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    item = DigestItem(id=1, title=[("<script>alert(1)</script>", False), ("新市民", True)],
                      url="javascript:alert(1)", source='<img src=x onerror="y()">', published=now,
                      snippet=[('"><svg onload=z()>', False), ("新市民", True)], also=[Outlet("<b>x</b>", "javascript:void(0)")])
    d = Digest("digest", ["a@example.com"], "p", "2026-11-23", now, [Section("w", "q", [item], [], 1, full=1)])
    html, text = render(environment(), "digest", ZoneInfo(TZ), digest=d, subject="s")
    assert "<script>" not in html and "<svg" not in html and "<img" not in html and "<b>x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;svg onload=z()&gt;" in html
    assert "javascript:" not in html and 'href="' not in html.split("<body")[1]  # no link at all
    assert re.search(r"<mark[^>]*>新市民</mark>", html)


def test_header_and_link_sanitising():
    assert header_safe("a\r\nBcc: x@y\x00z") == "a Bcc: x@y z"
    assert len(header_safe("长" * 500)) == 180
    assert safe_url("javascript:alert(1)") is None and safe_url(" data:text/html,x") is None
    assert safe_url("https://a.example.com/x?y=1") == "https://a.example.com/x?y=1"
    assert safe_url("http://a.example.com/\r\nx") is None and safe_url("https:///nohost") is None
    assert subject("日报 {date} {count} {unknown}", date="2026-11-23", count=3) == "日报 2026-11-23 3 {unknown}"
