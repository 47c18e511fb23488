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
    if rng.random() < 0.15 and len(body) > 200:  # an editor's note on top (not on a one-line flash)
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


# ---------------------------------------------------------------------------------------------
# More of what portals, WeChat accounts, aggregators and search engines do (bench/dedupe_order.py)

WECHAT_TOP = ["👆点击上方蓝字，关注我们", "▲点击上方“财经观察”，设为星标", "↑↑↑ 关注我们，第一时间获取资讯"]
WECHAT_BOTTOM = [["▌往期推荐", "{t1}", "{t2}", "长按识别二维码，关注我们"],
                 ["END", "点个在看，分享给朋友", "欢迎转发到朋友圈"],
                 ["推荐阅读", "{t1}", "{t2}", "扫码关注，获取更多资讯"]]
OUTLETS = ["新浪财经", "网易财经", "东方财富网", "每日经济新闻", "证券时报网", "凤凰网财经"]
_DIGITS = "零一二三四五六七八九"


@lru_cache(maxsize=1)
def _s2twp() -> opencc.OpenCC:
    return opencc.OpenCC("s2twp")


def taiwan(text: str) -> str:
    """Traditional script with Taiwan's vocabulary (软件 → 軟體, 信息 → 資訊)."""
    return _s2twp().convert(text)


def wechat(rng: random.Random, body: str, other_titles: list[str]) -> str:
    """A WeChat account's repost: furniture on top and below, a list of its other posts."""
    t1, t2 = rng.sample(other_titles, 2)
    bottom = [line.format(t1=t1, t2=t2) for line in rng.choice(WECHAT_BOTTOM)]
    return "\n".join([rng.choice(WECHAT_TOP), body, *bottom])


def _in_words(n: str) -> str:
    """An integer below 10,000 in Chinese numerals (年份 digit by digit, like the press writes them)."""
    value = int(n)
    if len(n) == 4 and 1900 <= value <= 2100:
        return "".join("〇" if ch == "0" else _DIGITS[int(ch)] for ch in n)
    out, zero = "", False
    for size, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit, value = divmod(value, size)
        if digit:
            out += ("零" if zero and out else "") + ("" if (name == "十" and digit == 1 and not out) else _DIGITS[digit]) + name
            zero = False
        elif out:
            zero = True
    return out or "零"


def numerals(rng: random.Random, text: str) -> str:
    """Some whole figures before 万/亿/年/月/日/家/个 written out in words."""
    import re

    def swap(m: re.Match) -> str:
        return _in_words(m.group(1)) + m.group(2) if rng.random() < 0.7 else m.group(0)

    return re.sub(r"(?<![\d.])(\d{1,4})(万|亿|年|月|日|家|个)", swap, text)


def aggregator(rng: random.Random, body: str) -> str:
    """An aggregator's card: the first paragraph and a link onwards."""
    first = next((p for p in body.split("\n") if len(p.strip()) > 20), body)
    return first + "\n" + rng.choice(["阅读全文>>", "点击查看全文", "展开全文"])


def headline(rng: random.Random, title: str) -> str:
    """A search engine's result: the headline with the outlet appended."""
    return f"{title} - {rng.choice(OUTLETS)}"


# Hard negatives: different stories that look alike.

GENERIC_HEADLINES = ["这件事，关乎每个人的钱袋子", "刚刚，重磅消息！", "突发！影响巨大", "最新通知来了", "事关你我，速看"]


def shift_figures(rng: random.Random, text: str) -> str:
    """Another day's templated report: the same sentences, every figure different."""
    import re

    return re.sub(r"\d+(?:\.\d+)?", lambda m: _other_figure(rng, m.group(0)), text)


def _other_figure(rng: random.Random, figure: str) -> str:
    if "." in figure:
        whole, frac = figure.split(".")
        return f"{int(whole) + rng.randint(1, 9)}.{rng.randint(0, 10 ** len(frac) - 1):0{len(frac)}d}"
    return str(int(figure) + rng.randint(1, 97))


SWAPS = [("本科生", "研究生"), ("上涨", "下跌"), ("增持", "减持"), ("买入", "卖出"), ("净流入", "净流出"), ("上调", "下调"),
         ("开盘", "收盘"), ("午评", "收评"), ("上海", "深圳"), ("一季度", "二季度"), ("涨停", "跌停"), ("同比", "环比")]


def one_word_changed(rng: random.Random, title: str) -> str | None:
    """The title of another event: one word of substance swapped, if the title has one."""
    found = [(a, b) for a, b in SWAPS if a in title] + [(b, a) for a, b in SWAPS if b in title]
    if not found:
        return None
    a, b = rng.choice(found)
    return title.replace(a, b, 1)


def topic_of(title: str) -> str | None:
    """A search result that only names the topic: the first part of a long title."""
    return title[: max(6, len(title) * 2 // 5)] + " - 百科" if len(title) >= 20 else None
