"""Decoding by the bytes' evidence: a label is believed when the bytes agree, a few bad bytes do not
turn a whole UTF-8 feed into GB18030 mojibake, and real GB2312 and Big5 feeds still read right."""
from __future__ import annotations

import csv

import pytest
from helpers.paths import CORPORA

from monitor.sources.encoding import decode, effective

TEXT = "新市民金融服务 Café ——「消费金融」"


def xml(encoding: str, body: bytes) -> bytes:
    return f'<?xml version="1.0" encoding="{encoding}"?><rss><channel><title>'.encode() + body + b"</title></channel></rss>"


def test_utf8_with_one_bad_byte_stays_utf8():
    body = (TEXT * 20).encode("utf-8")
    data = xml("utf-8", body[:100] + b"\xff" + body[100:])
    d = decode(data)
    assert d.encoding == "utf-8" and d.how == "lossy" and d.text.count("新市民") == 20 and "Café" in d.text
    assert not d.mismatch


def test_a_label_the_bytes_contradict_loses():
    assert decode(xml("gb2312", (TEXT * 5).encode("utf-8"))).encoding == "utf-8"  # a "gb2312" feed in UTF-8
    d = decode(xml("utf-8", ("新市民金融服务" * 5).encode("gbk")))  # a "utf-8" feed in GBK
    assert d.encoding == "gb18030" and "新市民金融服务" in d.text and d.mismatch


@pytest.mark.parametrize("label, codec, text", [
    ("gb2312", "gbk", "新市民金融服务，镕"),  # 镕 is GBK, not GB2312: portals do this
    ("big5", "big5", "新市民金融服務"),
])
def test_declared_chinese_encodings(label, codec, text):
    d = decode(xml(label, (text * 5).encode(codec)))
    assert d.encoding == effective(label) and text in d.text and d.how == "xml"


def test_a_truncated_gbk_feed_loses_only_its_last_character():
    body = ("新市民金融服务" * 50).encode("gbk")
    d = decode(b'<?xml version="1.0" encoding="gbk"?>' + body[:-1])  # cut inside the last character
    assert d.encoding == "gb18030" and d.how == "lossy"
    assert d.text.count("\ufffd") == 1 and d.text.count("新市民金融服务") == 49


@pytest.mark.corpus("zh_feeds")
def test_every_real_chinese_feed_decodes_with_its_declared_encoding():
    rows = list(csv.DictReader((CORPORA / "zh_feeds" / "sources.tsv").open(encoding="utf-8"), delimiter="\t"))
    assert len(rows) == 30
    for row in rows:
        d = decode((CORPORA / "zh_feeds" / row["file"]).read_bytes())
        assert d.encoding == effective(row["declared_encoding"]), row["file"]
        assert "\ufffd" not in d.text, row["file"]
