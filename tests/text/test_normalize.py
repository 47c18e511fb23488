"""The fast match form (vectorised fold, white space by split) is the reference formula's string,
on real articles and on text built to hit every special case."""
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from monitor.text import normalize
from monitor.text.normalize import (
    _TABLE,
    match_form,
    match_form_with_map,
    match_origin,
    to_simplified,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
# The white-space rule as first written, two regexes: runs of white space become one space, kept
# only between two letters or digits of scripts that write spaces between words.
WORDCHAR = "0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff"
_WS_RUN = re.compile(r"\s+")
_WS_DROP = re.compile(f"(?<![{WORDCHAR}]) | (?![{WORDCHAR}])")


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


def test_long_texts_in_either_script_fold_as_before():
    """Long texts take the vectorised fold, which also tells whether OpenCC has work: simplified,
    traditional and mixed paragraphs, and characters that become a traditional one only when
    folded (compatibility ideographs, full-width forms), come out as the reference makes them."""
    import opencc

    s2t = opencc.OpenCC("s2t").convert
    paragraphs = [p for f in sorted(SEEDS.iterdir()) for p in f.read_text(encoding="utf-8").split("\n") if len(p) > 70]
    rng = random.Random(11)
    texts = []
    for _ in range(200):
        picked = rng.sample(paragraphs, rng.randint(1, 3))
        texts.append("\n".join(s2t(p) if rng.random() < 0.4 else p for p in picked))
    texts += [paragraphs[0] + "\uf900\uf901", paragraphs[1] + "ＡＢＣ" + "\u2f00" * 3]
    traditional = 0
    for text in texts:
        assert len(text) >= normalize._ARRAY_FROM
        assert match_form(text) == reference(text), repr(text[:80])
        traditional += reference(text) != text.translate(_TABLE)
    assert 50 < traditional < len(texts)  # both ways were taken


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


def reference_map(text: str) -> list[int]:
    """Per character of the match form, its original index, as first written: a translate per
    character, OpenCC aligned by SequenceMatcher, then the two white-space regexes with their maps."""
    from difflib import SequenceMatcher

    origin = [i for i, ch in enumerate(text) for _ in ch.translate(_TABLE)]
    s1 = text.translate(_TABLE)
    s2 = to_simplified(s1)
    if len(s2) != len(s1):
        aligned = []
        for _tag, i1, i2, j1, j2 in SequenceMatcher(None, s1, s2, autojunk=False).get_opcodes():
            aligned += [origin[min(i1 + min(k, max(i2 - i1 - 1, 0)), len(origin) - 1)] for k in range(j2 - j1)]
        origin = aligned
    for regex, repl in ((_WS_RUN, " "), (_WS_DROP, "")):
        out, out_origin, last = [], [], 0
        for m in regex.finditer(s2):
            out.append(s2[last:m.start()])
            out_origin += origin[last:m.start()] + [origin[m.start()]] * len(repl)
            out.append(repl)
            last = m.end()
        out.append(s2[last:])
        s2, origin = "".join(out), out_origin + origin[last:]
    return origin


@pytest.mark.parametrize("seed", range(3))
def test_origin_maps_agree_with_the_first_formula(seed):
    """Both maps (the long way and the short cut) place every non-space character where the
    original regex-based map did (a kept space may point at another space of its run)."""
    rng = random.Random(100 + seed)
    pool = SPECIAL + list("新市民消费金融普惠助贷 abc XYZ") + ["……", "  ", "\u3000"]
    for _ in range(300):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 150)))
        form, origin = match_form_with_map(text)
        expected = reference_map(text)
        assert len(expected) == len(form)
        for got in (list(origin), list(match_origin(text, form))):
            assert [o for o, c in zip(got, form) if c != " "] == [o for o, c in zip(expected, form) if c != " "]


def test_long_text_with_a_special_character_takes_the_slow_path_and_agrees():
    text = "消费金融" * 40 + "ﬁ" + "\u200b" + "Ｂank"
    assert len(text) >= normalize._ARRAY_FROM
    assert match_form(text) == reference(text) == "消费金融" * 40 + "fibank"


def test_spaces_kept_only_between_words():
    assert match_form("new  citizen\n金融 服务 ABC 中心") == "new citizen金融服务abc中心"


def test_fast_nfkc_is_nfkc():
    """The vectorised full-width pass changes no result of NFKC: on the seeds, the shared corpora's
    files and random mixtures of full-width forms, combining marks, Hangul jamo and compatibility
    characters (the fast path must hand anything it cannot settle to ``normalize``)."""
    import unicodedata

    from helpers.paths import CORPORA

    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.iterdir())]
    texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(CORPORA.glob("*/*"))[:400]
              if p.is_file()]
    rng = random.Random(7)
    alphabet = [chr(c) for c in [*range(0x20, 0x180), *range(0x300, 0x350), *range(0x1100, 0x1180),
                                 *range(0x3000, 0x3040), *range(0x4E00, 0x4E30), *range(0xAC00, 0xAC08),
                                 *range(0xFF00, 0xFFF0)]] + SPECIAL[:-1]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))) for _ in range(3000)]
    changed = 0
    for t in texts:
        want = unicodedata.normalize("NFKC", t)
        assert normalize.nfkc(t) == want, repr(t[:80])
        changed += want != t
    assert changed > 2000  # most inputs went through the fast path's mapping, not around it


