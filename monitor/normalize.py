"""Text folded for comparison: the same article in another script, width or spacing folds to the
same string. Display always uses the original text; only matching and fingerprints use this.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

import opencc

# Everything that is neither a letter nor a digit (any script): punctuation, symbols, spaces.
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def fold(text: str) -> str:
    """NFKC (full-width → half-width), traditional → simplified, Latin case-folded."""
    return to_simplified(unicodedata.normalize("NFKC", text)).casefold()


def squash(text: str) -> str:
    """fold() with all punctuation and white space removed: the form fingerprints are made of."""
    return _NOT_WORD.sub("", fold(text))


def content_hash(text: str) -> str:
    return hashlib.sha256(squash(text).encode("utf-8")).hexdigest()
