"""Text folded for comparison: the same article in another script, width or spacing folds to the
same string. Display always uses the original text; only matching and fingerprints use this.
"""
from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import overload

import numpy as np
import opencc

# Everything that is neither a letter nor a digit (any script): punctuation, symbols, spaces.
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """OpenCC's ``t2s``, skipped for a text with none of the characters it changes (t2s_chars)."""
    if text.isascii() or not _converts(text):  # isascii() reads a flag: free
        return text
    return _convert(_t2s(), text)


_ALONE, _IN_PHRASES = 2, 1  # a listed character t2s changes on its own; one it changes only in phrases
_Places = dict[str, tuple[tuple[int, str], ...]]  # a neighbouring character -> (offset, phrase)
PLACES_MAX = 16  # phrase-only characters in one text whose phrases are looked for: more go to OpenCC


@dataclass(frozen=True)
class _T2S:
    """The characters t2s changes (t2s_chars): as a table by code point up to the highest listed
    (_ALONE, or _IN_PHRASES), as a set, and, for the few it changes only inside phrases (覆 in 反覆,
    not in 覆盖; 沈 in 擊沈, not in 沈阳), the phrases by the character after it, or before it
    where it ends the phrase: a mainland text with such a character skips OpenCC unless one of
    its phrases is there."""

    table: np.ndarray
    chars: frozenset[str]
    after: dict[str, _Places]
    before: dict[str, _Places]


@lru_cache(maxsize=1)
def _t2s_table() -> _T2S:
    from .t2s_chars import load, load_phrases

    listed, phrases = load(), load_phrases()
    table = np.zeros(max(map(ord, listed)) + 1, dtype=np.uint8)
    table[[ord(c) for c in listed]] = _ALONE
    table[[ord(c) for c in phrases]] = _IN_PHRASES
    after: dict[str, dict[str, list[tuple[int, str]]]] = {}
    before: dict[str, dict[str, list[tuple[int, str]]]] = {}
    for c, ps in phrases.items():
        for p in ps:
            for k in (k for k, ch in enumerate(p) if ch == c):
                side, key = (after, p[k + 1]) if k + 1 < len(p) else (before, p[k - 1])
                side.setdefault(c, {}).setdefault(key, []).append((k, p))
    return _T2S(table, frozenset(listed), *({c: {n: tuple(v) for n, v in by.items()} for c, by in side.items()}
                                            for side in (after, before)))


def _converts(text: str) -> bool:
    """Whether ``t2s`` may change ``text``: it holds a character t2s changes on its own, or one
    it changes in a phrase that is there."""
    t2s = _t2s_table()
    if len(text) < _ARRAY_FROM:
        return not t2s.chars.isdisjoint(text) and _changes_at(text, [i for i, c in enumerate(text) if c in t2s.chars])
    try:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:  # a lone surrogate: OpenCC decides
        return True
    marks = t2s.table.take(codes, mode="clip")  # above the table: its last entry, which is listed
    top = marks.max()
    return bool(top) if top != _IN_PHRASES else _changes_at(text, np.flatnonzero(marks).tolist())


def _changes_at(text: str, places: list[int]) -> bool:
    """Whether t2s may change ``text``, whose listed characters are at ``places``: not if each is
    one t2s changes only in phrases and none of its phrases is there."""
    if len(places) > PLACES_MAX:
        return True
    t2s = _t2s_table()
    for i in places:
        c = text[i]
        if c not in t2s.after and c not in t2s.before:
            return True  # changed on its own (or above the table)
        near = (*t2s.after.get(c, {}).get(text[i + 1:i + 2], ()), *t2s.before.get(c, {}).get(text[i - 1:i], ()))
        if any(i >= k and text.startswith(p, i - k) for k, p in near):
            return True
    return False


@lru_cache(maxsize=1)
def _regional() -> opencc.OpenCC:
    return opencc.OpenCC("tw2sp")


def to_mainland(text: str) -> str:
    """Traditional script to simplified with Taiwan's vocabulary folded too (軟體 → 软件, 宣告 →
    声明): OpenCC's t2s converts characters only, and a Taiwan-style reprint kept its words. Used
    for the dedupe form, where both sides of a comparison are folded alike."""
    return text if text.isascii() else _convert(_regional(), text)


