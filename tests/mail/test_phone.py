"""A digest on a phone, in a real browser (Playwright with the Debian chromium): at 390 px no
figure, name or watched term is split across lines and nothing is wider than the screen.

``MONITOR_SCREENSHOTS=docs/screenshots`` keeps the screenshot the README shows."""
from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.mail.content import ChartDay, Digest, DigestItem, Outlet, Section
from monitor.mail.render import environment, render

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the Debian chromium: apt-get install chromium")

# What must stay whole: figures with their decimals, years, percentages, amounts, Latin names.
WHOLE = ["6.3565", "2018", "20.18%", "1,234,567.89", "3.1415926", "Consumer-Finance", "TransUnion",
         "688888.SH", "2026-11-24"]
TERMS = ["人民币汇率", "消费金融", "新市民"]


def _item(i: int, now: datetime) -> DigestItem:
    pad = "某" * (i % 9)  # shifts each line's figures to another place on the line
    title = [(f"{pad}【快讯】", False), ("人民币汇率", True), (f"中间价报{WHOLE[i % len(WHOLE)]}，较上日调升{WHOLE[(i + 3) % 9]}", False)]
    snippet = [(f"{pad}据悉，{WHOLE[(i + 1) % 9]}亿元的", False), ("消费金融", True),
               (f"资产支持证券于{WHOLE[(i + 2) % 9]}发行，发起机构为{WHOLE[(i + 5) % 9]}与", False), ("新市民", True),
               (f"服务中心，规模较{WHOLE[(i + 4) % 9]}增长{WHOLE[(i + 6) % 9]}。", False)]
    return DigestItem(id=i, title=title, url=f"https://a.example.com/{i}.html", source="中国证券报·中证网",
                      published=now, snippet=snippet, also=[Outlet("第一财经", "https://b.example.com/x")], story=i)


def test_a_digest_at_phone_width_splits_no_figure_or_name(tmp_path):
    from playwright.sync_api import sync_playwright

    now = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    chart = [ChartDay(f"11-{18 + d}", d, 5 * d) for d in range(7)]
    items = [_item(i, now) for i in range(18)]
    d = Digest("digest", ["a@example.com"], "p", "2026-11-24", now,
               [Section("人民币汇率", "人民币汇率", items, chart, 1, full=12)])
    html, _ = render(environment(locale="zh-CN"), "digest", ZoneInfo("Asia/Shanghai"), digest=d,
                     subject="新闻监控日报 2026-11-24")
    shots = Path(os.environ.get("MONITOR_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        page.set_content(html)
        split = page.evaluate(_SPLIT_JS, WHOLE + TERMS)
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(shots / "digest-phone.png"), full_page=False)
        browser.close()
    assert width <= 390
    assert split["checked"] > 100  # every occurrence was found and measured
    assert split["broken"] == [], split["broken"]


# For every occurrence of each string in a text node: on how many lines its characters are drawn.
_SPLIT_JS = """(words) => {
  const out = {checked: 0, broken: []};
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    for (const w of words) {
      let at = node.data.indexOf(w);
      while (at >= 0) {
        const r = document.createRange();
        r.setStart(node, at); r.setEnd(node, at + w.length);
        const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
        out.checked += 1;
        if (tops.size > 1) out.broken.push(w + " in: " + node.data.slice(0, 40));
        at = node.data.indexOf(w, at + 1);
      }
    }
  }
  return out;
}"""
