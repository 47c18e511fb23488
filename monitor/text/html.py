"""HTML → readable text with a real parser (lxml), for feed entries and pages.

Scripts, styles and other non-content elements are dropped; block elements become line breaks
so paragraphs survive, which boilerplate removal and snippets rely on.
"""
from __future__ import annotations

import re

import lxml.html
from lxml import etree

DROP = {"script", "style", "noscript", "template", "iframe", "object", "embed", "head", "svg", "canvas",
        "select", "button", "form", "input", "textarea"}
BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section",
         "article", "blockquote", "pre", "header", "footer", "aside", "nav", "dd", "dt", "dl", "figure",
         "figcaption", "hr", "main", "address", "center", "td", "th"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")


def looks_like_html(text: str) -> bool:
    return bool(re.search(r"<(p|div|br|span|a|html|body|img|table|strong|em|h[1-6])\b[^>]*>", text[:20000], re.I))


def html_to_text(html: str) -> str:
    if not html or not html.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    parts: list[str] = []

    def walk(el) -> None:
        tag = el.tag if isinstance(el.tag, str) else None
        if tag is None:  # comments, processing instructions
            if el.tail:
                parts.append(el.tail)
            return
        tag = tag.lower()
        if tag in DROP:
            if el.tail:
                parts.append(el.tail)
            return
        block = tag in BLOCK
        if block:
            parts.append("\n")
        if el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
        if block:
            parts.append("\n")
        if el.tail:
            parts.append(el.tail)

    walk(root)
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)