def _convert(converter: opencc.OpenCC, text: str) -> str:
    """OpenCC reads its input as a C string: a text holding a NUL came back cut short there, all
    after it lost (two articles alike up to a NUL had one content hash). Each part is converted
    on its own."""
    if "\x00" in text:
        return "\x00".join(converter.convert(part) for part in text.split("\x00"))
    return converter.convert(text)


# Full-width ASCII and the ideographic space: the characters that keep most Chinese text from
# being NFKC already (，：（）！？ and the full-width digits and letters).
_FULL_WIDTH_FROM, _FULL_WIDTH_TO = 0xFF01, 0xFF5E
_FULL_WIDTH_SHIFT = np.uint32(0xFF01 - 0x21)
_IDEOGRAPHIC_SPACE = np.uint32(0x3000)


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, two to three times faster on Chinese text.

    Python's NFKC takes its slow path for a whole text as soon as one character changes, and
    nearly every Chinese text has full-width punctuation. Those characters are mapped first, in
    one vectorised pass, to what NFKC makes of them (a single ASCII character, their full
    decomposition, so the result of NFKC is unchanged); what is left is usually NFKC already,
    which ``is_normalized`` tells at C speed. Anything else still takes ``normalize``."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    if len(text) >= _ARRAY_FROM:
        try:
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).copy()
        except UnicodeEncodeError:  # a lone surrogate
            return unicodedata.normalize("NFKC", text)
        wide = (codes >= _FULL_WIDTH_FROM) & (codes <= _FULL_WIDTH_TO)
        codes[wide] -= _FULL_WIDTH_SHIFT
        codes[codes == _IDEOGRAPHIC_SPACE] = 0x20
        text = codes.tobytes().decode("utf-32-le")
        if unicodedata.is_normalized("NFKC", text):
            return text
    return unicodedata.normalize("NFKC", text)


def squash(text: str) -> str:
    """The dedupe form: NFKC, script and regional vocabulary folded, case-folded, and every
    punctuation mark and space removed. Fingerprints and content hashes are made of it."""
    return _NOT_WORD.sub("", to_mainland(nfkc(text)).casefold())


def content_hash(text: str) -> str:
    hashes = getattr(_primed, "hashes", None)
    if hashes is not None and (digest := hashes.get(text)) is not None:
        return digest
    return hash_squashed(squash(text))


