"""Reprint generator for the dedupe benchmark: what portals and content farms do to an article.

Each function takes an rng and text and returns the changed text. ``reprint`` applies a random
combination, so the benchmark measures the general problem, not one transformation at a time.
"""
from __future__ import annotations

import random
from functools import lru_cache

import opencc

FARM_PREFIXES = ["全球热点!", "焦点快讯|", "【独家】", "热点聚焦！", "今日关注|", "【财经早知道】", "快看!"]
SITE_SUFFIXES = [" - 新浪财经", "_网易财经", "|证券时报网", " - 东方财富网", "_凤凰网财经", "｜每日经济新闻"]
NAV_LINES = ["首页 > 财经 > 正文", "手机版 | 网站导航 | 客户端", "分享到：微信 微博 QQ空间", "扫一扫 关注我们",
             "字号：大 中 小", "【打印】【关闭】"]
FOOTERS = [
    ["责任编辑：王晓明"],
    ["免责声明：本文仅供参考，不构成投资建议。据此操作，风险自担。"],
    ["关键词：金融 银行 贷款"],
    ["相关推荐", "央行开展逆回购操作 维护流动性合理充裕", "多家银行下调存款利率", "三季度GDP数据公布"],
    ["（文章来源：中国证券报）", "责任编辑：李华"],
]
ASCII_PUNCT = str.maketrans({"，": ",", "。": ".", "：": ":", "；": ";", "“": '"', "”": '"', "（": "(", "）": ")",
                             "！": "!", "？": "?"})


@lru_cache(maxsize=1)
def _s2t() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


def traditional(text: str) -> str:
    return _s2t().convert(text)


def sentences(text: str) -> list[str]:
    out, cur = [], ""
    for ch in text:
        cur += ch
        if ch in "。！？!?":
            out.append(cur)
            cur = ""
    if cur.strip():
        out.append(cur)
    return out


def reprint_title(rng: random.Random, title: str) -> str:
    if rng.random() < 0.4:
        title = rng.choice(FARM_PREFIXES) + title
    if rng.random() < 0.4:
        title = title + rng.choice(SITE_SUFFIXES)
    if rng.random() < 0.2:
        title = title + "。"
    if rng.random() < 0.15:
        title = title + "（财联社）"
    if rng.random() < 0.15 and " " in title.strip():  # the subtitle dropped
        title = title.strip().rsplit(" ", 1)[0]
    if rng.random() < 0.3:
        title = title.translate(ASCII_PUNCT)
    if rng.random() < 0.3:
        title = traditional(title)
    return title


def reprint_body(rng: random.Random, body: str, other_titles: list[str]) -> str:
    paras = [p for p in body.split("\n") if p.strip()]
    if len(paras) > 3 and rng.random() < 0.5:  # paragraphs dropped (at most a quarter)
        for _ in range(rng.randint(1, max(1, len(paras) // 4))):
            paras.pop(rng.randrange(len(paras)))
    if len(paras) > 2 and rng.random() < 0.4:  # two paragraphs merged
        i = rng.randrange(len(paras) - 1)
        paras[i:i + 2] = [paras[i] + paras[i + 1]]
    if rng.random() < 0.3:  # a paragraph split at a sentence
        i = rng.randrange(len(paras))
        ss = sentences(paras[i])
        if len(ss) > 1:
            cut = rng.randrange(1, len(ss))
            paras[i:i + 1] = ["".join(ss[:cut]), "".join(ss[cut:])]
    if rng.random() < 0.35:  # a pull quote repeated at the top
        ss = [s for p in paras for s in sentences(p) if len(s) > 15]
        if ss:
            paras.insert(0, rng.choice(ss))
    if rng.random() < 0.15:  # an editor's note on top
        paras.insert(0, "编者按：" + rng.choice(other_titles) + "，本报记者对此进行了梳理。")
    if rng.random() < 0.5:
        paras = rng.sample(NAV_LINES, rng.randint(1, 3)) + paras
    if rng.random() < 0.6:
        footer = list(rng.choice(FOOTERS))
        if footer[0] == "相关推荐" and other_titles:
            footer = ["相关推荐"] + rng.sample(other_titles, min(3, len(other_titles)))
        paras += footer
    text = "\n".join(paras)
    if rng.random() < 0.3:
        text = text.translate(ASCII_PUNCT)
    if rng.random() < 0.3:
        text = traditional(text)
    if rng.random() < 0.2:  # junk tags a sloppy scraper left in
        text = text.replace("\n", "\n<br>", 2)
    return text


def summary_of(rng: random.Random, body: str, length: int = 150) -> str:
    """A feed's description: the lead (usually) or an excerpt from further in, cut at ~150 chars."""
    flat = "".join(p for p in body.split("\n") if p.strip())
    start = 0 if rng.random() < 0.6 or len(flat) <= length else rng.randrange(0, len(flat) - length)
    text = flat[start:start + length]
    if rng.random() < 0.3:
        text = traditional(text)
    return text + rng.choice(["……", "...", ""])
