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



class CountingLookup(MemoryLookup):
    """The in-memory store, counting the hashes it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[int] = []

    def postings(self, hashes):
        self.asked += list(hashes)
        return super().postings(hashes)


def test_a_known_stock_phrase_is_not_looked_up_again():
    """Once its postings showed a hash saturated, the deduper neither reads them again nor indexes
    the hash; a fresh deduper (another process) learns the same from the store."""
    d, look = Deduper(), CountingLookup()
    phrase = "本报讯记者从有关部门获悉以下情况"
    for i in range(1, POSTING_CAP + 2):
        body = f"{phrase}。第{i}号通知：{'甲乙丙丁戊己庚辛壬癸'[i % 10]}地区第{i * 7}项工程于今日开工建设，总投资{i * 13}亿元。"
        decide(d, look, article(i, f"第{i}号通知", body))
    stock = {h for h, ids in look._postings.items() if len(ids) >= POSTING_CAP}
    assert stock
    look.asked.clear()
    n = POSTING_CAP + 2
    body = f"{phrase}。第{n}号通知：某地区第九十项工程今日开工。"
    out = decide(d, look, article(n, f"第{n}号通知", body))[n]
    assert not stock & set(look.asked)
    assert stock & out.decision.saturated and not stock & set(out.fingerprints)
    fresh = decide(Deduper(), look, article(n + 1, f"第{n + 1}号通知", body.replace("九十", "九十一")))[n + 1]
    assert stock & fresh.decision.saturated and not stock & set(fresh.fingerprints)

def test_title_normalisation_and_figures():
    assert normalize_title("全球热点!金融机构抢滩3亿新市民金融服务 - 新浪财经") == "金融机构抢滩3亿新市民金融服务"
    assert numbers("港交所(00388.HK)") == numbers("港交所(0388.HK)")
    assert numbers("共1,000亿元") == numbers("共1000亿元") == numbers("共１，０００亿元")


# -- the mechanisms that hid different stories ------------------------------------------------

STORY_A = ("国家统计局今日发布数据，11月全国居民消费价格同比上涨0.4%，其中城市上涨0.5%，农村上涨0.2%；"
           "食品价格上涨1.1%，非食品价格上涨0.2%。专家表示，消费需求持续恢复，物价总体平稳。")
STORY_B = ("央行今日开展2000亿元中期借贷便利操作，中标利率2.0%，与上期持平；当日另有1500亿元MLF到期。"
           "分析人士指出，此举有助于保持银行体系流动性合理充裕，稳定市场预期。")


def test_a_shared_headline_with_different_bodies_is_two_stories():
    d, look = Deduper(), MemoryLookup()
    headline = "这件事，关乎每个人的钱袋子"
    decide(d, look, article(1, headline, STORY_A))
    assert not decide(d, look, article(2, headline, STORY_B))[2].decision.is_duplicate


def test_another_days_template_report_is_another_story():
    d, look = Deduper(), MemoryLookup()
    day1 = "国内商品期货收盘，纯碱主力合约跌停报1520元/吨，跌幅8.1%；焦煤跌3.2%，焦炭跌2.6%，铁矿石跌1.9%，生猪涨0.7%。"
    day2 = "国内商品期货收盘，纯碱主力合约跌停报1398元/吨，跌幅7.6%；焦煤跌2.4%，焦炭跌1.8%，铁矿石跌1.1%，生猪涨1.3%。"
    decide(d, look, article(1, "国内商品期货多数收跌 纯碱主力合约跌停", day1 * 3))
    assert not decide(d, look, article(2, "国内商品期货多数收跌 纯碱主力合约跌停", day2 * 3))[2].decision.is_duplicate


def test_titles_that_differ_by_a_word_or_are_only_a_topic_stay_apart():
    d, look = Deduper(), MemoryLookup()
    decide(d, look, article(1, "清华大学2026年本科生毕业典礼举行", ""))
    assert not decide(d, look, article(2, "清华大学2026年研究生毕业典礼举行", ""))[2].decision.is_duplicate
    decide(d, look, article(3, "Tata Consultancy Services: Infrastructure to Intelligence", ""))
    assert not decide(d, look, article(4, "Tata Consultancy Services - Wikipedia", ""))[4].decision.is_duplicate
    decide(d, look, article(5, "金融机构抢滩3亿新市民金融服务 推专属贷款成银行切入口", ""))
    sub = decide(d, look, article(6, "金融机构抢滩3亿新市民金融服务 - 新浪财经", ""))[6].decision
    assert sub.duplicate_of == 5  # a dropped subtitle is the same headline


def test_shared_wechat_furniture_and_link_lists_do_not_make_a_duplicate():
    d, look = Deduper(), MemoryLookup()
    furniture = ["👇👇👇", "点击上方蓝字关注我们，设为星标，第一时间获取最新金融资讯和深度解读", "▌往期推荐",
                 "央行开展逆回购操作 维护流动性合理充裕", "多家银行下调存款利率 最高下调二十个基点",
                 "长按识别二维码关注我们的公众号", "点个在看，分享给朋友，欢迎转发到朋友圈"]
    decide(d, look, article(1, "国家统计局发布11月CPI", STORY_A + "\n" + "\n".join(furniture)))
    flash = decide(d, look, article(2, "央行MLF操作", "央行今日开展MLF操作。\n" + "\n".join(furniture)))[2].decision
    assert not flash.is_duplicate
    listing = STORY_B + "\n相关阅读\n国家统计局发布11月CPI数据 居民消费价格同比上涨0.4%\n多家银行下调存款利率"
    decide(d, look, article(3, "央行开展2000亿元MLF操作", listing))
    entry = decide(d, look, article(4, "统计局：11月CPI同比上涨0.4%", "国家统计局发布11月CPI数据 居民消费价格同比上涨0.4%"))
    assert entry[4].decision.duplicate_of != 3


def test_figures_written_in_words_are_the_same_figures():
    d, look = Deduper(), MemoryLookup()  # long texts: only the text can decide
    digits = "某省今年已为5110万新市民提供金融服务，覆盖3亿人次，2022年12月8日起新增贷款额度提高百分之五十。" * 8
    words = "某省今年已为五千一百一十万新市民提供金融服务，覆盖三亿人次，二〇二二年十二月八日起新增贷款额度提高50%。" * 8
    decide(d, look, article(1, "某省新市民金融服务", digits))
    assert decide(d, look, article(2, "某省新市民金融服务全覆盖", words))[2].decision.duplicate_of == 1


def test_a_taiwan_style_reprint_is_found():
    d, look = Deduper(), MemoryLookup()
    mainland = ("某软件公司今日发布声明，称其信息安全产品已通过认证，网络用户数据将获得更好保护。公司表示，"
                "新版软件将于下月上线，并面向中小企业提供免费试用。") * 3
    taiwan = ("某軟體公司今日發布宣告，稱其資訊安全產品已通過認證，網路用戶資料將獲得更好保護。公司表示，"
              "新版軟體將於下月上線，並面向中小企業提供免費試用。") * 3
    decide(d, look, article(1, "某软件公司发布声明", mainland))
    assert decide(d, look, article(2, "某軟體公司發布宣告", taiwan))[2].decision.duplicate_of == 1


def test_reported_similarities_are_the_verified_ones():
    from difflib import SequenceMatcher

    from monitor.dedupe.fingerprint import normalize_title

    d, look = Deduper(), MemoryLookup()
    stored, new = "北向资金今日大幅净流入40亿元", "北向资金今日大幅净流出25亿元，外资态度转向"
    decide(d, look, article(1, stored, ""))
    (c,) = d.check(look, new, "").nearest
    a, b = sorted((normalize_title(stored), normalize_title(new)), key=len)
    run = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size
    assert not c.duplicate and c.similarity == run / len(a) and c.rule


class _NoText(MemoryLookup):
    """A store whose articles' text may not be read: a candidate must be verified from its sketch."""

    def articles(self, ids):
        raise AssertionError(f"text of {list(ids)} read: the sketch should have served")


