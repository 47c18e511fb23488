"""One article file, in any of the shapes articles reach us in, → title, source, date, body.

Shapes seen: Jekyll front matter + HTML; plain text with the title on the first line; a saved
portal page with junk tags, navigation and a footer; a single title-less paragraph opening with
a byline; a title repeated under a category prefix, then source, date and a view count. The
rules are general (bylines, dates, footers), not keyed to particular files, because the same
shapes arrive from ``monitor dedupe FILE`` and full-text pages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import yaml

from .boilerplate import source_note, strip_boilerplate
from .clean import clean_line, clean_text
from .headlines import strip_farm_prefix
from .html import html_to_text, looks_like_html


@dataclass(frozen=True)
class ParsedArticle:
    title: str
    body: str  # paragraphs separated by "\n"
    source: str | None
    author: str | None
    published: datetime | None
    url: str | None
    title_derived: bool  # the file had no title; this one is the first sentence


_TAGS = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")
_URL_LINE = re.compile(r"^<?(https?://[^\s<>]+)>?$")
_DATE = re.compile(
    r"(\d{4})\s*[-/年.]\s*(\d{1,2})\s*[-/月.]\s*(\d{1,2})\s*日?"
    r"(?:\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?(?:\s*([+-]\d{2}):?(\d{2}))?"
)
_DATE_LINE = re.compile(r"^\s*" + _DATE.pattern + r"\s*$")
_SOURCE_DATE = re.compile(r"^(?P<src>[^|｜]{2,24}?)\s*[|｜]\s*(?P<date>" + _DATE.pattern + r")")
_LEAD_BYLINE = re.compile(
    r"^(?P<src>\S{2,16}?)\s+(?P<author>[\u4e00-\u9fff]{2,4})\s+[\u4e00-\u9fff]{2,4}(?:报道|報道|讯|訊)\s*"
)
_REPORTER_OF = re.compile(r"《([^》]{2,12})》(?:记者|記者)")
_SENTENCE_END = re.compile(r"[。！？!?]")
_QUOTES = "“”\"「」『』‘’'"


def _date(match: re.Match, tz: ZoneInfo) -> datetime | None:
    y, mo, d, h, mi, s, oh, om = match.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
    except ValueError:
        return None
    if oh:
        sign = -1 if oh.startswith("-") else 1
        offset = timedelta(hours=abs(int(oh)), minutes=int(om)) * sign
        return dt.replace(tzinfo=timezone(offset))
    return dt.replace(tzinfo=tz)


def _front_matter(text: str) -> tuple[dict, str]:
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end < 0:
        return {}, text
    try:
        meta = yaml.safe_load(text[3:end]) or {}
    except yaml.YAMLError:
        meta = {}
    return (meta if isinstance(meta, dict) else {}), text[end + 4 :]


def _derive_title(body: str) -> str:
    first = _SENTENCE_END.split(body, maxsplit=1)[0].strip().strip(_QUOTES).strip()
    first = first.lstrip(_QUOTES)
    if len(first) <= 40:
        return first
    cut = max(first.rfind(p, 0, 40) for p in "，、,；;：:")
    return first[:cut] if cut >= 20 else first[:40] + "…"


def parse_article(text: str, *, tz: ZoneInfo) -> ParsedArticle:
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        raise ValueError("empty file")
    meta, body = _front_matter(text)
    url, body = _take_url(body)
    if looks_like_html(body) or len(_TAGS.findall(body[:5000])) >= 3:
        body = html_to_text(body)
    lines = strip_boilerplate(body.split("\n"))
    _check_readable(lines)
    head = _Head(source=source_note(body), published=_meta_date(meta.get("date"), tz))
    title = str(meta["title"]).strip() if meta.get("title") else None
    if title is None:
        title, lines = _title_line(lines)
        lines = _take_bylines(lines, head, tz)
    if not lines:
        raise ValueError("a title but no article text")
    m = _LEAD_BYLINE.match(lines[0])
    if m:
        head.source = head.source or m.group("src")
        head.author = m.group("author")
        lines[0] = lines[0][m.end() :]
    if head.source is None:
        m = _REPORTER_OF.search("\n".join(lines[:6]))
        head.source = m.group(1) if m else None
    title_derived = title is None
    if title is None:
        title = _derive_title(lines[0])
    title = strip_farm_prefix(title)
    return ParsedArticle(title=clean_line(title, 500), body=clean_text("\n".join(lines)),
                         source=clean_line(head.source, 200) or None, author=clean_line(head.author, 200) or None,
                         published=head.published, url=clean_line(url, 2000) or None, title_derived=title_derived)


@dataclass
class _Head:
    """What the lines above the text say about it, filled in as they are read."""

    source: str | None = None
    published: datetime | None = None
    author: str | None = None


def _take_url(body: str) -> tuple[str | None, str]:
    """A line that is only a URL is the article's address, not its text."""
    url = None
    kept = []
    for line in body.split("\n"):
        m = _URL_LINE.match(line.strip())
        if m:
            url = url or m.group(1)
        else:
            kept.append(line)
    return url, "\n".join(kept)


def _check_readable(lines: list[str]) -> None:
    if not lines:
        raise ValueError("no article text after removing tags and boilerplate")
    joined = "".join(lines)
    odd = sum(ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t") or 0x7F <= ord(ch) < 0xA0 for ch in joined)
    if odd > 0.02 * len(joined):
        raise ValueError("not readable text (undecodable bytes): is this an article file?")
    if not re.search(r"[\u4e00-\u9fffA-Za-z]{4}", joined):
        raise ValueError("no words found: is this an article file?")


def _meta_date(value: object, tz: ZoneInfo) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    m = _DATE.search(str(value))
    return _date(m, tz) if m else None


def _title_line(lines: list[str]) -> tuple[str | None, list[str]]:
    first = lines[0]
    if len(lines) > 1 and lines[0] != lines[1] and lines[0].endswith(lines[1]) and len(lines[1]) >= 6:
        return lines[1], lines[2:]  # "分类 标题" then "标题"
    if len(first) <= 64 and not first.endswith("。") and len(lines) > 1:
        return first, lines[1:]
    return None, lines


def _take_bylines(lines: list[str], head: _Head, tz: ZoneInfo) -> list[str]:
    """Bylines right under the title: "来源 | 日期", a date, a view count, a source name."""
    while lines[:1]:
        line = lines[0]
        m = _SOURCE_DATE.match(line)
        if m:
            head.source = head.source or m.group("src").strip()
            found = _DATE.search(m.group("date"))
            head.published = head.published or (_date(found, tz) if found else None)
        elif _DATE_LINE.match(line):
            found = _DATE.search(line)
            head.published = head.published or (_date(found, tz) if found else None)
        elif re.fullmatch(r"\d{1,7}", line):
            pass  # view count
        elif len(line) <= 12 and len(lines) > 1 and (_DATE_LINE.match(lines[1]) or _SOURCE_DATE.match(lines[1])):
            head.source = head.source or line
        else:
            break
        lines = lines[1:]
    return lines
