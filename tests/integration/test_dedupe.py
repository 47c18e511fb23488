"""Dedupe: every shape of reprint from the issue, against the seed corpus in a real database, and
the negatives that must stay separate (the shared 新市民 definition, the 北向资金 series)."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import opencc
import pytest
from helpers.feedserver import Response
from helpers.paths import SEEDS
from sqlalchemy import insert, select

from monitor.config import load_config
from monitor.dedupe.decide import Deduper
from monitor.pipeline.seeds import import_seeds, read_article_file
from monitor.store import Database, fingerprints, items
from monitor.store.models import Duplicate, Item
from monitor.text.normalize import content_hash

TZ = ZoneInfo("Asia/Shanghai")
S2T = opencc.OpenCC("s2t")
SEED = {p.name[:3]: read_article_file(p, tz=TZ) for p in sorted(SEEDS.iterdir())}


@pytest.fixture
def store(make_config):
    """A database holding the five seeds, as `make run` leaves it."""
    config = load_config(make_config())
    db = Database(config.database)
    db.migrate()
    results = import_seeds(db, config.seeds, config.tz)
    ids = {r.file[:3]: r.item_id for r in results}
    yield db, ids
    db.dispose()


def check(db, title, body, **kw):
    with db.session() as s:
        return Deduper().check(fingerprints.SqlLookup(s), title, body, **kw)


def decide(s, ids) -> int:
    """Dedupe stored items as a poll does; returns how many were duplicates."""
    outcomes = Deduper().decide(fingerprints.SqlLookup(s), [items.article(s, i) for i in ids])
    return fingerprints.save_outcomes(s, outcomes)


def add(db, title, body) -> int:
    now = datetime.now(UTC)
    with db.begin() as s:
        item_id = s.scalar(insert(Item).returning(Item.id), [dict(
            title=title, content=body, content_hash=content_hash(body) if body else None, title_derived=False,
            published_at=now, fetched_at=now, updated_at=now)])
        decide(s, [item_id])
    return item_id


# -- titles and figures ----------------------------------------------------------------------------


# -- the shapes of a reprint of a seed ------------------------------------------------------------

def test_exact_copy_is_a_hash_duplicate(store):
    db, ids = store
    d = check(db, "另一个标题", SEED["001"].body)
    assert (d.duplicate_of, d.method, d.similarity) == (ids["001"], "hash", 1.0)


def test_content_farm_reprint_in_traditional_script_with_portal_boilerplate(store):
    db, ids = store
    a = SEED["000"]
    paras = a.body.split("\n")
    body = "\n".join(
        ["首页 > 财经 > 正文", "手机版 | 网站导航", paras[3][:40]]  # navigation, a pull quote
        + paras[:5] + paras[6:]                                   # a paragraph dropped
        + ["责任编辑：王晓明", "免责声明：本文仅供参考，不构成投资建议。", "相关推荐", "央行开展逆回购操作"]
    )
    d = check(db, "全球热点!" + S2T.convert(a.title) + " - 新浪财经", S2T.convert(body).replace("，", ","))
    assert d.is_duplicate and d.duplicate_of == ids["000"] and d.method == "near", d
    assert d.similarity > 0.8


def test_half_of_the_paragraphs_is_still_a_reprint(store):
    db, ids = store
    paras = SEED["004"].body.split("\n")
    d = check(db, SEED["004"].title, "\n".join(paras[: len(paras) // 2]))
    assert d.duplicate_of == ids["004"], d


def test_summary_only_entry_inside_a_stored_article(store):
    db, ids = store
    flat = "".join(SEED["002"].body.split("\n"))
    for start in (0, 400, 900):
        d = check(db, "消金拉新观察", flat[start:start + 150] + "……")
        assert d.kind == "summary"
        assert d.duplicate_of == ids["002"] and d.method == "summary", (start, d)


def test_title_only_search_entry(store):
    db, ids = store
    d = check(db, "焦点快讯|金融机构抢滩3亿“新市民”金融服务 推专属贷款成银行切入口_网易财经", "")
    assert d.kind == "title" and d.duplicate_of == ids["000"] and d.method == "title", d
    d = check(db, "金融机构抢滩3亿“新市民”金融服务", "")  # the subtitle dropped
    assert d.duplicate_of == ids["000"], d


# -- what must stay separate ----------------------------------------------------------------------

def test_seeds_sharing_the_new_citizen_definition_stay_separate(store):
    db, ids = store
    for key, article in SEED.items():
        d = check(db, article.title, article.body, exclude=frozenset({ids[key]}))
        assert not d.is_duplicate, (key, d)
    definition = next(p for a in SEED.values() for p in a.body.split("\n") if "新市民" in p and "是指" in p)
    other = "今年以来，多家城商行推出面向小微企业主的经营贷产品，审批时效缩短至一个工作日。" * 3
    d = check(db, "城商行小微金融观察", other + "\n" + definition + "\n" + other[::-1])
    assert not d.is_duplicate, d
    assert any(c.method in ("near", "summary") for c in d.nearest) or not d.nearest


def test_one_sentence_updates_with_different_figures_stay_separate(store):
    db, _ = store
    first = add(db, "北向资金净流入超40亿", "数据显示，截至目前，北向资金净流入超40亿元。")
    d = check(db, "北向资金净流入超50亿", "数据显示，截至目前，北向资金净流入超50亿元。")
    assert not d.is_duplicate, d
    d = check(db, "北向资金净流入超50亿", "")
    assert not d.is_duplicate, d
    d = check(db, "北向资金净流入超40亿元", "数据显示，截至目前，北向资金净流入超40亿元。")
    assert d.duplicate_of == first


def test_duplicates_link_to_the_first_seen_article_of_the_story(store):
    db, ids = store
    paras = SEED["003"].body.split("\n")
    second = add(db, SEED["003"].title + " - 新浪财经", "\n".join(paras[1:]))
    third = add(db, "【独家】" + SEED["003"].title, "\n".join(paras[:-1]))
    with db.session() as s:
        links = dict(s.execute(select(Duplicate.item_id, Duplicate.duplicate_of_id)).all())
    assert links[second] == ids["003"] and links[third] == ids["003"]


def test_batch_items_see_each_other(store):
    """Two copies of a new story stored in one poll: the second links to the first."""
    db, _ = store
    body = "某城商行今日宣布，面向新就业形态劳动者推出专属信用贷款产品，额度最高30万元，利率较同类产品低50个基点。" * 4
    now = datetime.now(UTC)
    with db.begin() as s:
        rows = [dict(title=t, content=b, content_hash=content_hash(b), title_derived=False, published_at=now,
                     fetched_at=now, updated_at=now)
                for t, b in (("城商行推出新市民信用贷", body), ("城商行推出新市民信用贷 - 新浪财经", "首页 > 财经\n" + body))]
        a, b = s.scalars(insert(Item).returning(Item.id, sort_by_parameter_order=True), rows).all()
        assert decide(s, [a, b]) == 1
    with db.session() as s:
        assert s.get(Duplicate, b).duplicate_of_id == a and s.get(Duplicate, a) is None


# -- through the poll and the CLI -----------------------------------------------------------------

def rss_item(guid: str, title: str, description: str) -> str:
    from xml.sax.saxutils import escape

    return (f"<item><title>{escape(title)}</title><link>https://reprint.example.com/{guid}.html</link>"
            f"<guid>{guid}</guid><description>{escape(description)}</description></item>")


def test_poll_marks_a_seed_reprint_and_items_json_shows_it(store, make_config, feed_server):
    db, ids = store
    reprint = S2T.convert(SEED["002"].body)
    fresh = "某农商行发布县域普惠金融服务方案，计划三年内新增涉农贷款200亿元，覆盖辖内全部行政村。" * 3
    body = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
            + rss_item("r1", "热点聚焦！" + SEED["002"].title, reprint)
            + rss_item("r2", "农商行县域普惠方案", fresh) + "</channel></rss>").encode()
    feed_server.routes["/f.xml"] = Response(200, body, {"Content-Type": "application/rss+xml"})
    path = make_config({"feeds": [{"name": "f", "url": feed_server.url("/f.xml")}]})
    out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), "poll", "--all"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    listed = subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), "items", "--json"],
                            capture_output=True, text=True, timeout=60)
    rows = {r["title"]: r for r in map(json.loads, listed.stdout.splitlines())}
    dup = rows["热点聚焦！" + SEED["002"].title]["duplicate_of"]
    assert dup["id"] == ids["002"] and dup["seed"].startswith("002") and dup["similarity"] > 0.8
    assert rows["农商行县域普惠方案"]["duplicate_of"] is None


def test_dedupe_command_reads_a_file_or_stdin_and_stores_nothing(store, make_config, tmp_path):
    db, ids = store
    path = make_config()
    page = tmp_path / "page.html"
    paras = "".join(f"<p>{S2T.convert(p)}</p>" for p in SEED["004"].body.split("\n"))
    page.write_text(f"<html><head><title>{SEED['004'].title}</title><script>x()</script></head>"
                    f"<body><div class='nav'>首页 &gt; 财经</div>{paras}</body></html>", encoding="utf-8")
    base = [sys.executable, "-m", "monitor", "--config", str(path), "dedupe"]
    out = subprocess.run(base + [str(page), "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stderr  # grep-like: 1 says "it is a duplicate"
    report = json.loads(out.stdout)
    assert report["duplicate"] and report["duplicate_of"] == ids["004"]
    new = subprocess.run(base + ["-"], input="今日天气晴好，适合出行。公园里游人如织，孩子们在草地上放风筝。" * 5,
                         capture_output=True, text=True, timeout=60)
    assert new.returncode == 0 and new.stdout.startswith("new:"), new.stdout + new.stderr
    with db.session() as s:
        assert s.scalar(select(Item.id).order_by(Item.id.desc()).limit(1)) == max(ids.values())


def test_a_story_is_shown_by_its_earliest_copy_that_is_not_a_farms(make_config, feed_server):
    """The content farm's copy was stored first; the wire's, published earlier, heads the story."""
    import email.utils

    from helpers.polling import run_poll, setup

    from monitor.mail.compose import compose

    now = datetime.now(UTC)
    body = ("新市民金融服务再提速：某城商行今日宣布面向新市民推出专属信用贷款，额度最高30万元，"
            "审批时间缩短至两个工作日，首批已有1200户获得授信。") * 3

    def feed(channel, guid, title, minutes_ago):
        when = email.utils.format_datetime(now - timedelta(minutes=minutes_ago))
        xml = (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{channel}</title>"
               f"<item><title>{title}</title><guid>{guid}</guid><link>https://{guid}.example.com/a</link>"
               f"<description>{body}</description><pubDate>{when}</pubDate></item></channel></rss>")
        return Response(200, xml.encode(), {"Content-Type": "application/rss+xml"})

    feed_server.routes["/farm.xml"] = feed("每日资讯", "farm", "全球热点!城商行推出新市民专属信用贷", 20)
    feed_server.routes["/wire.xml"] = feed("证券日报", "wire", "城商行推出新市民专属信用贷", 37)
    config, db = setup(make_config, [{"name": "farm", "url": feed_server.url("/farm.xml")},
                                     {"name": "wire", "url": feed_server.url("/wire.xml")}])
    run_poll(config, db, names=["farm"])
    run_poll(config, db, names=["wire"])
    with db.session() as s:
        (c,) = compose(s, config, "digest", now=datetime.now(UTC), period="p", label="p")
    (section,) = [sec for sec in c.digest.sections if sec.items]
    (story,) = section.items
    assert "".join(t for t, _ in story.title) == "城商行推出新市民专属信用贷" and story.source == "证券日报"
    assert [o.name for o in story.also] == ["每日资讯"]


def test_stored_articles_keep_a_sketch_that_verifies_them_without_their_text(store):
    """The seeds were decided at import: each has a sketch, and a reprint is verified from it even
    when the stored text can no longer be read (the look-up's text reader refuses)."""
    db, ids = store
    with db.session() as s:
        found = fingerprints.SqlLookup(s).sketches(list(ids.values()))
    assert set(found) == set(ids.values()) and all(len(data) > 1000 for _, data in found.values())

    class NoText(fingerprints.SqlLookup):
        def articles(self, ids):
            raise AssertionError("stored text read instead of the sketch")

    a = SEED["002"]
    with db.session() as s:
        d = Deduper().check(NoText(s), "全球热点!" + a.title, "\n".join(a.body.split("\n")[1:]))
    assert d.duplicate_of == ids["002"] and d.method == "near"
    with db.begin() as s:
        fingerprints.forget(s, [ids["002"]])
    with db.session() as s:
        assert ids["002"] not in fingerprints.SqlLookup(s).sketches([ids["002"]])