def test_a_stored_candidate_is_verified_from_its_sketch_not_prepared_again():
    look = _NoText()
    first = decide(Deduper(), look, article(1, "城商行推出新市民信用贷", WIRE))[1]
    assert first.sketch and look.sketches([1])[1][1] == first.sketch
    # A fresh deduper (a restarted daemon: nothing cached) meets a reprint with paragraphs cut.
    reprint = decide(Deduper(), look, article(2, "全球热点!城商行推出新市民信用贷", "首页 > 财经\n" + WIRE[:-20]))[2]
    assert reprint.decision.duplicate_of == 1 and reprint.decision.method in ("near", "summary")


def test_a_sketch_round_trips_what_verification_reads_and_an_old_version_is_ignored():
    from monitor.dedupe import fingerprint

    p = fingerprint.prepare("北向资金净流入超40亿元", WIRE)
    q = fingerprint.unpack(fingerprint.pack(p))
    assert q is not None
    assert (q.kind, q.title, q.title_form, q.title_numbers, q.body_numbers, q.cut_figure) == \
           (p.kind, p.title, p.title_form, p.title_numbers, p.body_numbers, p.cut_figure)
    assert q.shingles.tolist() == p.shingles.tolist() and len(q.shingles) > 50
    old = bytes([fingerprint.SKETCH_VERSION + 1]) + fingerprint.pack(p)[1:]
    assert fingerprint.unpack(old) is None


