"""What content farms and portals add to a headline, and taking it off again: a farm's lead-in
("全球热点!", "焦点快讯|", "【独家】") and an outlet appended at the end (" - 新浪财经")."""
from __future__ import annotations

import re

# A farm's lead-in: a hot-news word and a mark ("全球热点!", "今日关注|"), or a short bracketed tag.
FARM_PREFIX = re.compile(
    r"^\s*(?:[\u4e00-\u9fff]{0,4}(?:热点|熱點|热讯|熱訊|快讯|快訊|速读|速讀|焦点|焦點|聚焦|头条|頭條|热闻|熱聞|最新|快报|快報|"
    r"关注|關注|快看|早知道)[\u4e00-\u9fff]{0,2}\s*[!！:：|｜]"
    r"|【[^】]{0,4}(?:热点|熱點|快讯|快訊|焦点|焦點|早知道|重磅|速递|速遞|关注|關注)[^】]{0,4}】)\s*")
_SEPARATOR = r"\s*(?:\s[-–—]\s|[|｜_：:]|\s[-–—])\s*"


def farm_prefix(title: str) -> str | None:
    """The lead-in a content farm put before the headline, if any."""
    m = FARM_PREFIX.match(title)
    return m.group(0) if m and len(title) - m.end() >= 6 else None


def strip_farm_prefix(title: str) -> str:
    prefix = farm_prefix(title)
    return title[len(prefix):].strip() if prefix else title


def strip_outlet(title: str, outlet: str | None) -> str:
    """The headline without the outlet a search engine or portal appended to it (" - 新浪财经",
    "：朝日新聞デジタル", "| NHK"); removed only when it names that outlet, as often as it repeats."""
    if not outlet or len(outlet) >= len(title):
        return title
    suffix = re.compile(_SEPARATOR + re.escape(outlet.strip()) + r"\s*$")
    for _ in range(3):
        cut = suffix.sub("", title)
        if cut == title or len(cut) < 4:
            break
        title = cut
    return title


def display_title(title: str, outlet: str | None) -> str:
    """A story's headline as the digest and the web view show it."""
    return strip_outlet(strip_farm_prefix(title), outlet)