def _phrase_texts(rng: random.Random) -> list[str]:
    """Texts whose listed characters are ones t2s changes only in phrases: each of those
    characters alone, in each of its phrases, in the phrases cut short on either side, at the
    start, the end and the middle of short and long mainland text."""
    from monitor.text import t2s_chars

    mainland = "".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.iterdir()))
    mainland = "".join(c for c in mainland if c not in normalize._t2s_table().chars)
    pieces = []
    for c, phrases in t2s_chars.load_phrases().items():
        pieces += [c, c * 20]
        for p in phrases:
            pieces += [p, p[1:], p[:-1], p + p]
    texts = []
    for piece in pieces:
        for filler in (mainland[:10], mainland[:300]):
            texts += [piece + filler, filler + piece, filler + piece + filler]
    texts += ["".join(rng.choice(pieces) + rng.choice(mainland) for _ in range(rng.randint(1, 40))) for _ in range(2000)]
    return texts


def test_t2s_phrase_only_characters_skip_opencc_only_without_their_phrases():
    """覆 in 覆盖 and 沈 in 沈阳 leave a text as it is, 反覆 and 擊沈 are converted: to_simplified and
    the match form agree with OpenCC and the reference on texts built around every such phrase."""
    convert = normalize._t2s().convert
    texts = _phrase_texts(random.Random(5))
    skipped = changed = 0
    for t in texts:
        assert to_simplified(t) == convert(t), repr(t[:80])
        assert match_form(t) == reference(t), repr(t[:80])
        skipped += not normalize._converts(t)
        changed += convert(t) != t
    assert skipped > 1000 and changed > 1000  # both ways were taken
    for n in (1, 6):  # a short text and one of 72 characters
        assert not normalize._converts("覆盖率达到九成，沈阳分行" * n)
        assert normalize._converts("覆盖率达到九成，沈阳分行" * n + "反覆")


def test_t2s_skip_list_is_the_installed_opencc_s():
    """t2s_chars.txt is what the pinned OpenCC's dictionaries say (and every phrase that changes
    holds one of its characters): an OpenCC upgrade that adds a key fails here."""
    from monitor.text import t2s_chars

    assert t2s_chars.load() == t2s_chars.from_opencc()
    assert t2s_chars.load_phrases() == t2s_chars.phrases_from_opencc()


def test_t2s_skipped_only_where_opencc_changes_nothing():
    """A character outside the list is left alone by OpenCC; texts with and without listed
    characters come out as OpenCC makes them, whichever way they take."""
    from helpers.paths import CORPORA

    convert = normalize._t2s().convert
    listed = set(normalize._t2s_table().chars)
    ideographs = [chr(c) for c in [*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000), *range(0xF900, 0xFB00),
                                   *range(0x20000, 0x20400), *range(0x2F800, 0x2FA20)]]
    unlisted = [c for c in ideographs if c not in listed]
    assert len(unlisted) > 20_000
    changed = [c for c in unlisted if convert(c) != c]
    assert changed == []
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(CORPORA.glob("*/*"))[:400]
             if p.is_file()]
    rng = random.Random(3)
    texts += ["".join(rng.choice(ideographs) for _ in range(rng.randint(1, 300))) for _ in range(2000)]
    texts += ["".join(rng.choice(unlisted) for _ in range(rng.randint(1, 300))) for _ in range(500)]
    texts += SPECIAL[:-1] + ["乾隆年间", "乾燥", "著名的显著", "发展", "後来", "反覆无常", "覆盖", "好像", "什么"]
    skipped = 0
    for t in texts:
        assert to_simplified(t) == convert(t), repr(t[:80])
        skipped += not t.isascii() and not normalize._converts(t)
    assert skipped > 550  # the fast way was taken, not only the long one


@pytest.mark.parametrize("seed", range(3))
def test_the_kept_map_answers_as_the_list_it_stands_for(seed):
    rng = random.Random(300 + seed)
    for _ in range(200):
        length = rng.randint(0, 40)
        dropped = sorted(rng.sample(range(length), rng.randint(0, length)))
        expected = [i for i in range(length) if i not in set(dropped)]
        kept = normalize._Kept(length, dropped)
        assert len(kept) == len(expected)
        assert list(kept) == expected
        assert [kept[i] for i in range(-len(expected), 0)] == expected
        assert kept[1:-1] == expected[1:-1]
        with pytest.raises(IndexError):
            kept[len(expected)]


def test_a_nul_does_not_cut_the_text_opencc_converts():
    """OpenCC stops at a NUL (its input is a C string); feed entries lose control characters before
    they get here, but seeds, queries and explain do not pass through that cleaning."""
    from monitor.text.normalize import content_hash, match_form, squash, to_mainland, to_simplified

    assert to_mainland("銀行\x00軟體貸款") == "银行\x00软件贷款"
    assert to_simplified("銀行\x00貸款") == "银行\x00贷款"
    assert squash("銀行\x00貸款") == "银行贷款"
    assert match_form("貸款\x00貸款") == "贷款\x00贷款"
    assert content_hash("新市民贷款\x00一篇") != content_hash("新市民贷款\x00另一篇")
