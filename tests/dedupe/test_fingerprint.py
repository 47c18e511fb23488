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


# Headlines as feeds send them, and the shapes the title rules and the figures read: brackets at
# either end, farm lead-ins, site suffixes after each separator, full-width forms, numerals in
# words next to the words that are not numbers (一些, 万一), percentages, decimals, dates.
_EDGE_TITLES = [
    "", " ", "新市民", "【快讯】新市民金融服务扩面 - 新浪财经", "[独家]消费金融公司增资_网易财经",
    "〖早报〗普惠金融｜证券时报网", "全球热点！助贷新规落地", "快讯|助贷新规落地", "工行：下调存款利率（财联社）",
    "助贷新规落地 — 第一财经", "助贷新规落地 – 21世纪经济报道", "a_b_c_d_e_f_g", "||||", "【】", "()（）",
    "五千一百一十万元", "二〇二二年十二月八日", "百分之五点五", "一些银行统一下调", "万一利率上行", "三亿新市民",
    "十二月八日 第一季度 两千亿", "1,000亿元 1，000亿元 ００３８８", "净流入超40亿 北向资金", "第一 之一 一方面",
    "涨幅约为7.5% 百分之七点五", "一二三四五六七八九十百千万亿", "零〇○两兩萬億", "十", "十万", "千万不要",
    "Tata Consultancy Services - Infrastructure to Intelligence", "ABC　DEF　（ＧＨＩ）", "\x00标题\x00",
    "消費金融公司搶灘三億新市民｜經濟日報", "【财经】（图）", "标题 - 很长很长很长很长很长很长的网站名称", "助贷新规落地 - 中国经济网财经频道新闻中",
    "（图）助贷新规落地 2022年12月8日 | 经济网",
]


def test_the_title_and_figure_forms_do_not_change_between_versions():
    """What ``title_form``, ``normalize_title`` and ``numbers`` make of real headlines (every
    title of the feeds under tests/data) and of the edge cases above, pinned: a speed-up of the
    title rules or of the figures must give the same forms, or stored titles stop matching."""
    import hashlib

    from helpers.paths import DATA

    from monitor.dedupe.fingerprint import title_form
    from monitor.sources.parse import parse_feed

    titles = list(_EDGE_TITLES)
    for path in sorted((DATA / "feeds").glob("*.xml")):
        titles += [e.title for e in parse_feed(path.read_bytes()).entries]
    assert len(titles) > 250
    digest = hashlib.sha256()
    for t in titles:
        digest.update("\x1e".join((title_form(t), normalize_title(t), *sorted(numbers(t)))).encode("utf-8") + b"\x1f")
    assert digest.hexdigest() == TITLE_DIGEST


TITLE_DIGEST = "91401607c94d7ce7f12e09c4a1605ede75ba94c5cda74b5fab6a2d458c6bc37a"

_EDGE_BODIES = [
    "新市民金融服务（记者：张三）", "新市民金融服务 (作者: 李四) 责任编辑：王五", "正文第一段\n责编：赵六",
    "正文。（来源：新华社）", "正文（文章来源：经济日报）\n编辑：钱七", "（記者：張三）消費金融\n責任編輯：王五",
    "贷款余额五千一百一十万元，同比增长百分之五点五，一些银行统一下调，万一利率上行，千万不要。",
    "二〇二二年十二月八日，第一季度两千亿，之一，一方面，三点五倍，十二个月，一二三。" * 3,
    "收于26.6…", "收于1,000", "首页 > 财经\n新市民金融服务（记者：张三）\n免责声明：本文仅供参考",
]


def test_the_prepared_forms_of_real_entries_do_not_change_between_versions():
    """``prepare`` on every entry of the feeds under tests/data (real headlines and bodies, two
    scripts, portal boilerplate) and on bodies with credits, sources and figures in words, pinned
    like the seeds above, for the same reason."""
    from helpers.paths import DATA

    from monitor.sources.parse import parse_feed

    texts = [(t, b) for t in _EDGE_TITLES[:12] for b in _EDGE_BODIES[:1]] + [("标题", b) for b in _EDGE_BODIES]
    for path in sorted((DATA / "feeds").glob("*.xml")):
        texts += [(e.title, e.body) for e in parse_feed(path.read_bytes()).entries]
    assert len(texts) > 250
    assert _index_digest(texts) == ENTRIES_DIGEST


ENTRIES_DIGEST = "6340458060a5a0688c1ef73185aa70c0ff68d832292646a17428e124d61c6c6a"