def hash_squashed(squashed: str) -> str:
    """The content hash of a text already in its ``squash`` form."""
    return hashlib.sha256(squashed.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# The matching form: NFKC, traditional → simplified, case-folded, punctuation variants and white
# space unified, with an optional map back to the original characters so that hits can be
# highlighted where the reader sees them.

# Punctuation that Chinese and Western keyboards type differently for the same meaning.
_PUNCT = {"“": '"', "”": '"', "„": '"', "‟": '"', "「": '"', "」": '"', "『": '"', "』": '"', "«": '"',
          "»": '"', "‘": "'", "’": "'", "、": ",", "。": ".", "～": "~", "—": "-", "–": "-", "‐": "-",
          "−": "-", "・": "·", "•": "·", "【": "[", "】": "]", "《": "<", "》": ">", "〈": "<", "〉": ">"}
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"}


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
            _MARKED.add(ch)
        elif (chr(out) if isinstance(out, int) else out) in _t2s_table().chars:
            _MARKED.add(ch)
        self[code] = out
        return out


_IRREGULAR: set[str] = set()  # characters the table deletes or expands (filled with the table)
# Those, and the characters that fold to one t2s changes: a short text with none of them is
# folded one to one and left alone by t2s, as one set look-up tells.
_MARKED: set[str] = set()
_TABLE = _CharTable()

# The same table as an array over the Basic Multilingual Plane, filled 256 code points at a time
# as text needs them: folding a long text is then one vectorised look-up instead of a dictionary
# look-up per character (14 µs instead of 34 for 500 characters of a seed article, best of 5). A
# character the table deletes or expands is marked _SPECIAL, and such a text takes str.translate.
_SPECIAL = np.uint32(0xFFFFFFFF)
_UNFILLED = np.uint32(0xFFFFFFFE)  # both above any code point: one max() tells "neither" apart
_ARRAY = np.full(0x10000, _UNFILLED, dtype=np.uint32)
_ARRAY_FROM = 64  # characters: a shorter text is folded faster by str.translate


# A folded character that t2s changes (t2s_chars) carries one of these bits in the array: the
# maximum that finds an unfilled or special entry also tells whether OpenCC has anything to do, and
# a text without such a character (most mainland news) skips both the conversion and its own check.
_T2S_BIT = np.uint32(0x40000000)  # changed on its own
_PHRASE_BIT = np.uint32(0x20000000)  # changed only inside a phrase (覆, 沈): look for its phrases
_CODE_BITS = np.uint32(0x1FFFFF)


def _fill(codes: np.ndarray) -> None:
    """Fill the 256-code-point blocks of the table that ``codes`` touch and are not filled yet."""
    t2s = _t2s_table()
    for block in np.unique(codes[_ARRAY.take(codes) == _UNFILLED] >> 8).tolist():
        for code in range(block << 8, (block + 1) << 8):
            out = _TABLE[code]
            one = out if isinstance(out, int) else ord(out) if isinstance(out, str) and len(out) == 1 else None
            if one is None:
                _ARRAY[code] = _SPECIAL
            else:
                mark = int(t2s.table[one]) if one < len(t2s.table) else 0
                _ARRAY[code] = one | (int(_T2S_BIT) if mark == _ALONE else int(_PHRASE_BIT) if mark else 0)


def fold(text: str) -> str:
    """``text.translate(_TABLE)``: per character NFKC, case-fold, punctuation variants."""
    return _fold(text)[0]


def _fold(text: str) -> tuple[str, bool]:
    """fold(text), and whether every character became exactly one (so positions carry over)."""
    folded, one_to_one, _ = _fold_marked(text)
    return folded, one_to_one


def _fold_marked(text: str) -> tuple[str, bool, bool | None]:
    """_fold(text), and whether t2s may change the folded text (None: not known, ask to_simplified)."""
    if len(text) >= _ARRAY_FROM:
        try:
            encoded = text.encode("utf-16-le")
        except UnicodeEncodeError:  # a lone surrogate
            encoded = b""
        if len(encoded) == 2 * len(text):  # no surrogate pair: every character is in the table
            codes = np.frombuffer(encoded, dtype=np.uint16)
            out = _ARRAY.take(codes)
            top = out.max()
            if top == _UNFILLED:  # (a text with a special character takes translate anyway)
                _fill(codes)
                out = _ARRAY.take(codes)
                top = out.max()
            if top < _PHRASE_BIT:
                return out.tobytes().decode("utf-32-le"), True, False
            if top < _UNFILLED:
                folded = (out & _CODE_BITS).tobytes().decode("utf-32-le")
                return folded, True, top >= _T2S_BIT or _changes_at(folded, np.flatnonzero(out & _PHRASE_BIT).tolist())
    folded = text.translate(_TABLE)  # also fills _IRREGULAR and _MARKED for every character of text
    if _MARKED.isdisjoint(text):
        return folded, True, False
    return folded, _IRREGULAR.isdisjoint(text), None


_WORD = frozenset(c for lo, hi in (("0", "9"), ("a", "z"), ("\u00c0", "\u024f"), ("\u0370", "\u03ff"),
                                     ("\u0400", "\u04ff")) for c in map(chr, range(ord(lo), ord(hi) + 1)))


def _spaces(s: str) -> str:
    """White space of a folded text (where every white space is " "): a space is kept once
    between two word characters (it separates "new citizens"), dropped elsewhere (消费 金融 is
    消费金融). Word characters: letters and digits of scripts that write spaces between words."""
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
    return match_form_folded(text)[0]


Folded = tuple[str, bool]  # fold(text), and whether every character became exactly one


def match_form_folded(text: str) -> tuple[str, Folded | None]:
    """match_form(text), and the fold it was made from (None when a worker made the form): the
    highlights of a matched item start from that fold (``match_origin``) instead of folding again."""
    forms = getattr(_primed, "forms", None)
    if forms is not None and (form := forms.get(text)) is not None:
        return form, None
    folded, one_to_one, converts = _fold_marked(text)
    simplified = to_simplified(folded) if converts is None else _convert(_t2s(), folded) if converts else folded
    return _spaces(simplified), (folded, one_to_one)


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
    s1, one_to_one = _fold(text)
    # The common case: every character maps to one character.
    return _with_map(s1, range(len(text)) if one_to_one else _fold_origin(text))


def _with_map(s1: str, origin: Sequence[int]) -> tuple[str, Sequence[int]]:
    """The match form of a folded text ``s1`` whose characters came from ``origin``, and theirs."""
    s2 = to_simplified(s1)
    if len(s2) != len(s1):  # OpenCC rewrote a phrase to another length: align the two strings
        origin = _align(s1, s2, origin)
    if " " not in s2:
        return s2, origin
    kept = _Kept(len(s2), _dropped_spaces(s2))
    return _spaces(s2), kept if isinstance(origin, range) else [origin[i] for i in kept]


def match_origin(text: str, form: str, folded: Folded | None = None) -> Sequence[int]:
    """``match_form_with_map(text)[1]`` for ``form == match_form(text)``, mostly without OpenCC:
    when every character folds to one and OpenCC kept the length, the only moves are the dropped
    spaces, and they are where the folded text has them (OpenCC rewrites Chinese only, never a
    space or a Latin letter). A length that does not come out so means OpenCC rewrote a phrase to
    another length: then the map is made the long way. ``folded``: ``_fold(text)``, if known."""
    s1, one_to_one = folded or _fold(text)
    origin = range(len(text)) if one_to_one else _fold_origin(text)
    if " " not in s1:
        if len(s1) == len(form):
            return origin
    else:
        dropped = _dropped_spaces(s1)
        if len(s1) - len(dropped) == len(form):
            kept = _Kept(len(s1), dropped)
            return kept if one_to_one else [origin[i] for i in kept]
    return _with_map(s1, origin)[1]


def _dropped_spaces(s: str) -> list[int]:
    """The indices of the spaces ``_spaces(s)`` drops: every one but the last of a run between
    two word characters."""
    dropped: list[int] = []
    at = s.find(" ")
    while at >= 0:
        end = at + 1
        while end < len(s) and s[end] == " ":
            end += 1
        kept = at > 0 and end < len(s) and s[at - 1] in _WORD and s[end] in _WORD
        dropped.extend(range(at, end - 1 if kept else end))
        at = s.find(" ", end)
    return dropped


class _Kept(Sequence[int]):
    """The indices below ``length`` but ``dropped`` (sorted), each found when asked for: a
    highlight reads two entries of the map, and building the whole list (one entry per
    character) cost more than placing every span of the item (7.9 µs an item of the match bench)."""

    __slots__ = ("_dropped", "_end", "_length", "_steps")

    def __init__(self, length: int, dropped: list[int]):
        self._dropped, self._end = dropped, length
        self._length = length - len(dropped)
        # Kept entry i is i plus the dropped indices before it, and the k-th dropped index d comes
        # before entry i exactly when d - k <= i: a bisection over these, which never decrease.
        self._steps = [d - k for k, d in enumerate(dropped)]

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[int]:
        """A run at a time (a map composed with another reads every entry)."""
        last = 0
        for d in self._dropped:
            yield from range(last, d)
            last = d + 1
        yield from range(last, self._end)

    @overload
    def __getitem__(self, i: int) -> int: ...

    @overload
    def __getitem__(self, i: slice) -> list[int]: ...

    def __getitem__(self, i: int | slice) -> int | list[int]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._length))]
        if i < 0:
            i += self._length
        if not 0 <= i < self._length:
            raise IndexError(i)
        return i + bisect_right(self._steps, i)


def _fold_origin(text: str) -> list[int]:
    """Per character of fold(text), the index of the character it came from, for a text with
    characters the table deletes or expands ("…" is "...", a zero-width space nothing). Such
    characters are few: the runs between them are copied whole."""
    marks = sorted(i for ch in _IRREGULAR.intersection(text) for i in _positions(text, ch))
    origin: list[int] = []
    last = 0
    for i in marks:
        origin.extend(range(last, i))
        origin.extend([i] * len(text[i].translate(_TABLE)))
        last = i + 1
    origin.extend(range(last, len(text)))
    return origin


def _positions(text: str, ch: str) -> Iterator[int]:
    at = text.find(ch)
    while at >= 0:
        yield at
        at = text.find(ch, at + 1)


def _align(a: str, b: str, origin: Sequence[int]) -> list[int]:
    from difflib import SequenceMatcher

    result: list[int] = []
    for _tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        for k in range(j2 - j1):
            src = i1 + min(k, max(i2 - i1 - 1, 0))
            result.append(origin[min(src, len(origin) - 1)] if origin else 0)
    return result
