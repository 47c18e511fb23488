"""Outlet names and headlines as feeds send them, made fit to show.

Feeds put plumbing in channel titles ("21世纪经济报道 | wechat-feeds", "36氪 - 最新资讯频道",
"资讯_凤凰网"), search engines append the outlet to every headline ("… - 新浪财经"), and scrapers
put a paragraph into the title. The rules here were measured on the captured feeds in
../shared/corpora/real_feeds.
"""
from __future__ import annotations

import re

from ..text.headlines import strip_outlet

__all__ = ["channel_outlet", "split_headline", "strip_outlet"]

MAX_HEADLINE = 120  # characters; a longer "title" is a headline with text run into it
_CLAUSE_END = "。！？；：，!?;:,、"
# Trailing channel plumbing: a relay's name, "all", "latest … channel", an RSS label.
_PLUMBING = re.compile(
    r"\s*(?:[|｜]\s*wechat-feeds|[-–—_|｜]\s*全部|\s[-–—]\s*最新[^-–—_|｜]{0,8}|[-–—|｜]\s*[^-–—_|｜]{0,8}频道"
    r"|\s[-–—]\s*(?:RSSHub|RSS|Feed|Atom))\s*$", re.I)
_SECTION_OF_SITE = re.compile(r"^[^_]{1,10}_(?P<site>[^_]{2,12})$")  # "资讯_凤凰网": section _ site
_OUTLET_THEN_SECTION = re.compile(r"\s[-–—]\s|:\s|：")


def channel_outlet(title: str | None) -> str | None:
    """The outlet a channel title names, plumbing removed."""
    if not title:
        return None
    name = title.strip()
    for _ in range(3):
        cut = _PLUMBING.sub("", name)
        if cut == name or not cut:
            break
        name = cut
    m = _SECTION_OF_SITE.match(name)
    if m:
        return m.group("site")
    # "财联社 - 电报 - 看盘", "界面新闻: 财经": the outlet, then its sections.
    head = _OUTLET_THEN_SECTION.split(name, maxsplit=1)[0].strip()
    return (head if 2 <= len(head) <= 16 else name) or None


def split_headline(title: str) -> tuple[str, str]:
    """(headline, the rest): a scraper's title with the teaser after a line break (the part after
    it longer than the part before), or a title longer than a headline, is cut there, or else at a
    clause boundary; the rest is text. A title that is only wrapped (a pretty-printed feed) is
    one line again."""
    head, _, rest = title.strip().partition("\n")
    flat = " ".join(title.split())
    teaser = len(head.strip()) >= 4 and len(" ".join(rest.split())) > len(head.strip())
    if not teaser:
        if len(flat) <= MAX_HEADLINE:
            return flat, ""
        head, rest = flat, ""
    head = " ".join(head.split())
    rest = " ".join(rest.split())
    if len(head) > MAX_HEADLINE:
        at = max(head.rfind(c, 20, MAX_HEADLINE) for c in _CLAUSE_END)
        at = at + 1 if at > 0 else head.rfind(" ", 20, MAX_HEADLINE)
        at = at if at > 0 else MAX_HEADLINE
        head, rest = head[:at].rstrip(" ，,、；;：:"), (head[at:].strip() + " " + rest).strip()
    return head, rest
