"""The fast match form (vectorised fold, white space by split) is the reference formula's string,
on real articles and on text built to hit every special case."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from monitor.text import normalize
from monitor.text.normalize import (
    _TABLE,
    _WS_DROP,
    _WS_RUN,
    match_form,
    match_form_with_map,
    match_origin,
    to_simplified,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def reference(text: str) -> str:
    """The match form as first written: per-character dictionary translate, then two regexes
    (with lone surrogates, which OpenCC cannot take, now folded to U+FFFD by the table)."""
    return _WS_DROP.sub("", _WS_RUN.sub(" ", to_simplified(text.translate(_TABLE))))


SPECIAL = ["\u200b", "\ufeff", "\u00ad", "ﬁ", "㍿", "\u3000", "\t", "\n", "\r\n", "\u2028", "Ａ", "１", "，", "。",
           "“", "」", "—", "𠀀", "😀", "ß", "İ", "Σ", "ﾊ", "ｶﾞ", "\u0301", "e\u0301", "Ⅻ", "½", " ", "  ", "AI",
           "said", "3亿", "消費金融", "銀行", "乾隆", "著名", "軟體", "\x00", "\ud800"]


def test_real_articles_fold_as_before():
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.iterdir())]
    assert texts
    for text in texts:
        for chunk in (text, text[:63], text[:64], text[:500]):
            assert match_form(chunk) == reference(chunk)


@pytest.mark.parametrize("seed", range(5))
def test_random_mixtures_fold_as_before(seed):
    rng = random.Random(seed)
    pool = SPECIAL + [chr(rng.randrange(0x20, 0x3000)) for _ in range(200)] + list("新市民消费金融普惠助贷 abc XYZ")
    for _ in range(300):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 200)))
        assert match_form(text) == reference(text), repr(text)
        folded, origin = match_form_with_map(text)
        assert folded == match_form(text)
        assert len(origin) == len(folded)
        assert all(0 <= i < len(text) for i in origin)
        assert list(origin) == sorted(origin)
        # The short cut that skips OpenCC places every character where the long way does.
        assert list(match_origin(text, folded)) == list(origin), repr(text)


def test_long_text_with_a_special_character_takes_the_slow_path_and_agrees():
    text = "消费金融" * 40 + "ﬁ" + "\u200b" + "Ｂank"
    assert len(text) >= normalize._ARRAY_FROM
    assert match_form(text) == reference(text) == "消费金融" * 40 + "fibank"


def test_spaces_kept_only_between_words():
    assert match_form("new  citizen\n金融 服务 ABC 中心") == "new citizen金融服务abc中心"
