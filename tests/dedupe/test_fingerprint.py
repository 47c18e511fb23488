"""Fingerprints: titles folded to what a reprint keeps, figures read the same however written."""
from __future__ import annotations

import pytest

from monitor.dedupe.fingerprint import normalize_title, numbers


@pytest.mark.parametrize("raw, expected", [
    ("全球热点!金融机构抢滩3亿新市民金融服务", "金融机构抢滩3亿新市民金融服务"),
    ("金融机构抢滩3亿新市民金融服务 - 新浪财经", "金融机构抢滩3亿新市民金融服务"),
    ("【独家】金融机构抢滩3亿新市民金融服务_网易财经", "金融机构抢滩3亿新市民金融服务"),
    ("金融機構搶灘3億新市民金融服務（财联社）", "金融机构抢滩3亿新市民金融服务"),
    ("工行：下调存款利率", "工行下调存款利率"),  # a colon names the actor: kept
])
def test_title_normalisation(raw, expected):
    assert normalize_title(raw) == expected


def test_figures_ignore_leading_zeros_and_separators():
    assert numbers("港交所(00388.HK)") == numbers("港交所(0388.HK)")
    assert numbers("共1,000亿元") == numbers("共1000亿元") == numbers("共１，０００亿元")
    assert numbers("净流入超40亿") != numbers("净流入超50亿")


def test_prepare_gives_the_content_hash_of_the_whole_text():
    """The worker takes the content hash from prepare's own pass; it must be the hash the store
    and the exact-duplicate test compute from the text (boilerplate and all)."""
    from helpers.paths import SEEDS

    from monitor.dedupe.fingerprint import prepare
    from monitor.text.normalize import content_hash

    bodies = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.iterdir())]
    bodies += ["首页 > 财经\n新市民金融服务（记者：张三）\n免责声明：本文仅供参考", "消費金融，ＡＢＣ　１２３", ""]
    for body in bodies:
        assert prepare("标题", body).content_hash == content_hash(body)
