"""The poll's progress: done of total, failing, in flight and the feed waited on, ETA."""
from __future__ import annotations

import io

from monitor.cli.feeds import Progress
from monitor.pipeline.poll import FeedResult


def results(n: int) -> list[FeedResult]:
    return [FeedResult(f"feed{i}", f"http://127.0.0.1:9/{i}", "error" if i % 7 == 0 else "ok") for i in range(n)]


def test_plain_lines_at_each_tenth_when_not_a_terminal():
    out = io.StringIO()
    p = Progress(out, live=False)
    rs = results(30)
    p.start([r.feed for r in rs])
    for r in rs:
        p.step(r)
    p.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in out.getvalue()
    assert lines[0].startswith("polled 3/30, 1 failing, 27 in flight, waiting on feed3, ETA ")
    assert lines[-1].startswith("polled 30/30, 5 failing, 0 in flight, ETA 0s")


def test_one_line_rewritten_on_a_terminal_and_cleared_at_the_end():
    out = io.StringIO()
    p = Progress(out, live=True)
    rs = results(3)
    p.start([r.feed for r in rs])
    p.step(rs[1])
    assert out.getvalue().startswith("\rpolled 1/3, 0 failing, 2 in flight, waiting on feed0")
    p.step(rs[0])
    p.step(rs[2])
    p.close()
    assert out.getvalue().count("\r") == 5 and out.getvalue().endswith("\r")  # 3 steps, then cleared
