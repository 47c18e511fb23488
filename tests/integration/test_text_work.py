"""New entries' text work (match forms, content hashes, dedupe forms) done in the parse pool is
what the writer thread would have computed, and the writer uses it instead of computing again."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from helpers.pool import built, frozen

from monitor.dedupe.fingerprint import pack, prepare
from monitor.pipeline.workers import Workers, text_work
from monitor.sources.entries import make_entry
from monitor.text import normalize
from monitor.text.normalize import content_hash, match_form, primed
from monitor.watch.matcher import Matcher, doc_of
from monitor.watch.query import parse_query

BODY = ("某城商行今日宣布，面向新就業形態勞動者推出專屬信用貸款產品，額度最高30萬元。\n"
        "該行相關負責人表示，產品依託社保和公積金數據進行授信，審批時間縮短至兩個工作日。")


def entries():
    now = datetime(2026, 12, 3, tzinfo=UTC)
    return [make_entry(guid=f"g{i}", url=f"http://127.0.0.1/a/{i}", title=f"城商行推出新市民信用貸 第{i}期",
                       author=None, summary=BODY[:40], content=BODY * (i + 1), published=now, source="证券日报")
            for i in range(3)]


def check(work, given):
    for e in given:
        for s in (e.title, e.summary, e.content):
            assert work.forms[s] == match_form(s)
        assert work.hashes[e.body] == content_hash(e.body)
        p, q = work.prepared[(e.title, e.body)], prepare(e.title, e.body)
        assert (p.anchors.tolist(), p.title_keys.tolist(), p.kind, p.body_numbers) == \
               (q.anchors.tolist(), q.title_keys.tolist(), q.kind, q.body_numbers)
        # The sketch is packed in the worker and carries the shingles (the squashed text stays there).
        assert p.sketch == pack(q) and p.body == ""
        assert p.shingles.tolist() == q.shingles.tolist()


def test_text_work_in_the_process_pool_equals_the_writers_own():
    workers = Workers(processes=2)
    workers.expect(10)  # a poll of several feeds: the pool is used

    async def run():
        try:
            return await workers.text_work(entries())
        finally:
            await workers.close()

    work = asyncio.run(run())
    assert work is not None
    check(work, entries())


def test_new_entries_are_matched_in_the_pool_as_the_writer_would_match_them():
    watches = [("新市民", parse_query("新市民 OR 新就业 -保险")), ("信贷", parse_query('title:信用贷 "30万元"')),
               ("无关", parse_query("房地产")), ("搜索", parse_query("普惠金融"))]
    writer = Matcher(watches)
    workers = Workers(processes=2, watches=watches)
    workers.expect(10)

    async def run(searched_for):
        return await workers.text_work(entries(), feed="城商行", searched_for=searched_for)

    async def both():
        try:
            return await run(None), await run("搜索")
        finally:
            await workers.close()

    plain, searched = asyncio.run(both())
    for work, searched_for in ((plain, None), (searched, "搜索")):
        assert work is not None and work.matched is not None
        for e in entries():
            fields = (e.title, e.summary, e.content, e.source, e.canonical_url or e.url, "城商行")
            mine = writer.match(doc_of(*fields), searched_for=searched_for)
            assert work.matched[fields] == mine
            assert {r.watch for r in mine} == {"新市民", "信贷"} | ({"搜索"} if searched_for else set())
            assert all(r.hits for r in mine if r.via is None)  # with the places of the terms


def test_without_a_pool_the_writer_does_it_itself():
    workers = Workers(processes=2)
    workers.expect(1)
    assert asyncio.run(workers.text_work(entries())) is None
    check(text_work(entries()), entries())


def test_primed_forms_and_hashes_answer_only_inside_the_block():
    text = "消費金融" * 30
    with primed({text: "FORM"}, {text: "HASH"}):
        assert match_form(text) == "FORM" and content_hash(text) == "HASH"
        assert match_form("其他") == "其他"
    assert match_form(text) == "消费金融" * 30
    assert content_hash(text) != "HASH"
    assert getattr(normalize._primed, "forms", None) is None


def test_a_feed_with_more_new_entries_than_the_cap_is_left_to_the_writer():
    from monitor.pipeline.workers import TEXT_WORK_MAX

    workers = Workers(processes=2)
    workers.expect(10)
    many = entries() * (TEXT_WORK_MAX // 3 + 1)
    assert len(many) > TEXT_WORK_MAX
    assert asyncio.run(workers.text_work(many)) is None
    assert workers._pool is None  # not even started for it


def test_workers_start_with_what_the_fork_server_built():
    """The converters and the t2s table are built once, in the fork server, and the workers forked
    from it share them (pipeline.warm): a fresh worker's first task finds them made."""
    workers = Workers(processes=2)
    pool = workers._processes()
    try:
        found = pool.submit(built).result(timeout=120)
        inherited = pool.submit(frozen).result(timeout=120)
    finally:
        pool.shutdown()
    assert found == [(1, 1)] * 3  # made once, before the fork; none of them made by this worker
    # ... and frozen there, so the worker's collections do not copy the pages they sit on
    assert inherited > 10_000
