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
_SOURCE_NOTE = re.compile(r"[（(]\s*(?:文章来源|文章來源|来源|來源)\s*[:：]\s*([^）)]{1,30})[）)]")
# Lines from which the rest of the page is footer: related links, disclaimers, tag lists, widgets.
_FOOTER = re.compile(
    r"^\s*(?:•\s*)?(免责声明|免責聲明|相关推荐|相關推薦|相关阅读|相關閱讀|相关新闻|相關新聞|关键词\s*[:：]|關鍵詞\s*[:：]|"
    r"标签\s*[:：]|標簽\s*[:：]|標籤\s*[:：]|在线客服|在線客服|版权声明|版權聲明|热门推荐|熱門推薦|猜你喜欢|猜你喜歡)"
)


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
    if "|" in s or "｜" in s:
        cells = _CELL_SEP.split(s)
        if all(0 < len(c) <= 6 for c in cells):  # menu rows: 首页 | 财经 | 股票
            return True
    return short and bool(_CAPTION.match(s))


def source_note(text: str) -> str | None:
    """The publisher named in a trailing （文章来源：X） note."""
    m = _SOURCE_NOTE.search(text[-200:])
    return m.group(1).strip() if m else None


def strip_boilerplate(lines: list[str]) -> list[str]:
    """Drop navigation, captions and credits; cut the footer. A footer marker only cuts when it
    sits in the last third of the text, so the word 免责声明 inside an article keeps the article."""
    kept = [line.strip() for line in lines if not is_nav_line(line)]
    total = sum(len(x) for x in kept) or 1
    seen = 0
    for i, line in enumerate(kept):
        if _FOOTER.match(line) and seen >= total * 0.6:
            kept = kept[:i]
            break
        seen += len(line)
    out = []
    for line in kept:
        cut = _CREDIT_TAIL.sub("", line).strip()
        if cut != line:  # 作者 and 责任编辑 often come together
            cut = _CREDIT_TAIL.sub("", cut).strip()
        line = cut
        if line:
            out.append(line)
    return out
