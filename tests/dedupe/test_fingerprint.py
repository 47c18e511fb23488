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


def _index_digest(texts: list[tuple[str, str]]) -> str:
    import hashlib

    from monitor.dedupe.fingerprint import pack, prepare

    digest = hashlib.sha256()
    for title, body in texts:
        p = prepare(title, body)
        digest.update(p.anchors.tobytes() + p.title_keys.tobytes() + pack(p))
    return digest.hexdigest()


def test_the_indexed_hashes_and_sketches_do_not_change_between_versions():
    """A store keeps the anchors, title keys and sketches an earlier version computed, and a
    reprint is found only if today's prepare() hashes its text to the same values: a change to the
    hashing that moves them (a speed-up, a numpy upgrade) must fail here, not silently stop
    matching every stored article. The digest was taken from the seeds and edge cases below
    (texts shorter than a shingle and an anchor, a flash, a summary, traditional script)."""
    from helpers.paths import SEEDS

    texts = [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(SEEDS.iterdir())]
    texts += [("", ""), ("标题", "银"), ("标题", "新市民贷款"), ("新市民", "新市民金融服务持续扩面"),
              ("消費金融", "消費金融公司" * 10), ("标题", "普惠金融助贷" * 80), ("【快讯】标题 - 新浪财经", "短讯。" * 30)]
    assert _index_digest(texts) == INDEX_DIGEST


INDEX_DIGEST = "01f293eb51717e09cb060c9a967f7125131abed6b7b4ecb56b88d52013b54b03"


def test_sorted_unique_is_numpy_unique():
    import numpy as np

    from monitor.dedupe.fingerprint import _sorted_unique

    rng = np.random.default_rng(7)
    for values in (np.empty(0, np.uint64), np.array([5], np.uint32), np.array([3, 3, 3], np.uint64),
                   rng.integers(0, 50, 400).astype(np.uint32), rng.integers(0, 2**63, 300, dtype=np.uint64)):
        got = _sorted_unique(values)
        assert got.dtype == values.dtype
        assert np.array_equal(got, np.unique(values))


@pytest.mark.parametrize("transfer", [False, True])
def test_a_prepared_form_comes_through_pickling_whole(transfer):
    """Parse workers send prepared forms back pickled (``Prepared.__reduce__``): every field,
    arrays with their dtypes, must arrive as it left."""
    import dataclasses
    import pickle

    import numpy as np

    from monitor.dedupe.fingerprint import for_transfer, prepare

    p = prepare("【快讯】消費金融公司發布新市民貸款 - 新浪财经", "消費金融公司發布新市民貸款，額度30萬元。" * 12)
    p = for_transfer(p) if transfer else p
    q = pickle.loads(pickle.dumps(p, protocol=5))
    for f in dataclasses.fields(p):
        a, b = getattr(p, f.name), getattr(q, f.name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), f.name
        else:
            assert a == b, f.name
    assert np.array_equal(q.shingles, p.shingles)
