"""Pages without a feed read by selectors: items, titles (the full one from title=""), links made
absolute, the common Chinese date forms, and a selector that matches nothing named in the error."""
from __future__ import annotations

from datetime import UTC, datetime

from monitor.sources.pages import PageRule, parse_date, parse_page

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
PAGE = """<html><head><meta charset="gbk"><title>政策法规 - 国家金融监督管理总局</title></head><body>
<div class="nav"><a href="/">首页</a><a href="/zcfg/">政策法规</a></div>
<ul class="list">
  <li><a href="./202611/t20261124_1.html" title="关于加强新市民金融服务工作的通知（全文较长的标题）">关于加强新市民金融服务工作的...</a>
      <span class="date">2026-11-24</span></li>
  <li><a href="/zcfg/202611/t20261120_2.html">消费金融公司管理办法</a><span class="date">2026年11月20日</span></li>
  <li><a href="javascript:void(0)">无链接的条目</a><span class="date">11-18</span></li>
  <li class="empty"></li>
</ul></body></html>"""
RULE = PageRule(item="ul.list li", title="a", date=".date")


def test_items_titles_links_and_dates():
    parsed = parse_page(PAGE.encode("gbk"), RULE, base_url="https://www.nfra.gov.cn/zcfg/", fetched_at=NOW,
                        content_type="text/html; charset=gbk")
    assert parsed.failure is None and parsed.title == "政策法规 - 国家金融监督管理总局"
    got = [(e.title, e.url, e.published.date().isoformat()) for e in parsed.entries]
    assert got == [
        ("关于加强新市民金融服务工作的通知（全文较长的标题）", "https://www.nfra.gov.cn/zcfg/202611/t20261124_1.html",
         "2026-11-23"),  # midnight in Shanghai is the day before in UTC
        ("消费金融公司管理办法", "https://www.nfra.gov.cn/zcfg/202611/t20261120_2.html", "2026-11-19"),
        ("无链接的条目", None, "2026-11-17"),
    ]


def test_a_selector_that_matches_nothing_is_an_error_naming_it():
    parsed = parse_page(PAGE.encode("gbk"), PageRule(item="table.notices tr", title="a"), base_url="https://x.cn/",
                        fetched_at=NOW)
    assert parsed.failure is not None and "table.notices tr" in parsed.failure.reason
    parsed = parse_page(PAGE.encode("gbk"), PageRule(item="ul.list li", title="h3"), base_url="https://x.cn/",
                        fetched_at=NOW)
    assert parsed.failure is not None and "'h3'" in parsed.failure.reason


def test_chinese_date_forms():
    def day(text, fmt=None):
        return parse_date(text, fmt, "Asia/Shanghai", NOW).astimezone(UTC).isoformat()

    assert day("2026-11-24") == day("2026/11/24") == day("2026.11.24") == day("2026年11月24日") == \
        "2026-11-23T16:00:00+00:00"
    assert day("发布时间：2026-11-24 09:30") == "2026-11-24T01:30:00+00:00"
    assert day("11-20") == "2026-11-19T16:00:00+00:00" and day("11月20日") == day("11-20")
    assert day("12-30") == "2025-12-29T16:00:00+00:00"  # would be in the future: last year's
    assert day("24/11/2026", "%d/%m/%Y") == "2026-11-23T16:00:00+00:00"
    assert day("") == day("无日期") == NOW.isoformat() and day("2026-02-31") == NOW.isoformat()
