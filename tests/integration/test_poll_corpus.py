"""Every feed of feedparser's own test suite, served over HTTP and polled in one run: nothing
crashes, and each feed ends parsed or as an error with a reason."""
from __future__ import annotations

import asyncio
import re
from collections import Counter

import pytest
from helpers.feedserver import Response
from helpers.paths import CORPORA
from sqlalchemy import func, select

from monitor.config import load_config
from monitor.pipeline.poll import poll
from monitor.store import Database
from monitor.store.models import Feed

CORPUS = CORPORA / "feedparser_tests" / "tests"
_HEADER = re.compile(r"^Header:\s*([^:]+):\s*(.*)$", re.M)


def served_headers(data: bytes) -> dict[str, str]:
    head = data[:2000].decode("latin-1")
    comment = head[head.find("<!--"): head.find("-->")] if "<!--" in head else ""
    return {k.strip(): v.strip() for k, v in _HEADER.findall(comment)}


@pytest.mark.corpus("feedparser_tests")
def test_whole_feedparser_corpus(tmp_path, feed_server, make_config):
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    feeds = []
    for i, f in enumerate(files):
        data = f.read_bytes()
        headers = served_headers(data)
        headers.setdefault("Content-Type", "application/xml")
        path = f"/{i}/{f.name}"
        feed_server.routes[path] = Response(200, data, headers)
        feeds.append({"name": str(f.relative_to(CORPUS)), "url": feed_server.url(path)})
    config = load_config(make_config({"feeds": feeds, "fetch": {"concurrency": 32, "per_host": 32}}))
    db = Database(config.database)
    db.migrate()

    results = asyncio.run(poll(config, db, owner="corpus"))

    assert len(results) == len(files) > 2000
    status = Counter(r.status for r in results)
    assert set(status) <= {"ok", "error"}
    errors = [r for r in results if r.status == "error"]
    assert all(r.error for r in errors)
    by_dir = Counter((r.feed.split("/")[0], r.status) for r in results)
    # Most of the corpus is usable feeds; the errors are files that hold no feed at all.
    # (measured: 2,084 parsed, 23 errors, 573 entries in all; most files test channel elements)
    assert status["ok"] >= 2050, (status, [(r.feed, r.error) for r in errors][:20])
    assert all(r.error.startswith(("not a feed", "empty body", "got an HTML page")) for r in errors), errors[:5]
    assert sum(r.new + r.updated + r.unchanged for r in results) > 500
    with db.session() as s:  # every feed's outcome is recorded for the health view
        assert s.scalar(select(func.count(Feed.id)).where(Feed.last_fetch_at.is_not(None))) == len(files)
    print(f"\nfeedparser corpus: {dict(status)}; errors by reason:",
          Counter(r.error.split(":")[0][:50] for r in errors).most_common(8), by_dir.most_common(3))
    db.dispose()
