"""Figures in words read as digits: the scan that finds numeral runs gives what a plain
``_RUN.sub`` over the whole text gives, on real articles and on text dense with numerals."""
from __future__ import annotations

import random

from helpers.paths import CORPORA, SEEDS

from monitor.text import figures
from monitor.text.figures import digits_for_numerals


def reference(text: str) -> str:
    return figures._RUN.sub(lambda m: figures._replace(text, m), text)


def test_figures_in_words_become_digits():
    assert digits_for_numerals("营收五千一百一十万元") == "营收5110万元"
    assert digits_for_numerals("二〇二二年十二月八日") == "2022年12月8日"
    assert digits_for_numerals("增长百分之五，利率三点五倍") == "增长5%，利率3.5倍"
    assert digits_for_numerals("统一部署，一些机构") == "统一部署，一些机构"
    assert digits_for_numerals("") == "" and digits_for_numerals("no numerals") == "no numerals"


def test_the_scan_is_the_whole_text_substitution():
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(SEEDS.iterdir())]
    texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(CORPORA.glob("finews_posts/_posts/*"))]
    rng = random.Random(2)
    pool = list(figures._NUMERAL + figures._FOLLOW) + ["百分之", "点", "统一", "万一", "第一", "的", "，", "a", "7"]
    texts += ["".join(rng.choice(pool) for _ in range(rng.randint(0, 60))) for _ in range(3000)]
    changed = 0
    for text in texts:
        want = reference(text)
        assert digits_for_numerals(text) == want, repr(text[:80])
        changed += want != text
    assert changed > 1000
