"""Decoding feed bytes the way Chinese feeds need.

The ladder: config override → BOM → (nearly) valid UTF-8 → HTTP charset → XML declaration → HTML
meta → detection, and when nothing fits completely, a choice by how many characters each loses.
A declared GB2312/GBK is decoded as GB18030 (a superset: portals routinely put GBK-only
characters in "gb2312" feeds) and Big5 as Big5-HKSCS for the same reason. When the declared
encoding does not fit the bytes, the next rung is tried, so a feed that lies still gets
readable titles.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Literal

How = Literal["override", "bom", "http", "xml", "meta", "detected", "lossy"]

SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030", "euc-cn": "gb18030",
    "gb_2312-80": "gb18030", "csgb2312": "gb18030", "hz-gb-2312": "gb18030",
    "big5": "big5hkscs", "big5-hkscs": "big5hkscs", "cp950": "big5hkscs", "x-x-big5": "big5hkscs",
    "ascii": "utf-8", "us-ascii": "utf-8", "iso-8859-1": "cp1252", "latin-1": "cp1252",  # as browsers do
}
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.I)
_DETECT = ("utf-8", "gb18030", "big5hkscs")


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # the codec that worked
    declared: str | None  # what the feed claimed, if anything
    how: How

    @property
    def mismatch(self) -> bool:
        """The bytes are not in the encoding the feed declared."""
        return self.declared is not None and effective(self.declared) != self.encoding


def effective(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().strip("'\"").lower()
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return None
    return SUPERSETS.get(name) or SUPERSETS.get(canonical) or canonical


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", content_type, re.I)
    return m.group(1) if m else None


def _try(data: bytes, codec: str | None) -> str | None:
    if not codec:
        return None
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


_ASCII_BYTES = bytes(range(0x80))


def decode(data: bytes, *, http_charset: str | None = None, override: str | None = None) -> Decoded:
    forced = effective(override)
    if forced:
        text = _try(data, forced)
        if text is not None:
            return Decoded(text, forced, override, "override")
    for bom, codec in BOMS:
        if data.startswith(bom):
            text = _try(data, codec)
            if text is not None:
                return Decoded(text.lstrip("\ufeff"), codec, None, "bom")
    head = data[:2048]
    xml = _XML_DECL.search(head)
    meta = _META.search(head)
    declared: list[tuple[How, str | None]] = [
        ("http", http_charset),
        ("xml", xml.group(1).decode("ascii") if xml else None),
        ("meta", meta.group(1).decode("ascii") if meta else None),
    ]
    first_declared = next((name for _, name in declared if name), None)
    # The bytes' own evidence first: non-ASCII text that is valid UTF-8, or valid but for a few
    # stray bytes, is UTF-8 whatever a label says (GBK or Big5 text never comes close by chance;
    # GB18030, on the other hand, decodes nearly any bytes, so it cannot be the test).
    if not data.isascii():
        text = data.decode("utf-8", errors="replace")
        lost = text.count("\ufffd")
        if not lost or lost <= LOSSY_RATE * len(data.translate(None, _ASCII_BYTES)):  # the bytes >= 0x80
            how: How = next((h for h, n in declared if effective(n) == "utf-8"), "detected")
            return Decoded(text, "utf-8", first_declared, "lossy" if lost else how)
    for how, name in declared:
        fits = effective(name)
        text = _try(data, fits)
        if text is not None and fits is not None:
            return Decoded(text, fits, first_declared, how)
    for codec in _DETECT[1:]:
        text = _try(data, codec)
        if text is not None:
            return Decoded(text, codec, first_declared, "detected")
    return _lossy(data, [c for _, n in declared if (c := effective(n))], first_declared)


LOSSY_RATE = 0.01  # lost characters per non-ASCII byte that still mean "the right codec, a few bad bytes"


def _lossy(data: bytes, declared: list[str], first_declared: str | None) -> Decoded:
    """Nothing fits completely (a bad byte, a feed cut off mid-character) and it is not nearly
    UTF-8: the declared codec if it fits nearly everywhere, else whichever candidate loses the
    fewest characters, a declared one winning ties."""
    non_ascii = max(1, sum(b >= 0x80 for b in data))
    candidates = list(dict.fromkeys([*declared, "gb18030", "big5hkscs", "utf-8"]))
    decoded = {c: data.decode(c, errors="replace") for c in candidates}
    losses = {c: t.count("\ufffd") for c, t in decoded.items()}
    if declared and losses[declared[0]] <= LOSSY_RATE * non_ascii:
        return Decoded(decoded[declared[0]], declared[0], first_declared, "lossy")
    ranked = sorted(candidates, key=lambda c: (losses[c], c not in declared, candidates.index(c)))
    return Decoded(decoded[ranked[0]], ranked[0], first_declared, "lossy")


def as_utf8_xml(decoded: Decoded) -> bytes:
    """UTF-8 bytes with the XML declaration saying so, for feedparser, which then decodes nothing itself."""
    text = re.sub(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""", r'\1"utf-8"', decoded.text, count=1)
    return text.encode("utf-8")


def decode_bytes(data: bytes) -> str:
    """Bytes of an article file in whatever encoding it came in (UTF-8, GBK, Big5)."""
    return decode(data).text
