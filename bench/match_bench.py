"""Matching throughput: 10,000 items against 500 watches and against 5 watches, one core.

Items are built from real Chinese finance text (the seed corpus and the finews posts in
../shared/corpora): a title plus a body of 1-6 paragraphs, some in traditional script. Watches
are queries drawn from a finance vocabulary: OR groups, AND, NOT, phrases and title: scopes.
Reported figure: items/second for decide (the per-item decision the poll makes), and for match
(decide plus highlight spans, for the items that matched). Beside them, in the same run, the
peers: a bare Aho-Corasick pass over text already normalised (the floor for any matcher built on
the automaton), a naive per-watch loop of `in` tests, and decide on text a poll worker already
normalised (what the writer thread pays in a poll of several feeds). Medians of BENCH_RUNS runs.
"""
from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import ahocorasick_rs

from monitor.pipeline.seeds import read_article_file
from monitor.text.normalize import (
    _t2s,  # noqa: F401  (warm the converter outside the timing)
    match_form,
    primed,
)
from monitor.watch.matcher import Doc, Matcher
from monitor.watch.query import And, Not, Term, parse_query

RUNS = int(os.environ.get("BENCH_RUNS", 3))
ITEMS = int(os.environ.get("BENCH_ITEMS", 10_000))
REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO.parent / "shared" / "corpora"

VOCAB = ["新市民", "消费金融", "普惠金融", "助贷", "信用卡", "房贷", "车贷", "按揭", "LPR", "降准", "降息", "存款利率", "贷款利率", "北向资金", "南向资金", "融资融券", "两融余额", "IPO", "注册制", "科创板", "创业板", "北交所", "新三板", "可转债", "地方债", "专项债", "城投债", "国债收益率", "人民币汇率", "离岸人民币", "外汇储备", "央行", "人民银行", "银保监会", "证监会", "金融监管总局", "国务院", "财政部", "发改委", "商务部", "统计局", "CPI", "PPI", "PMI", "GDP", "社融", "M2", "M1", "逆回购", "MLF", "公开市场操作", "再贷款", "再贴现", "定向降准", "碳减排", "绿色金融", "绿色债券", "ESG", "数字人民币", "数字货币", "区块链", "金融科技", "互联网银行", "直销银行", "手机银行", "网点", "理财子公司", "银行理财", "净值化", "公募基金", "私募基金", "ETF", "指数基金", "养老金", "个人养老金", "第三支柱", "保险", "寿险", "财险", "车险", "健康险", "再保险", "保费收入", "偿付能力", "信托", "资管新规", "非标", "城商行", "农商行", "村镇银行", "股份行", "国有大行", "不良贷款", "不良率", "拨备覆盖率", "资本充足率", "净息差", "营业收入", "净利润", "分红", "回购", "增持", "减持", "质押", "解禁", "定增", "配股", "并购", "重组", "破产", "债务违约", "展期", "评级下调", "房地产", "房企", "保交楼", "土地出让", "限购", "首付比例", "公积金", "租赁住房", "保障性住房", "城中村", "县域经济", "乡村振兴", "农户贷款", "小微企业", "个体工商户", "专精特新", "制造业贷款", "供应链金融", "跨境支付", "第三方支付", "支付宝", "微信支付", "花呗", "借呗", "白条", "京东金融", "蚂蚁集团", "度小满", "招联金融", "马上消费", "兴业消金", "中银消金", "捷信", "平安普惠", "网商银行", "微众银行", "新网银行", "百信银行", "征信", "个人信息", "数据安全", "反洗钱", "反诈", "电信诈骗", "暴力催收", "催收", "利率上限", "年化利率", "息费", "逾期", "以贷养贷", "多头借贷", "共债", "消费信贷", "消费贷", "经营贷", "抵押贷", "信用贷", "首贷", "续贷", "无还本续贷", "担保", "融资担保", "小额贷款", "网络小贷", "联合贷款", "金融消费者权益", "投诉", "罚单", "行政处罚", "监管函", "约谈", "整改", "持牌", "牌照", "金融控股", "系统重要性银行", "存款保险", "大额存单", "结构性存款", "同业存单", "汇率波动", "美联储", "加息", "缩表", "美债", "美元指数", "黄金", "原油", "大宗商品", "期货", "期权", "场外衍生品", "量化交易", "高频交易", "程序化交易", "新能源", "光伏", "锂电", "半导体", "芯片", "人工智能", "大模型", "AI", "算力", "数据中心", "消费电子", "汽车", "新能源汽车", "充电桩", "储能", "氢能", "就业", "失业率", "灵活就业", "农民工", "外卖骑手", "快递员", "网约车司机", "城镇化", "户籍", "落户", "社保", "医保", "教育", "养老", "托育", "住房", "消费券", "促消费", "以旧换新", "家电下乡", "汽车下乡", "文旅消费", "夜间经济", "服务消费", "免税", "跨境电商", "外贸", "出口", "进口", "关税"]


def load_texts() -> list[tuple[str, str]]:
    tz = ZoneInfo("Asia/Shanghai")
    files = sorted((REPO / "seeds").iterdir()) + sorted((CORPORA / "finews_posts" / "_posts").glob("*.md"))
    out = []
    for f in files:
        try:
            a = read_article_file(f, tz=tz)
        except ValueError:  # a few wire posts are empty shells
            continue
        if a.body:
            out.append((a.title, a.body))
    return out


