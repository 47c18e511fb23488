"""Text folded for comparison: the same article in another script, width or spacing folds to the
same string. Display always uses the original text; only matching and fingerprints use this.
"""
from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import opencc

# Everything that is neither a letter nor a digit (any script): punctuation, symbols, spaces.
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


@lru_cache(maxsize=1)
def _regional() -> opencc.OpenCC:
    return opencc.OpenCC("tw2sp")


def to_mainland(text: str) -> str:
    """Traditional script to simplified with Taiwan's vocabulary folded too (軟體 → 软件, 宣告 →
    声明): OpenCC's t2s converts characters only, and a Taiwan-style reprint kept its words. Used
    for the dedupe form, where both sides of a comparison are folded alike."""
    return _regional().convert(text)


def squash(text: str) -> str:
    """The dedupe form: NFKC, script and regional vocabulary folded, case-folded, and every
    punctuation mark and space removed. Fingerprints and content hashes are made of it."""
    return _NOT_WORD.sub("", to_mainland(unicodedata.normalize("NFKC", text)).casefold())


def squash_nfkc(text: str) -> str:
    """squash() of a text already NFKC-normalised (saves a second pass over a long article)."""
    return _NOT_WORD.sub("", to_mainland(text).casefold())


def content_hash(text: str) -> str:
    hashes = getattr(_primed, "hashes", None)
    if hashes is not None and (digest := hashes.get(text)) is not None:
        return digest
    return hashlib.sha256(squash(text).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# The matching form: NFKC, traditional → simplified, case-folded, punctuation variants and white
# space unified, with an optional map back to the original characters so that hits can be
# highlighted where the reader sees them.

# Punctuation that Chinese and Western keyboards type differently for the same meaning.
_PUNCT = {"“": '"', "”": '"', "„": '"', "‟": '"', "「": '"', "」": '"', "『": '"', "』": '"', "«": '"',
          "»": '"', "‘": "'", "’": "'", "、": ",", "。": ".", "～": "~", "—": "-", "–": "-", "‐": "-",
          "−": "-", "・": "·", "•": "·", "【": "[", "】": "]", "《": "<", "》": ">", "〈": "<", "〉": ">"}
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"}
# Letters and digits of scripts that write spaces between words: a space between two of them is
# kept (it separates "new citizens"), any other white space is dropped (消费 金融 = 消费金融).
WORDCHAR = "0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff"
_WS_RUN = re.compile(r"\s+")
_WS_DROP = re.compile(f"(?<![{WORDCHAR}]) | (?![{WORDCHAR}])")


class _CharTable(dict):
    """str.translate table filled lazily: per character NFKC, case-fold, punctuation variants."""

    def __missing__(self, code: int):
        ch = chr(code)
        if 0xD800 <= code < 0xE000:  # a lone surrogate: no encoder (OpenCC's included) takes one
            out: str | int | None = 0xFFFD
        elif ch in _INVISIBLE:
            out = None  # deleted
        else:
            folded = "".join(_PUNCT.get(c, c) for c in unicodedata.normalize("NFKC", ch).casefold())
            folded = " " if folded.isspace() else folded
            out = code if folded == ch else folded
        if out is None or (isinstance(out, str) and len(out) != 1):
            _IRREGULAR.add(ch)
        self[code] = out
        return out


_IRREGULAR: set[str] = set()  # characters the table deletes or expands (filled with the table)
_TABLE = _CharTable()

# The same table as an array over the Basic Multilingual Plane, filled 256 code points at a time
# as text needs them: folding a long text is then one vectorised look-up instead of a dictionary
# look-up per character (19 µs instead of 44 for 500 characters of a seed article). A character the table deletes or
# expands is marked _SPECIAL, and such a text takes str.translate.
_SPECIAL = np.uint32(0xFFFFFFFF)
_ARRAY = np.zeros(0x10000, dtype=np.uint32)
_FILLED = np.zeros(0x100, dtype=bool)
_ARRAY_FROM = 64  # characters: a shorter text is folded faster by str.translate


def _fill(block: int) -> None:
    for code in range(block << 8, (block + 1) << 8):
        out = _TABLE[code]
        _ARRAY[code] = out if isinstance(out, int) else ord(out) if isinstance(out, str) and len(out) == 1 else _SPECIAL
    _FILLED[block] = True


def fold(text: str) -> str:
    """``text.translate(_TABLE)``: per character NFKC, case-fold, punctuation variants."""
    if len(text) < _ARRAY_FROM:
        return text.translate(_TABLE)
    try:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:  # a lone surrogate
        return text.translate(_TABLE)
    if codes.max() > 0xFFFF:
        return text.translate(_TABLE)
    blocks = codes >> 8
    if not _FILLED[blocks].all():
        for block in np.unique(blocks[~_FILLED[blocks]]).tolist():
            _fill(block)
    out = _ARRAY[codes]
    if (out == _SPECIAL).any():
        return text.translate(_TABLE)
    return out.tobytes().decode("utf-32-le")


_WORD = frozenset(c for lo, hi in (("0", "9"), ("a", "z"), ("\u00c0", "\u024f"), ("\u0370", "\u03ff"),
                                     ("\u0400", "\u04ff")) for c in map(chr, range(ord(lo), ord(hi) + 1)))


def _spaces(s: str) -> str:
    """``_WS_DROP.sub("", _WS_RUN.sub(" ", s))`` for a folded text, where every white space is
    " ": a space is kept once between two word characters, dropped elsewhere."""
    if " " not in s:  # most Chinese text
        return s
    parts = [p for p in s.split(" ") if p]
    out = parts[:1]
    for p in parts[1:]:
        if out[-1][-1] in _WORD and p[0] in _WORD:
            out.append(" ")
        out.append(p)
    return "".join(out)


def match_form(text: str) -> str:
    """The string the matcher searches: fast (vectorised fold, OpenCC, white space only if any)."""
    forms = getattr(_primed, "forms", None)
    if forms is not None and (form := forms.get(text)) is not None:
        return form
    return _spaces(to_simplified(fold(text)))


_primed = threading.local()


@contextmanager
def primed(forms: Mapping[str, str], hashes: Mapping[str, str]) -> Iterator[None]:
    """Within the block, on this thread, ``match_form`` answers from ``forms`` and
    ``content_hash`` from ``hashes`` (text → its form or hash, computed earlier in a worker
    process): storing, matching and indexing one chunk reuse that work instead of each
    normalising the same text again."""
    before = getattr(_primed, "forms", None), getattr(_primed, "hashes", None)
    _primed.forms, _primed.hashes = forms, hashes
    try:
        yield
    finally:
        _primed.forms, _primed.hashes = before


def match_form_with_map(text: str) -> tuple[str, Sequence[int]]:
    """match_form(text) and, per character of it, the index of the original character it came from.
    Used only for items that matched, to place highlights."""
    s1 = fold(text)  # also fills the table, and _IRREGULAR, for every character of text
    origin: Sequence[int]
    if _IRREGULAR.isdisjoint(text):
        origin = range(len(text))  # the common case: every character maps to one character
    else:
        origin = []
        for i, ch in enumerate(text):
            origin.extend([i] * len(ch.translate(_TABLE)))
    s2 = to_simplified(s1)
    if len(s2) != len(s1):  # OpenCC rewrote a phrase to another length: align the two strings
        origin = _align(s1, s2, origin)
    if " " not in s2:
        return s2, origin
    s3, origin = _sub_with_map(_WS_RUN, " ", s2, origin)
    return _sub_with_map(_WS_DROP, "", s3, origin)


def _sub_with_map(regex: re.Pattern, repl: str, s: str, origin: Sequence[int]) -> tuple[str, list[int]]:
    out: list[str] = []
    out_origin: list[int] = []
    last = 0
    for m in regex.finditer(s):
        out.append(s[last:m.start()])
        out_origin.extend(origin[last:m.start()])
        if repl:
            out.append(repl)
            out_origin.extend([origin[m.start()]] * len(repl))
        last = m.end()
    out.append(s[last:])
    out_origin.extend(origin[last:])
    return "".join(out), out_origin


def _align(a: str, b: str, origin: Sequence[int]) -> list[int]:
    from difflib import SequenceMatcher

    result: list[int] = []
    for _tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        for k in range(j2 - j1):
            src = i1 + min(k, max(i2 - i1 - 1, 0))
            result.append(origin[min(src, len(origin) - 1)] if origin else 0)
    return result
