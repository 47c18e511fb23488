"""The query language and the matcher: script, width, spacing, scopes, spans, and an automaton
that agrees with a naive reference evaluator on random inputs."""
from __future__ import annotations

import random
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from helpers.paths import SEEDS
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.pipeline.seeds import read_article_file
from monitor.text.normalize import match_form
from monitor.watch.matcher import Doc, Matcher, _char_class, _host
from monitor.watch.query import And, Node, Not, Or, QueryError, Term, parse_query


def m(query: str) -> Matcher:
    return Matcher([("w", parse_query(query))])


def matches(query: str, title: str = "", text: str = "", source: str = "") -> bool:
    return m(query).decide(Doc(title=title, content=text, source=source)) == ["w"]


# -- the language --------------------------------------------------------------------------------

@pytest.mark.parametrize("query, tree", [
    ("a b", And((Term("a", position=1), Term("b", position=3)))),
    ("a OR b c", Or((Term("a", position=1), And((Term("b", position=6), Term("c", position=8)))))),
    ("a AND b OR c", Or((And((Term("a", position=1), Term("b", position=7))), Term("c", position=12)))),
    ("-a b", And((Not(Term("a", position=2)), Term("b", position=4)))),
    ("NOT a b", And((Not(Term("a", position=5)), Term("b", position=7)))),
    ('"消费 金融" title:新市民', And((Term("消费 金融", phrase=True, position=1),
                                   Term("新市民", field="title", position=8)))),
    ("source:(证券日报 OR 金融时报)", Or((Term("证券日报", "source", position=9), Term("金融时报", "source", position=16)))),
    ("新市民 (贷款 OR 信用卡) -招聘", And((
        Term("新市民", position=1),
        Or((Term("贷款", position=6), Term("信用卡", position=12))),
        Not(Term("招聘", position=18)),
    ))),
    ("a (b (c OR d))", And((Term("a", position=1), And((Term("b", position=4), Or((Term("c", position=7),
                                                                                   Term("d", position=12)))))))),
    ("新市民 （贷款 OR 信用卡）", And((Term("新市民", position=1), Or((Term("贷款", position=6), Term("信用卡", position=12)))))),
])
def test_parse_table(query, tree):
    assert strip_positions(parse_query(query)) == strip_positions(tree)


def strip_positions(node: Node) -> Node:
    if isinstance(node, Term):
        return Term(node.text, node.field, node.phrase, 0)
    if isinstance(node, Not):
        return Not(strip_positions(node.child))
    return type(node)(tuple(strip_positions(c) for c in node.children))


@pytest.mark.parametrize("query, position, words", [
    ("新市民 (贷款 OR 信用卡", 5, "unclosed parenthesis"),
    ("新市民 (贷款 OR", 11, "expected a term"),
    ('新市民 "贷款', 5, "unterminated quote"),
    ("新市民 OR", 7, "expected a term"),
    ("-招聘", 1, "no positive term"),
    ("author:张三", 1, "unknown field"),
    ("a )", 3, "unexpected"),
    ("()", 1, "empty parentheses"),
    ("", 1, "empty query"),
])
def test_parse_errors_carry_positions(query, position, words):
    with pytest.raises(QueryError) as e:
        parse_query(query)
    assert e.value.position == position
    assert words in str(e.value)


@pytest.mark.parametrize("query, title, text, expected", [
    ("新市民 (贷款 OR 信用卡) -招聘", "银行推新市民专属贷款", "", True),
    ("新市民 (贷款 OR 信用卡) -招聘", "银行推新市民专属贷款", "同时招聘客户经理", False),
    ("新市民 (贷款 OR 信用卡) -招聘", "银行推新市民专属理财", "", False),
    ('"消费金融" title:新市民', "新市民服务", "消费金融公司发力", True),
    ('"消费金融" title:新市民', "消费金融公司发力", "服务新市民", False),  # 新市民 only in the text
    ("普惠金融 OR 助贷", "", "助贷业务新规", True),
    ("普惠金融 OR 助贷", "", "小微贷款", False),
    ("a OR b c", "", "a", True),       # OR binds looser than the implied AND
    ("a OR b c", "", "b", False),
    ("NOT NOT a x", "", "a x", True),   # double negation is the term itself
    ("NOT NOT a x", "", "x", False),
])
def test_evaluation_table(query, title, text, expected):
    assert matches(query, title, text) is expected


def test_source_scope_uses_outlet_feed_and_host():
    assert matches("source:证券日报 新市民", "新市民", source="证券日报 | people-finance | www.zqrb.cn")
    assert not matches("source:证券日报 新市民", "新市民", source="金融时报")
    assert matches("source:zqrb.cn 新市民", "新市民", source="证券日报 | www.zqrb.cn")


# -- script, width, spacing ----------------------------------------------------------------------