def make_items(rng: random.Random, texts: list[tuple[str, str]]) -> list[Doc]:
    paragraphs = [p for _, body in texts for p in body.split("\n") if len(p) > 20]
    titles = [t for t, _ in texts if t]
    items = []
    for _ in range(ITEMS):
        body = "\n".join(rng.sample(paragraphs, rng.randint(1, 6)))
        items.append(Doc(title=rng.choice(titles), content=body, source=rng.choice(["证券日报", "金融时报", "新浪财经"])))
    return items


def make_query(rng: random.Random) -> str:
    def term() -> str:
        t = rng.choice(VOCAB)
        r = rng.random()
        if r < 0.15:
            return f'"{t}"'
        if r < 0.25:
            return f"title:{t}"
        return t

    shape = rng.random()
    if shape < 0.35:
        return " OR ".join(term() for _ in range(rng.randint(1, 4)))
    if shape < 0.65:
        return f"{term()} ({' OR '.join(term() for _ in range(rng.randint(2, 3)))})"
    if shape < 0.85:
        return f"({term()} OR {term()}) -{rng.choice(VOCAB)}"
    return f"{term()} {term()} -{rng.choice(VOCAB)}"


def measure(matcher: Matcher, items: list[Doc], spans: bool) -> tuple[float, int]:
    matched = 0
    start = time.perf_counter()
    for doc in items:
        if spans:
            matched += bool(matcher.match(doc))
        else:
            matched += bool(matcher.decide(doc))
    return len(items) / (time.perf_counter() - start), matched


def bare_automaton(matcher: Matcher, folded: list[tuple[str, str, str]]) -> float:
    """The floor: one automaton pass per field of text already normalised, hits into a set."""
    automaton = ahocorasick_rs.AhoCorasick([p.text for p in matcher._patterns],
                                           implementation=ahocorasick_rs.Implementation.DFA)
    start = time.perf_counter()
    for fields in folded:
        for text in fields:
            {pid for pid, _, _ in automaton.find_matches_as_indexes(text, overlapping=True)}  # noqa: B018
    return len(folded) / (time.perf_counter() - start)


def naive(watches: Sequence[tuple[str, object]], folded: list[tuple[str, str, str]]) -> float:
    """What an afternoon's matcher does: per item, per watch, evaluate the tree with `in`."""
    forms: dict[str, str] = {}

    def ev(node, title: str, text: str) -> bool:
        if isinstance(node, Term):
            t = forms.get(node.text) or forms.setdefault(node.text, match_form(node.text))
            return t in title if node.field == "title" else t in title or t in text
        if isinstance(node, Not):
            return not ev(node.child, title, text)
        return (all if isinstance(node, And) else any)(ev(c, title, text) for c in node.children)

    start = time.perf_counter()
    for title, text, _ in folded[:1000]:
        [name for name, tree in watches if ev(tree, title, text)]
    return 1000 / (time.perf_counter() - start)


def prenormalised(matcher: Matcher, items: list[Doc], spans: bool) -> float:
    """decide() (or match(), with spans) with every field's match form made beforehand: in a
    poll of several feeds the parse workers make them, and the writer thread pays only this."""
    forms = {s: match_form(s) for d in items for s in (d.title, d.content, d.source)}
    run = matcher.match if spans else matcher.decide
    start = time.perf_counter()
    with primed(forms, {}):
        for doc in items:
            run(doc)
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    rng = random.Random(7)
    texts = load_texts()
    items = make_items(rng, texts)
    avg_chars = statistics.mean(len(d.title) + len(d.content) for d in items)
    folded = [(match_form(d.title), match_form(d.content), match_form(d.source)) for d in items]
    print(f"matching: {ITEMS} items (avg {avg_chars:.0f} chars, from {len(texts)} real articles), "
          f"median of {RUNS} runs, one core")
    start = time.perf_counter()
    for d in items:
        match_form(d.title), match_form(d.content), match_form(d.source)
    print(f"  normalising alone (match_form of title, text, source)           {ITEMS / (time.perf_counter() - start):8.0f} items/s")
    for n_watches in (5, 500):
        watches = [(f"w{i}", parse_query(make_query(rng))) for i in range(n_watches)]
        start = time.perf_counter()
        matcher = Matcher(watches)
        compile_ms = (time.perf_counter() - start) * 1000
        head = f"  {n_watches:>3} watches ({len(matcher._patterns)} terms, compiled in {compile_ms:.0f} ms)"
        for spans in (False, True):
            rates, hits = [], 0
            for _ in range(RUNS):
                rate, hits = measure(matcher, items, spans)
                rates.append(rate)
            label = "decide + spans" if spans else "decide        "
            print(f"{head} {label} {statistics.median(rates):8.0f} items/s   ({hits} items matched)")
        pre = statistics.median(prenormalised(matcher, items, False) for _ in range(RUNS))
        pre_spans = statistics.median(prenormalised(matcher, items, True) for _ in range(RUNS))
        bare = statistics.median(bare_automaton(matcher, folded) for _ in range(RUNS))
        slow = statistics.median(naive(watches, folded) for _ in range(RUNS))
        print(f"{head} decide, text normalised by the poll's workers {pre:8.0f} items/s")
        print(f"{head} decide + spans, normalised by the workers    {pre_spans:8.0f} items/s")
        print(f"{head} peer: bare automaton pass over normalised text {bare:8.0f} items/s "
              f"(decide is {bare / pre:.2f}x slower than it on normalised text)")
        print(f"{head} peer: naive per-watch loop of `in` tests       {slow:8.0f} items/s")
    print("  target (issue 21): >= 20,000 items/s deciding with 500 watches, >= 10,000/s with spans")


if __name__ == "__main__":
    main()
