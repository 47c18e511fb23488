"""Reading a list page by CSS selectors: the page reader (selectolax, lexbor) against parsel on
the same 22 KB page of 60 notices with portal furniture. Medians of 7 runs of 50 parses each.
parsel is not a dependency: `.venv/bin/pip install parsel` to print the comparison."""
from __future__ import annotations

import statistics
import time

from monitor.sources.pages import PageRule, parse_page

ROWS = "".join(f'<li class="item"><span class="date">2026-11-{i % 28 + 1:02d}</span><a href="/zcfg/{i}.html" '
               f'title="关于加强新市民金融服务工作的通知{i}">关于加强新市民金融服务工作的通知{i}</a></li>' for i in range(60))
PAGE = (f"<html><head><meta charset='utf-8'><title>政策法规</title></head><body><div class='nav'>"
        f"{'<a href=#>栏目</a>' * 200}</div><ul class='list'>{ROWS}</ul><div class='foot'>{'版权所有 ' * 500}</div>"
        "</body></html>")
RULE = PageRule(item="ul.list li.item", title="a", date=".date")


def median_ms(fn, runs: int = 7, inner: int = 50) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner * 1000)
    return statistics.median(times)


def selectolax_only() -> list:
    from selectolax.lexbor import LexborHTMLParser
    tree = LexborHTMLParser(PAGE)
    links = [li.css_first("a") for li in tree.css(RULE.item)]
    return [(a.text(), a.attributes.get("href")) for a in links if a is not None]


def parsel_only() -> list:
    from parsel import Selector
    return [(li.css("a::text").get(), li.css("a::attr(href)").get()) for li in Selector(text=PAGE).css(RULE.item)]


if __name__ == "__main__":
    body = PAGE.encode()
    whole = median_ms(lambda: parse_page(body, RULE, base_url="https://www.nfra.gov.cn/zcfg/"))
    lax = median_ms(selectolax_only)
    print(f"page of {len(body):,} bytes, 60 items: parse_page (decode, select, make entries) {whole:.2f} ms; "
          f"selectolax selection alone {lax:.2f} ms")
    try:
        import parsel  # noqa: F401
    except ImportError:
        print("parsel not installed: `.venv/bin/pip install parsel` to compare")
    else:
        par = median_ms(parsel_only)
        print(f"parsel selection alone {par:.2f} ms: selectolax is {par / lax:.1f}x faster")