@pytest.mark.parametrize("term, text", [
    ("消费金融", "頭部消費金融公司"),           # simplified keyword, traditional article
    ("消費金融", "头部消费金融公司"),           # traditional keyword, simplified article
    ("头部消金", "頭部消金已開啟拉新"),
    ("頭部消金", "头部消金已开启拉新"),
    ("新市民", "服务新市民群体"),               # substring inside a longer Chinese run
    ("消费 金融", "消费金融"),                  # white space inside a phrase is not significant
    ("消费金融", "消费 金融"),
    ("3亿", "３亿新市民"),                     # full-width digits
    ("ABC银行", "ａｂｃ银行"),                  # full-width Latin letters, case
    ('"新市民（含农民工）"', "新市民(含农民工)"),  # full-width vs ASCII brackets in a phrase
    ('"征信,助贷"', "征信，助贷"),               # full-width comma
    ('"“新市民”"', '"新市民"群体'),               # curly vs straight quotes
    ("new citizens", "serving New  Citizens in cities"),
])
def test_script_width_and_spacing_fold(term, text):
    assert matches(term, "", text), (term, text)


@pytest.mark.parametrize("term, text", [
    ("AI", "he said so"),            # Latin terms respect word boundaries
    ("loan", "loans"),               # ... at both ends
    ("新市民", "新市场"),
    ("new citizens", "newcitizens"),
])
def test_no_false_matches(term, text):
    assert not matches(term, "", text), (term, text)


def test_word_boundaries_between_scripts_and_between_letters_and_digits():
    assert matches("AI", "", "银行用AI审批")
    assert matches("ETF", "", "科创50ETF规模")  # letters after digits start a new word
    assert not matches("3亿", "", "13亿元")     # but a digit run is one number
    assert matches("3亿", "", "约3亿元")


def test_spans_land_on_the_original_traditional_text():
    doc = Doc(title="頭部消金已開啟”新市民”拉新獲客 怎么滿足3億人的消費金融需求?",
              content="服務新 市民 與消費金融")
    results = Matcher([("w", parse_query("消费金融 新市民 头部消金"))]).match(doc)
    assert [r.watch for r in results] == ["w"]
    got = {(h.field, doc.title[h.start:h.end] if h.field == "title" else doc.content[h.start:h.end])
           for h in results[0].hits}
    assert ("title", "消費金融") in got
    assert ("title", "新市民") in got
    assert ("title", "頭部消金") in got
    assert ("content", "新 市民") in got  # a span across the ignored space, on the original characters
    assert ("content", "消費金融") in got


def test_spans_with_full_width_and_expanding_characters():
    doc = Doc(title="㈱ＡＢＣ银行发放３亿元", content="")
    hits = Matcher([("w", parse_query('"abc银行" 3亿'))]).match(doc)[0].hits
    assert sorted(doc.title[h.start:h.end] for h in hits) == ["３亿", "ＡＢＣ银行"]


def test_explain_lists_every_watch():
    matcher = Matcher([("a", parse_query("新市民")), ("b", parse_query("助贷 -招聘")), ("c", parse_query("普惠"))])
    results = {r.watch: r for r in matcher.explain(Doc(title="新市民与助贷", content="招聘"))}
    assert results["a"].matched and not results["b"].matched and not results["c"].matched
    assert [h.term for h in results["b"].hits] == ["助贷"]  # found, but the NOT excluded it
    assert results["c"].hits == []


@pytest.mark.parametrize("path", sorted(SEEDS.iterdir()), ids=lambda p: p.name[:3])
def test_seed_files_match(path):
    article = read_article_file(path, tz=ZoneInfo("Asia/Shanghai"))
    doc = Doc(title=article.title, content=article.body, source=article.source or "")
    matched = set(Matcher([("新市民", parse_query("新市民")), ("消费金融", parse_query("消费金融 OR 消金"))]).decide(doc))
    if path.name.startswith("002"):  # the traditional-script seed
        assert matched == {"新市民", "消费金融"}
    assert "新市民" in matched or "消费金融" in matched


# -- property: the automaton agrees with a naive evaluator --------------------------------------

def naive(node: Node, doc: Doc) -> bool:
    """Reference: str.find over the match form of each field, boundaries checked by hand."""
    def occurs(term: str, text: str) -> bool:
        pat, hay = match_form(term).strip(), match_form(text)
        if not pat:
            return False
        start = hay.find(pat)
        while start >= 0:
            end = start + len(pat)
            lc, rc = _char_class(pat[0]), _char_class(pat[-1])
            left_ok = not (lc and start > 0 and lc.match(hay[start - 1]))
            right_ok = not (rc and end < len(hay) and rc.match(hay[end]))
            if left_ok and right_ok:
                return True
            start = hay.find(pat, start + 1)
        return False

    if isinstance(node, Term):
        if node.field == "title":
            return occurs(node.text, doc.title)
        if node.field == "source":
            return occurs(node.text, doc.source)
        return any(occurs(node.text, t) for t in (doc.title, doc.summary, doc.content))
    if isinstance(node, Not):
        return not naive(node.child, doc)
    if isinstance(node, And):
        return all(naive(c, doc) for c in node.children)
    return any(naive(c, doc) for c in node.children)