def test_an_article_without_a_sketch_is_prepared_from_its_text():
    look = MemoryLookup()
    look.add(1, "城商行推出新市民信用贷", WIRE, content_hash(WIRE), [], None)  # stored before sketches
    out = decide(Deduper(), look, article(2, "城商行推出新市民信用贷", WIRE[:-20]))[2]
    assert out.decision.duplicate_of is None  # no fingerprints indexed for 1: nothing nominates it
    from monitor.dedupe.fingerprint import prepare, to_signed
    p = prepare("城商行推出新市民信用贷", WIRE)
    look2 = MemoryLookup()
    look2.add(1, "城商行推出新市民信用贷", WIRE, content_hash(WIRE), to_signed(p.anchors), None)
    out = decide(Deduper(), look2, article(2, "城商行推出新市民信用贷", WIRE[:-20]))[2]
    assert out.decision.duplicate_of == 1


def test_a_copy_indexes_only_what_its_story_lacks():
    d, look = Deduper(), MemoryLookup()
    first = decide(d, look, article(1, "城商行推出新市民信用贷", WIRE))[1]
    copy = decide(d, look, article(2, "城商行推出新市民信用贷", WIRE + "\n" + OTHER))[2]
    assert copy.decision.duplicate_of == 1
    assert set(copy.shared) <= set(first.fingerprints) and copy.shared  # the story's passages: not again
    assert copy.fingerprints and not set(copy.fingerprints) & set(first.fingerprints)  # its own paragraph: yes
    # The next copy still finds the story, through the first article's rows.
    third = decide(d, look, article(3, "全球热点!城商行推出新市民信用贷", WIRE[:-10]))[3]
    assert third.decision.duplicate_of == 1


def test_the_form_a_worker_sends_decides_as_the_full_one_and_is_smaller():
    """A parse worker sends the prepared form with its sketch instead of the squashed body and
    shingles: the writer decides and indexes exactly as from the full form, and stores that sketch."""
    import pickle

    from monitor.dedupe import fingerprint

    reprint_title, reprint = "全球热点!城商行推出新市民信用贷", "首页 > 财经\n" + WIRE[:-20]
    runs = []
    for transfer in (False, True):
        look, d = MemoryLookup(), Deduper()
        forms = [fingerprint.prepare("城商行推出新市民信用贷", WIRE), fingerprint.prepare(reprint_title, reprint)]
        if transfer:
            forms = [pickle.loads(pickle.dumps(fingerprint.for_transfer(p))) for p in forms]
        arts = [Article(1, "城商行推出新市民信用贷", WIRE, content_hash(WIRE), prepared=forms[0]),
                Article(2, reprint_title, reprint, content_hash(reprint), prepared=forms[1])]
        runs.append(d.decide(look, arts))
    full, sent = runs
    assert [(o.decision.duplicate_of, o.decision.similarity, o.fingerprints, o.sketch) for o in sent] == \
           [(o.decision.duplicate_of, o.decision.similarity, o.fingerprints, o.sketch) for o in full]
    assert sent[1].decision.duplicate_of == 1
    p = fingerprint.prepare("城商行推出新市民信用贷", WIRE)
    assert len(pickle.dumps(fingerprint.for_transfer(p))) < 0.8 * len(pickle.dumps(p))
