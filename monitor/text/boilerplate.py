"""Portal boilerplate, in simplified and traditional script: navigation rows, captions, credits
and the footer from which the rest of a page is not the article.
"""
from __future__ import annotations

import re

_NAV_WORDS = ("手机版", "手機版", "网站导航", "網站導航", "返回首页", "返回首頁", "首页 >", "首頁 >", "扫一扫",
              "掃一掃", "分享到", "打印本页", "关闭窗口", "【打印】", "【关闭】", "字号", "字號")
_CAPTION = re.compile(r"^[【\[（(]\s*(资料图|資料圖|图片|圖片|图|圖|视频|視頻)\s*[】\]）)]$")
_CREDIT_TAIL = re.compile(
    r"[（(]\s*(作者|记者|記者|编辑|編輯|责编|責編)\s*[:：][^）)]{1,20}[）)]\s*"
    r"|(责任编辑|責任編輯|编辑|編輯|责编|責編)\s*[:：]\s*\S{1,12}\s*$"
    r"|[（(]\s*(文章来源|文章來源|来源|來源)\s*[:：][^）)]{1,30}[）)]\s*$"
)
# The characters a credit or a source note starts with (every alternative of _CREDIT_TAIL starts
# with one): ``_cut_credits`` tries the pattern only there, where ``sub`` tried it at every
# position (17 µs for a 400-character line).
_MAY_CREDIT = re.compile(r"[（(责責编編]")
_SOURCE_NOTE = re.compile(r"[（(]\s*(?:文章来源|文章來源|来源|來源)\s*[:：]\s*([^）)]{1,30})[）)]")
# Lines from which the rest of the page is footer: related links, disclaimers, tag lists, widgets.
_FOOTER = re.compile(
    r"^\s*(?:•\s*)?(免责声明|免責聲明|相关推荐|相關推薦|相关阅读|相關閱讀|相关新闻|相關新聞|关键词\s*[:：]|關鍵詞\s*[:：]|"
    r"标签\s*[:：]|標簽\s*[:：]|標籤\s*[:：]|在线客服|在線客服|版权声明|版權聲明|热门推荐|熱門推薦|猜你喜欢|猜你喜歡)"
)


# WeChat and app furniture: follow/scan/like lines, arrows and emoji-only decoration.
_FURNITURE = re.compile(
    r"关注(我们|公众号|本号|星标)|设为星标|置顶公众号|点击(上方|下方|蓝字|关注|阅读原文)|长按(识别|关注|二维码|扫码)|"
    r"扫码(关注|添加|进群)|扫描二维码|阅读原文|欢迎(转发|分享|关注)|点个?赞|点(个)?在看|分享给|转发给|"
    r"關注(我們|公眾號)|點擊(上方|藍字)|長按(識別|關注)|閱讀原文")
_WORDS = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]{2}")
# A list of other articles: 相关阅读 / 往期推荐 and the titles under it.
_LIST_HEADER = re.compile(
    r"^\W{0,6}(相关阅读|相關閱讀|延伸阅读|延伸閱讀|推荐阅读|推薦閱讀|往期推荐|往期推薦|往期回顾|往期回顧|往期精选|往期精選|"
    r"热文推荐|熱文推薦|精彩推荐|精彩推薦|热门文章|熱門文章|更多阅读|更多閱讀|相关文章|相關文章|推荐文章|推薦文章)\W{0,6}$")
LIST_TITLE_MAX = 60  # characters: a line this short under a list header is a linked title

_LINK_ROW = re.compile(r"(\[[^\]]*\]\([^)]*\)\s*[｜|]?\s*)+")
_CELL_SEP = re.compile(r"\s*[|｜]\s*")


def is_nav_line(line: str) -> bool:
    # Cheap tests guard the expensive ones: this runs on every line of every article dedupe sees.
    s = line.strip()
    if not s:
        return True
    short = len(s) < 40
    if short and any(w in s for w in _NAV_WORDS):
        return True
    if s[0] == "[" and _LINK_ROW.fullmatch(s):  # markdown link rows
        return True
    if short and s.endswith((">", "»", "＞")):  # breadcrumbs
        return True
    if len(s) < 60 and (_FURNITURE.search(s) or not _WORDS.search(s)):  # follow lines, decoration
        return True
    if "|" in s or "｜" in s:
        cells = _CELL_SEP.split(s)
        if all(0 < len(c) <= 6 for c in cells):  # menu rows: 首页 | 财经 | 股票
            return True
    return short and bool(_CAPTION.match(s))


def source_note(text: str) -> str | None:
    """The publisher named in a trailing （文章来源：X） note."""
    m = _SOURCE_NOTE.search(text[-200:])
    return m.group(1).strip() if m else None


def drop_link_lists(lines: list[str]) -> list[str]:
    """A 相关阅读 header and the short lines (other articles' titles) under it, wherever they are:
    their words are not this article's, and a title in such a list made a search result look
    like part of an article that only linked to it."""
    out: list[str] = []
    in_list = False
    for line in lines:
        s = line.strip()
        if _LIST_HEADER.match(s):
            in_list = True
            continue
        if in_list and len(s) <= LIST_TITLE_MAX:
            continue
        in_list = False
        out.append(line)
    return out


def strip_boilerplate(lines: list[str]) -> list[str]:
    """Drop navigation, captions, app furniture, lists of other articles and credits; cut the
    footer. A footer marker only cuts when it sits in the last third of the text, so the word
    免责声明 inside an article keeps the article."""
    kept = [line.strip() for line in drop_link_lists(lines) if not is_nav_line(line)]
    total = sum(len(x) for x in kept) or 1
    seen = 0
    for i, line in enumerate(kept):
        # In the last third of the text, or among its last two lines (a one-line flash's footer).
        if _FOOTER.match(line) and (seen >= total * 0.6 or i >= len(kept) - 2):
            kept = kept[:i]
            break
        seen += len(line)
    out = []
    for line in kept:
        cut = _cut_credits(line).strip()
        if cut != line:  # 作者 and 责任编辑 often come together
            cut = _cut_credits(cut).strip()
        line = cut
        if line:
            out.append(line)
    return out


def _cut_credits(line: str) -> str:
    """``_CREDIT_TAIL.sub("", line)``, the pattern tried only where a match can start."""
    parts: list[str] = []
    last = 0
    for start in _MAY_CREDIT.finditer(line):
        if start.start() >= last and (m := _CREDIT_TAIL.match(line, start.start())):
            parts.append(line[last:m.start()])
            last = m.end()
    if not parts:
        return line
    parts.append(line[last:])
    return "".join(parts)
