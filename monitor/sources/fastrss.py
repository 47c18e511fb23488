"""A fast path for plain RSS 2.0, the format of nearly every feed a poll meets (RSSHub, portals,
Google News): the same values feedparser would give, read with lxml in a fraction of the time.

Why: in a cold poll feedparser was a quarter of all the CPU (15 ms a 50-item feed, most of it in
its Python SAX handlers), and the poll cannot be within twice bare feedparser's time while it
pays feedparser's whole cost and then does its own work on top.

Only what this module can read exactly as feedparser does is read here: a well-formed document
without a DTD or ``xml:base``, an ``<rss>`` root, and channel and item elements from a fixed list,
each at most once where feedparser would keep the last of several, each holding text only.
Anything else (Atom, RDF, a namespace or element not listed, markup inside a title, a broken
document) returns None and goes to feedparser whole. tests/sources/test_fastrss.py checks that
every feed of the corpora this path takes gives the entries feedparser's gives.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from lxml import etree

_CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_ATOM = "{http://www.w3.org/2005/Atom}"

# Item elements by the key feedparser gives their text (description is its summary).
_ITEM = {"title": "title", "link": "link", "description": "summary", "guid": "id", "pubDate": "published",
         "author": "author", "comments": "comments", "source": "source", f"{_CONTENT}encoded": "content",
         f"{_DC}creator": "author", f"{_DC}date": "updated"}
# Read by neither, and harmless to feedparser's state:
_ITEM_IGNORED = frozenset({"category", "enclosure"})
_CHANNEL = {"title": "title", "link": "link", "generator": "generator", "ttl": "ttl"}
_CHANNEL_IGNORED = frozenset({"description", "language", "copyright", "pubDate", "lastBuildDate", "category",
                              "docs", "image", "rating", "skipHours", "skipDays", "cloud", "webMaster",
                              "managingEditor", "{http://www.itunes.com/dtds/podcast-1.0.dtd}category"})
_IMAGE = frozenset({"url", "title", "link", "width", "height", "description"})
_URI = frozenset({"link", "comments"})  # feedparser resolves these (and a permalink guid) against no base
_URI_FIXER = re.compile("^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")  # feedparser's, applied in that resolve
_C1 = re.compile("[\x80-\x9f]")
_NAMED_REF = re.compile("&([A-Za-z0-9_]+);")

_HEAD = 4096  # bytes: an <rss> root further in (behind long comments) is left to feedparser
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class _NotPlain(Exception):
    """Something feedparser reads in a way this module does not copy: feedparser decides."""


@dataclass
class Parsed:
    """The part of feedparser's result the adapter reads (``rss.entries_of``, ``parse_feed``)."""

    feed: dict[str, Any]
    entries: list[dict[str, Any]]
    version: str = "rss20"
    bozo: bool = False  # well-formed, or it would not be here

    def get(self, key: str, default: Any = None) -> Any:
        """feedparser's other keys (``bozo_exception``): none for a well-formed document."""
        return default


def parse(data: bytes) -> Parsed | None:
    """feedparser's values for a plain RSS 2.0 document; None for anything else."""
    if b"<rss" not in data[:_HEAD] or b"xml:base" in data:  # an Atom feed or a page is not parsed twice
        return None
    try:
        tree = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    try:
        return _document(tree)
    except _NotPlain:
        return None


def _document(root: Any) -> Parsed:
    docinfo = root.getroottree().docinfo
    if root.tag != "rss" or docinfo.doctype or docinfo.internalDTD is not None:
        raise _NotPlain
    channels = _children(root)
    if len(channels) != 1 or channels[0].tag != "channel" or channels[0].attrib:
        raise _NotPlain
    feed: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    for el in _children(channels[0]):
        tag = el.tag
        if tag == "item":
            entries.append(_item(el))
        elif tag in _CHANNEL:
            key = _CHANNEL[tag]
            if entries or key in feed:  # after an item, or twice: feedparser's depth rules decide
                raise _NotPlain
            feed[key] = _value(el, key, entry=False)
        elif tag == f"{_ATOM}link":
            if el.get("rel") not in ("self", "hub") or len(el):  # an alternate link is the feed's link
                raise _NotPlain
        elif tag not in _CHANNEL_IGNORED or not _plain_ignored(el):
            raise _NotPlain
    return Parsed(feed, entries)


def _plain_ignored(el: Any) -> bool:
    """A channel element the adapter does not read, holding nothing that could move feedparser's
    idea of where it is: text, or for an ``<image>`` its usual leaves."""
    if el.tag != "image":
        return not len(el)
    return all(c.tag in _IMAGE and not len(c) for c in _children(el))


def _children(el: Any) -> list[Any]:
    """Element children; comments and processing instructions between them are skipped."""
    return [c for c in el if isinstance(c.tag, str)]


def _item(el: Any) -> dict[str, Any]:
    if el.attrib:
        raise _NotPlain
    entry: dict[str, Any] = {}
    permalink = False
    for child in _children(el):
        tag = child.tag
        key = _ITEM.get(tag)
        if key is None:
            if tag in _ITEM_IGNORED and not len(child):  # (an <image> inside a <category> is an item's)
                continue
            raise _NotPlain
        if key in entry or (key == "summary" and "content" in entry):
            raise _NotPlain  # twice (or content before description): feedparser's order rules decide
        if key == "id":
            ispermalink = child.get("isPermaLink", child.get("ispermalink", "true"))
            permalink = ispermalink == "true"
        value = _value(child, key, entry=True, uri=key in _URI or (key == "id" and permalink))
        if key == "content":
            entry["content"] = [{"value": value}]
        elif key == "source":
            entry["source"] = {"title": value} if value else {}
        elif key in ("published", "updated"):
            entry[key] = value
            entry[f"{key}_parsed"] = _parse_date(value)
        else:
            entry[key] = value
    if "summary" not in entry and "content" in entry:
        entry["summary"] = entry["content"][0]["value"]  # feedparser copies HTML content to the summary
    if permalink and "link" not in entry:
        entry["link"] = entry["id"]
    return entry


def _value(el: Any, key: str, *, entry: bool, uri: bool = False) -> str:
    """An element's text as feedparser's ``pop`` leaves it (strict parser, no sanitising)."""
    if len(el) or (el.attrib and key not in ("id", "source")):
        raise _NotPlain  # markup inside, or attributes feedparser may read
    if key == "author" and "@" in (el.text or ""):
        raise _NotPlain  # feedparser takes an e-mail address apart
    out = (el.text or "").strip()
    if (uri or (key == "link" and not entry)) and out:
        out = _URI_FIXER.sub(r"\1\3", out)
    if not out.isascii():  # (both steps leave ASCII alone)
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):  # feedparser's repair of
            out = out.encode("iso-8859-1").decode("utf-8")  # UTF-8 read as Latin-1
        if _C1.search(out):  # translate() is slow on a long text, and C1 controls are rare
            out = out.translate(_cp1252)
    if key == "link":
        if entry:
            out = out.replace("&amp;", "&")
        out = _NAMED_REF.sub(r"&\g<1>", out)
    return out
