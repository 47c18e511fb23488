"""Hostile and unlucky input, each case as it was reported: NUL characters, a decompression bomb, a
feed of 100,000 items beside healthy ones. Real HTTP on 127.0.0.1, real databases."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

from helpers.feedserver import Response
from helpers.paths import DATA
from helpers.polling import feed_row, rss, run_poll, setup
from sqlalchemy import select

from monitor.pipeline.poll import poll
from monitor.store.models import Item

RSS_HEAD = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'


def test_nul_and_control_characters_are_stored_clean_on_every_database(make_config, feed_server):
    body = (RSS_HEAD + "<item><title>a&#0;b</title><guid>1</guid><description>新&#1;市民&#x0;</description></item>"
            "<item><title>c\x00d</title><guid>2</guid><description>x\x0by\x1b[31m</description></item>"
            "<item><title>正常</title><guid>3</guid><description>消费金融</description></item></channel></rss>")
    feed_server.routes["/nul.xml"] = Response(200, body.encode(), {"Content-Type": "application/rss+xml"})
    config, db = setup(make_config, [{"name": "nul", "url": feed_server.url("/nul.xml")}])
    result = run_poll(config, db)["nul"]
    assert result.status == "ok" and result.new == 3, result.error
    with db.session() as s:
        rows = {i.guid: i for i in s.scalars(select(Item).where(Item.feed_id.is_not(None)))}
    assert rows["1"].title == "ab" and rows["1"].summary == "新市民"
    assert rows["2"].title == "cd" and rows["2"].summary == "xy[31m"
    stored = "".join(f"{i.title}{i.summary}" for i in rows.values())
    assert not any(ord(c) < 32 and c not in "\n\t" for c in stored)
    assert feed_row(db, "nul").consecutive_failures == 0


def test_a_brotli_bomb_is_cut_while_decoding_and_memory_stays_bounded(make_config, feed_server):
    bomb = (DATA / "bombs" / "zeros-3GiB.br").read_bytes()  # 2.4 KB that decode to 3 GiB
    feed_server.routes["/bomb.xml"] = Response(200, bomb, {"Content-Type": "application/rss+xml",
                                                           "Content-Encoding": "br"})
    feed_server.routes["/ok.xml"] = Response(200, rss([("g1", "新市民金融服务提速")]))
    path = make_config({"feeds": [{"name": "bomb", "url": feed_server.url("/bomb.xml")},
                                  {"name": "ok", "url": feed_server.url("/ok.xml")}]})
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", PEAK_RUNNER, "--config", str(path), "poll", "--json"],
                         capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    results = {r["feed"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert results["bomb"]["status"] == "error" and "body larger than" in results["bomb"]["error"], out.stderr
    assert results["ok"]["status"] == "ok" and results["ok"]["new"] == 1
    assert elapsed < 30 and results["ok"]["seconds"] < 5
    peak_mb = int(out.stderr.rsplit("PEAK ", 1)[1].split()[0]) / 1024
    assert peak_mb < 400, f"the poll peaked at {peak_mb:.0f} MB"


# `monitor` in a process that reports its own peak resident memory (KB) when it ends.
PEAK_RUNNER = ("import resource, sys; from monitor.cli import main; rc = main(sys.argv[1:]); "
               "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)")


def giant_feed(n: int) -> bytes:
    items = "".join(f"<item><title>第{i}号公告</title><guid>g{i}</guid><link>https://a.example.com/{i}</link>"
                    f"<description>编号{i}</description></item>" for i in range(n))
    return (RSS_HEAD + items + "</channel></rss>").encode()


def test_a_giant_feed_slows_only_itself(make_config, feed_server):
    feed_server.routes["/giant.xml"] = Response(200, giant_feed(100_000), {"Content-Type": "application/rss+xml"})
    feeds = [{"name": "giant", "url": feed_server.url("/giant.xml")}]
    for n in range(4):
        feed_server.routes[f"/h{n}.xml"] = Response(200, rss([(f"h{n}-{k}", f"新市民第{n}-{k}条") for k in range(20)]))
        feeds.append({"name": f"h{n}", "url": feed_server.url(f"/h{n}.xml")})
    feeds.append({"name": "refused", "url": "http://127.0.0.1:9/nothing"})
    config, db = setup(make_config, feeds)
    finished: dict[str, float] = {}
    lags: list[float] = []

    async def main() -> None:
        started = time.monotonic()

        async def ticker() -> None:  # how late the event loop answers while the giant feed is parsed
            while True:
                t = time.monotonic()
                await asyncio.sleep(0.05)
                lags.append(time.monotonic() - t - 0.05)

        tick = asyncio.create_task(ticker())
        task = asyncio.create_task(poll(config, db, owner="test", due_only=False,
                                        on_result=lambda r: finished.setdefault(r.feed, time.monotonic() - started)))
        # Watch the loop while the giant feed is fetched, parsed and (partly) stored.
        while "giant" not in finished and time.monotonic() - started < 25:
            await asyncio.sleep(0.1)
        tick.cancel()
        task.cancel()  # the giant feed may still be storing; this test is about the others
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    healthy = {n: finished.get(n) for n in ("h0", "h1", "h2", "h3")}
    assert all(t is not None and t < 5 for t in healthy.values()), healthy
    assert finished.get("refused") is not None and finished["refused"] < 5  # its real reason, not a timeout
    assert "cannot connect" in feed_row(db, "refused").last_error
    assert max(lags) < 1.0, f"the event loop stalled for {max(lags):.1f}s"
