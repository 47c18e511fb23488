"""The dedupe decision on plain data: an in-memory look-up stands in for the store, so each rule is
tested without a database (the same rules run against SQLite and PostgreSQL in
tests/integration/test_dedupe.py)."""
from __future__ import annotations

from monitor.dedupe.decide import POSTING_CAP, Article, Deduper
from monitor.dedupe.fingerprint import normalize_title, numbers
from monitor.dedupe.lookup import MemoryLookup
from monitor.text.normalize import content_hash

WIRE = ("某城商行今日宣布，面向新就业形态劳动者推出专属信用贷款产品，额度最高30万元，利率较同类产品低50个基点。"
        "该行相关负责人表示，产品依托社保和公积金数据进行授信，审批时间缩短至两个工作日。"
        "业内人士认为，此举有助于扩大新市民群体的金融服务覆盖面。")
OTHER = ("某农商行发布县域普惠金融服务方案，计划三年内新增涉农贷款200亿元，覆盖辖内全部行政村。"
         "方案提出建设数字化服务网点，推广线上信用贷款，降低农户融资成本。")


def article(i: int, title: str, body: str) -> Article:
    return Article(i, title, body, content_hash(body) if body else None)


def decide(deduper: Deduper, lookup: MemoryLookup, *articles: Article):
    return {o.item_id: o for o in deduper.decide(lookup, list(articles))}


def test_same_text_is_a_hash_duplicate_of_the_first():
    d, look = Deduper(), MemoryLookup()
    out = decide(d, look, article(1, "城商行推出新市民信用贷", WIRE), article(2, "另一个标题", WIRE))
    assert not out[1].decision.is_duplicate
    assert out[2].decision.duplicate_of == 1 and out[2].decision.method == "hash"


def test_a_reprint_links_to_the_root_of_its_story_not_to_the_copy_it_resembles():
    d, look = Deduper(), MemoryLookup()
    decide(d, look, article(1, "城商行推出新市民信用贷", WIRE))
    decide(d, look, article(2, "城商行推出新市民信用贷 - 新浪财经", "首页 > 财经\n" + WIRE + "\n责任编辑：王某"))
    third = decide(d, look, article(3, "全球热点!城商行推出新市民信用贷", WIRE[:-30]))[3].decision
    assert third.is_duplicate and third.duplicate_of == 1


def test_different_stories_stay_apart_and_are_indexed():
    d, look = Deduper(), MemoryLookup()
    out = decide(d, look, article(1, "城商行推出新市民信用贷", WIRE), article(2, "农商行县域普惠方案", OTHER))
    assert not out[2].decision.is_duplicate
    assert out[1].fingerprints and out[2].fingerprints
    assert set(out[1].fingerprints).isdisjoint(out[2].fingerprints)


def test_a_series_that_differs_only_in_its_figure_is_separate_facts():
    d, look = Deduper(), MemoryLookup()
    decide(d, look, article(1, "北向资金净流入超40亿", "数据显示，截至目前，北向资金净流入超40亿元。"))
    out = decide(d, look, article(2, "北向资金净流入超50亿", "数据显示，截至目前，北向资金净流入超50亿元。"),
                 article(3, "北向资金净流入超40亿元", "数据显示，截至目前，北向资金净流入超40亿元。"))
    assert not out[2].decision.is_duplicate
    assert out[3].decision.duplicate_of == 1


def test_a_search_headline_finds_its_article_by_title():
    d, look = Deduper(), MemoryLookup()
    decide(d, look, article(1, "城商行面向新就业形态劳动者推出专属信用贷款产品", WIRE))
    out = decide(d, look, article(2, "城商行面向新就业形态劳动者推出专属信用贷款产品 - 新浪财经", ""))
    assert out[2].decision.kind == "title" and out[2].decision.duplicate_of == 1
    assert out[2].decision.method == "title"


def test_check_only_counts_earlier_articles_and_writes_nothing():
    d, look = Deduper(), MemoryLookup()
    decide(d, look, article(5, "城商行推出新市民信用贷", WIRE))
    assert d.check(look, "t", WIRE, before=5).duplicate_of is None  # item 5 is not earlier than itself
    assert d.check(look, "t", WIRE, exclude=frozenset({5})).duplicate_of is None
    assert d.check(look, "t", WIRE).duplicate_of == 5
    assert look.by_hash(content_hash(WIRE)) == [(5, "城商行推出新市民信用贷")]


def test_an_anchor_every_article_shares_stops_being_indexed():
    """A stock phrase nominates no candidates and its posting list stops growing."""
    d, look = Deduper(), MemoryLookup()
    phrase = "本报讯记者从有关部门获悉以下情况"
    outs = []
    for i in range(1, POSTING_CAP + 3):
        body = f"{phrase}。第{i}号通知：{'甲乙丙丁戊己庚辛壬癸'[i % 10]}地区第{i * 7}项工程于今日开工建设，总投资{i * 13}亿元。"
        outs.append(decide(d, look, article(i, f"第{i}号通知", body))[i])
    assert not any(o.decision.is_duplicate for o in outs)
    first, last = set(outs[0].fingerprints), set(outs[-1].fingerprints)
    shared = first & set(outs[POSTING_CAP // 2].fingerprints)
    assert shared and not (shared & last)  # the stock phrase's anchors were not indexed for the last one


def test_title_normalisation_and_figures():
    assert normalize_title("全球热点!金融机构抢滩3亿新市民金融服务 - 新浪财经") == "金融机构抢滩3亿新市民金融服务"
    assert numbers("港交所(00388.HK)") == numbers("港交所(0388.HK)")
    assert numbers("共1,000亿元") == numbers("共1000亿元") == numbers("共１，０００亿元")
