"""OPML, the format every feed reader imports and exports: a list of feeds, grouped in folders.

Read with lxml's parser set not to resolve entities or touch the network (an OPML file is
untrusted input like a feed); written with the standard library."""
from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

from lxml import etree

MAX_OUTLINES = 10_000


@dataclass(frozen=True)
class OpmlFeed:
    name: str
    url: str
    category: str | None = None


class NotOpml(ValueError):
    pass


def read(data: bytes) -> list[OpmlFeed]:
    """Every outline with an ``xmlUrl``, its folder the nearest enclosing outline's text."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise NotOpml(f"not well-formed XML: {e}") from None
    if root.tag != "opml" or root.find("body") is None:
        raise NotOpml("no <opml><body>: not an OPML file")
    out: list[OpmlFeed] = []
    for node in root.iter("outline"):
        url = (node.get("xmlUrl") or "").strip()
        if not url:
            continue
        name = (node.get("title") or node.get("text") or url).strip()
        parent = node.getparent()
        folder = (parent.get("text") or parent.get("title")) if parent is not None and parent.tag == "outline" else None
        out.append(OpmlFeed(" ".join(name.split())[:100], url, folder.strip()[:100] if folder else None))
        if len(out) > MAX_OUTLINES:
            raise NotOpml(f"more than {MAX_OUTLINES:,} feeds")
    return out


def write(feeds: list[OpmlFeed], title: str = "monitor feeds") -> bytes:
    opml = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(opml, "head"), "title").text = title
    body = ET.SubElement(opml, "body")
    folders: dict[str, ET.Element] = {}
    for f in feeds:
        parent = body
        if f.category:
            if f.category not in folders:
                folders[f.category] = ET.SubElement(body, "outline", text=f.category, title=f.category)
            parent = folders[f.category]
        ET.SubElement(parent, "outline", type="rss", text=f.name, title=f.name, xmlUrl=f.url)
    ET.indent(opml)
    return ET.tostring(opml, encoding="utf-8", xml_declaration=True) + b"\n"
