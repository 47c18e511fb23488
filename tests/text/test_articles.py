"""Article files in the shapes they really come in → title, source, date, clean body."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from helpers.paths import SEEDS

from monitor.pipeline.seeds import read_article_file
from monitor.text.articles import parse_article
from monitor.text.boilerplate import strip_boilerplate
from monitor.text.html import html_to_text

TZ = ZoneInfo("Asia/Shanghai")
CST = timezone(timedelta(hours=8))

# file: (title, source, author, published, first words of body, last words of body, boilerplate that must go)
CASES = {
    "000_c0b695cec8de91a6.txt": (
        "金融机构抢滩3亿“新市民”金融服务 推专属贷款成银行切入口", "证券日报", None, datetime(2022, 3, 25, 7, 29, 50, tzinfo=CST),
        "除了传统金融机构，持牌消费金融", "服务水平欠缺。", ["文章来源", "返回首页", "返回证券日报新闻", "<p>", "http://"]),
    "001_5260ecbddfb32eb7.txt": (
        "因地制宜开展产品和服务创新消费金融公司加强新市民金融服务力度", "金融时报", None, None,
        "有业内人士表示", "通过多种形式触达覆盖更多新市民群体。", ["全球热点", "【资料图】", "关键词"]),
    "002_f638c4c5540e554e.txt": (
        "頭部消金已開啟”新市民”拉新獲客 怎么滿足3億人的消費金融需求?", "北京商報", None, datetime(2022, 4, 13, 8, 45, 19, tzinfo=CST),
        "近幾日,“新市民”一詞", "加強‘新市民’金融意識的服務工作。”于百程說道。",
        ["手機版", "網站導航", "觀察家網", "標簽", "相關推薦", "澳亚国际", "2022-04-13 08:45:19", "<sup", "acronym"]),
    "003_4d2aff48cac85e48.txt": (
        "过去两周，我们多个部门一直在开会，讨论如何整合互联网银行、电话银行", "21世纪经济报道", "陈植", None,
        "“过去两周，我们多个部门", "减轻他们过度信贷所造成的沉重个人债务负担。", ["责任编辑", "王婉莹", "（作者：陈植）", "上海报道"]),
    "004_55582425daf9038f.txt": (
        "烟火气里的金融活水,消费金融如何激活普惠客群?", "金融周观察", None, datetime(2026, 1, 19, tzinfo=TZ),
        "从县域小店的收银台", "为经济高质量发展注入持久动力。",
        ["免责声明", "在线客服", "0512-36606275", "CDG-Marketing", "*姓名", "2026/01/19", "\n65\n"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_seed_files(name):
    title, source, author, published, head, tail, junk = CASES[name]
    a = read_article_file(SEEDS / name, tz=TZ)
    assert a.title == title
    assert a.source == source
    assert a.author == author
    assert a.published == published
    assert a.body.startswith(head)
    assert a.body.endswith(tail)
    assert title not in a.body.split("\n")[0] or a.title_derived
    for j in junk:
        assert j not in a.body, j
    assert a.title_derived == (name.startswith("003"))


def test_url_from_file():
    a = read_article_file(SEEDS / "000_c0b695cec8de91a6.txt", tz=TZ)
    assert a.url == "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202203252322245562"


def test_traditional_text_kept_as_written():
    a = read_article_file(SEEDS / "002_f638c4c5540e554e.txt", tz=TZ)
    assert "消費金融" in a.body and "消费金融" not in a.body


def test_empty_and_garbage_are_errors(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        parse_article("  \n ", tz=TZ)
    bad = tmp_path / "bin.txt"
    bad.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="bin.txt"):
        read_article_file(bad, tz=TZ)
    with pytest.raises(OSError, match="nothing.txt"):
        read_article_file(tmp_path / "nothing.txt", tz=TZ)


def test_gbk_file(tmp_path):
    f = tmp_path / "gbk.txt"
    f.write_bytes("消费金融新规发布\n\n监管部门今日发布消费金融公司管理办法，对助贷业务提出新要求。".encode("gbk"))
    a = read_article_file(f, tz=TZ)
    assert a.title == "消费金融新规发布" and a.body.startswith("监管部门今日发布")


def test_html_drops_scripts_keeps_paragraphs():
    text = html_to_text("<div><p>第一段<script>alert(1)</script></p><style>p{}</style><p>第二<b>段</b></p></div>")
    assert text == "第一段\n第二段"
    assert html_to_text("") == "" and html_to_text("<<<>>>") in ("", "<<<>>>")


def test_footer_word_inside_the_article_does_not_cut_it():
    body = ["正文第一段，" * 30, "免责声明制度是本文讨论的话题之一。", "正文第三段，" * 30, "正文第四段。" * 30,
            "相关推荐", "另一篇文章的标题"]
    kept = strip_boilerplate(body)
    assert kept[1].startswith("免责声明制度") and kept[-1].startswith("正文第四段")