ALPHABET = "新市民消費费金融贷款頭头部ab 1１Ａ，,"
texts = st.text(alphabet=ALPHABET, max_size=40)
words = st.text(alphabet="新市民消費费金融贷款頭头ab1１Ａ", min_size=1, max_size=4)


def render(node: Node) -> str:
    if isinstance(node, Term):
        body = f'"{node.text}"' if node.phrase else node.text
        return f"{node.field}:{body}" if node.field else body
    if isinstance(node, Not):
        return f"-({render(node.child)})" if not isinstance(node.child, Term) else f"-{render(node.child)}"
    joiner = " " if isinstance(node, And) else " OR "
    return "(" + joiner.join(render(c) for c in node.children) + ")"


terms_st = st.builds(lambda w, f, p: Term(w, f, p), words, st.sampled_from([None, None, "title"]), st.booleans())
trees = st.recursive(
    terms_st,
    lambda kids: st.one_of(
        st.builds(lambda cs: And(tuple(cs)), st.lists(kids, min_size=2, max_size=3)),
        st.builds(lambda cs: Or(tuple(cs)), st.lists(kids, min_size=2, max_size=3)),
        st.builds(Not, kids),
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(trees=st.lists(trees, min_size=1, max_size=4), title=texts, content=texts)
def test_automaton_agrees_with_naive_evaluator(trees, title, content):
    parsed = []
    for i, tree in enumerate(trees):
        try:
            parsed.append((f"w{i}", parse_query(render(tree))))
        except QueryError:
            continue  # an all-negative tree: refused by design
    doc = Doc(title=title, content=content)
    expected = [name for name, tree in parsed if naive(tree, doc)]
    assert Matcher(parsed).decide(doc) == expected


def test_a_boundary_is_checked_per_occurrence_for_highlights():
    """'AI' standing alone matches; the 'ai' inside 'said' is not highlighted with it."""
    m = Matcher([("ai", parse_query("AI"))])
    doc = Doc(title="He said AI lending grows", content="")
    [result] = m.match(doc)
    assert [(h.start, h.end) for h in result.hits] == [(8, 10)]


def test_a_term_named_twice_is_highlighted_once():
    m = Matcher([("w", parse_query("新市民 OR title:新市民"))])
    [result] = m.match(Doc(title="服务新市民", content=""))
    assert [(h.field, h.start, h.end) for h in result.hits] == [("title", 2, 5)]


@pytest.mark.parametrize("seed", range(3))
def test_highlights_cover_the_term_in_the_original_text(seed):
    """Wherever folding moved characters (an ellipsis becomes three dots, a zero-width space
    goes, spaces between Chinese words go, traditional script is converted), a highlight covers
    exactly the original characters of the term."""
    rng = random.Random(seed)
    terms = ["新市民", "消费金融", "普惠金融", "AI", "LPR"]
    noise = ["……", "\u200b", " ", "  ", "，", "ﬁ", "Ａ", "銀行", "乾隆", "said", "\n", "。"]
    m = Matcher([(t, parse_query(t)) for t in terms])
    placed = 0
    for _ in range(200):
        parts = [rng.choice(noise + ["消費金融", "新市民", "普惠 金融", "AI", "ＬＰＲ"]) for _ in range(rng.randint(1, 40))]
        doc = Doc(title="", content="".join(parts))
        for result in m.match(doc):
            for hit in result.hits:
                text = doc.content
                assert match_form(text[hit.start:hit.end]) == match_form(hit.term), (text, hit)
                if hit.term in ("AI", "LPR"):  # a whole word: no letter glued on either side
                    assert not (hit.start and match_form(text[hit.start - 1]).isalpha()
                                and match_form(text[hit.start - 1]).isascii()), (text, hit)
                    assert not (hit.end < len(text) and match_form(text[hit.end]).isalpha()
                                and match_form(text[hit.end]).isascii()), (text, hit)
                placed += 1
    assert placed > 200  # the texts are built to hold terms: most of them do


@pytest.mark.parametrize("url", [
    "http://a.com/x", "https://B.com:80/p?q", "http://a.com?x=/y", "http://a.com#f/g", "http://u:p@h.com/x",
    "http://[::1]:8/x", "mailto:a@b.com", "a.com/x", "//a.com/x", "http://a.com", "http:/a.com/x", "x//y/z",
    "mailto:x?y=http://z/w", "HTTP://A.COM/x",
])
def test_the_remembered_host_of_a_link_is_urlsplits(url):
    assert _host(url) == urlsplit(url).hostname
    assert _host(url) == urlsplit(url).hostname  # and again, from the memo
