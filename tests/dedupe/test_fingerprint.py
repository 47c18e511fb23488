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
