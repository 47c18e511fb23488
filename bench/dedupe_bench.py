"""Dedupe benchmark: precision and recall on reprints, and throughput as the store grows.

Quality. The store holds the five seeds and every other finews post (real Chinese finance
articles, ../shared/corpora). Positives are reprints of stored articles made by bench/reprints.py
(content-farm title prefixes, site suffixes, traditional script, ASCII punctuation, navigation and
footers, pull quotes, dropped / merged / split paragraphs), in three shapes: full text, a
150-character summary, the title alone. Negatives are articles not in the store, in the same
shapes: the held-out finews posts (same wire, same themes, incl. the 北向资金 series of one
sentence with a different figure), each seed checked against the other four (three quote the
same 60-character definition of 新市民), and articles built around that definition. The finews
set has natural reprints of its own; those pairs are ground truth (NATURAL), and two unclear
pairs are left out of the count (UNCLEAR).

Throughput. Articles per second to fingerprint, check and insert (item row, fingerprints,
duplicate link) into SQLite stores of 10k, 100k and 1M articles, with the process's peak RSS.
The filler articles are random text, so their fingerprint rows are what distinct articles give:
the index has its real size; their text is not stored (it would only be read for a candidate).
"""
from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import reprints  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from monitor.dedupe.decide import Article as Stored  # noqa: E402
from monitor.dedupe.decide import Deduper  # noqa: E402
from monitor.pipeline import collector  # noqa: E402
from monitor.pipeline.seeds import read_article_file  # noqa: E402
from monitor.store.engine import Database, make_engine, sessions, upgrade  # noqa: E402
from monitor.store.fingerprints import SqlLookup, save_outcomes  # noqa: E402
from monitor.store.items import insert_items  # noqa: E402
from monitor.store.models import Item  # noqa: E402
from monitor.text.normalize import content_hash, squash  # noqa: E402

REPO = HERE.parent
FINEWS = REPO.parent / "shared" / "corpora" / "finews_posts" / "_posts"
RUNS = int(os.environ.get("BENCH_RUNS", 3))
SIZES = [int(x) for x in os.environ.get("BENCH_DEDUPE_SIZES", "10000,100000,1000000").split(",")]
# The in-memory peer at 1M articles needs several GB (8.4 GB measured for issue 21): not in `make bench`.
PEER_MAX = int(os.environ.get("BENCH_PEER_MAX", 100_000))
TZ = ZoneInfo("Asia/Shanghai")

# Natural reprints inside the finews set (read by hand): the same story under two ids.
NATURAL = [
    {"202112082206672930", "202112082206781916"},  # 离岸人民币 6.3512, title with/without the figure
    {"202112082206748961", "202112082206749391"},  # trailing 。
    {"202112082206736819", "202112082206808923"},  # 港交所 00388 vs 0388
    {"202112082206757673", "202112082206761079"},  # 北向资金净流入超40亿(元)
    {"202112082206896571", "202112082206936037"},  # 半导体法案, short and long title
]
UNCLEAR = [
    {"202112082206885586", "202112082206885694"},  # 港股午评, two write-ups of one midday report
    {"202112082206885192", "202112082206891293"},  # 工信部 目录, two write-ups
]


@dataclass
class Article:
    key: str
    title: str
    body: str


def load_articles() -> tuple[list[Article], list[Article]]:
    seeds = []
    for f in sorted((REPO / "seeds").iterdir()):
        a = read_article_file(f, tz=TZ)
        seeds.append(Article(f"seed:{f.name[:3]}", a.title, a.body))
    posts = []
    for f in sorted(FINEWS.glob("*.md")):
        try:
            a = read_article_file(f, tz=TZ)
        except ValueError:
            continue
        posts.append(Article(f.stem.split("-")[-1], a.title, a.body))
    return seeds, posts


def group_of(key: str) -> set[str]:
    for g in NATURAL + UNCLEAR:
        if key in g:
            return g
    return {key}


def is_unclear(key: str) -> bool:
    return any(key in g for g in UNCLEAR)


def shapes(rng: random.Random, a: Article, others: list[str], n_full: int, n_summary: int, n_title: int):
    for _ in range(n_full):
        yield "full", reprints.reprint_title(rng, a.title), reprints.reprint_body(rng, a.body, others)
    for _ in range(n_summary):
        yield "summary", reprints.reprint_title(rng, a.title), reprints.summary_of(rng, a.body)
    if len(squash(a.title)) >= 6:  # a title-only entry needs a title (some wire posts have none)
        for _ in range(n_title):
            yield "title", reprints.reprint_title(rng, a.title), ""


def quality() -> None:
    rng = random.Random(11)
    seeds, posts = load_articles()
    stored = seeds + posts[::2]
    held_out = posts[1::2]
    titles = [p.title for p in posts]
    with tempfile.TemporaryDirectory() as d:
        engine = make_engine(f"sqlite:///{d}/q.db")
        upgrade(engine)
        sess = sessions(engine)
        deduper = Deduper()
        ids: dict[str, int] = {}
        with sess.begin() as s:
            for a in stored:
                ids[a.key] = insert_item(s, a.title, a.body)
            by_id = {ids[a.key]: a for a in stored}
            process(deduper, s, [Stored(i, a.title, a.body, content_hash(a.body)) for i, a in by_id.items()])
        key_of = {v: k for k, v in ids.items()}

        cases: list[tuple[str, str, str, set[str], frozenset[int]]] = []  # (kind, title, body, expected keys or empty, exclude ids)
        for a in stored:
            long_ = a.key.startswith("seed:")
            n = (40, 30, 20) if long_ else (3, 2, 2)
            for kind, t, b in shapes(rng, a, titles, *n):
                cases.append((kind, t, b, group_of(a.key), frozenset()))
        for a in held_out:
            if is_unclear(a.key):
                continue
            expected = {k for k in group_of(a.key) if k in ids and k != a.key}
            for kind, t, b in shapes(rng, a, titles, 2, 2, 2):
                cases.append((kind, t, b, expected, frozenset()))
        for a in seeds:  # each seed against the other four
            for kind, t, b in shapes(rng, a, titles, 10, 10, 5):
                cases.append((kind, t, b, set(), frozenset({ids[a.key]})))
        definition = next(p for a in seeds for p in a.body.split("\n") if "新市民" in p and "是指" in p)
        for _ in range(30):  # distinct articles quoting the shared definition
            parts = [x.body for x in rng.sample(held_out, rng.randint(4, 8))]
            parts.insert(rng.randrange(len(parts) + 1), definition)
            cases.append(("full", rng.choice(held_out).title + "：新市民金融服务观察", "\n".join(parts), set(), frozenset()))

        stats = {k: {"tp": 0, "fp": 0, "fn": 0, "pos": 0, "neg": 0} for k in ("full", "summary", "title")}
        errors: list[tuple] = []
        with sess() as s:
            for kind, t, b, expected, exclude in cases:
                dec = deduper.check(SqlLookup(s), t, b, exclude=exclude)
                st = stats[kind]
                got = key_of.get(dec.matched) if dec.is_duplicate and dec.matched is not None else None
                got_root = key_of.get(dec.duplicate_of) if dec.is_duplicate and dec.duplicate_of is not None else None
                if expected:
                    st["pos"] += 1
                    if got in expected or got_root in expected:
                        st["tp"] += 1
                    else:
                        st["fn"] += 1
                        if got is not None:
                            st["fp"] += 1
                        errors.append(("missed" if got is None else "wrong", kind, t[:40], got, round(dec.similarity, 3),
                                       [(key_of.get(c.id), c.method, round(c.similarity, 3)) for c in dec.nearest[:3]]))
                else:
                    st["neg"] += 1
                    if got is not None:
                        st["fp"] += 1
                        errors.append(("false", kind, t[:40], got, round(dec.similarity, 3), dec.method))
        engine.dispose()

    print(f"dedupe quality: store of {len(stored)} articles ({len(seeds)} seeds, {len(stored) - len(seeds)} wire posts); "
          f"{len(cases)} checks")
    targets = {"full": 0.97, "summary": 0.90, "title": 0.90}
    for kind, st in stats.items():
        flagged = st["tp"] + st["fp"]
        precision = st["tp"] / flagged if flagged else 1.0
        recall = st["tp"] / st["pos"] if st["pos"] else 1.0
        print(f"  {kind:<8} positives {st['pos']:>4}  negatives {st['neg']:>4}   precision {precision:.4f} "
              f"(target 0.995)   recall {recall:.4f} (target {targets[kind]})")
    for e in errors[:12]:
        print("    ", *e)


def insert_item(session, title: str, body: str, *, with_text: bool = True) -> int:
    now = datetime.now(UTC)
    return session.scalar(insert(Item).returning(Item.id), [dict(
        title=title, content=body if with_text else None, content_hash=content_hash(body) if with_text else None,
        published_at=now, fetched_at=now, updated_at=now, title_derived=False)])


# ---------------------------------------------------------------------------------------------
# Throughput


def rows_per_article() -> float:
    """Mean fingerprint rows (anchors + title keys) of the real articles: the filler gets as many."""
    from monitor.dedupe.fingerprint import prepare

    seeds, posts = load_articles()
    arts = seeds + posts
    return statistics.mean(len(prepare(a.title, a.body).anchors) + 3 for a in arts)


def fill(db: Path, upto: int, rng_seed: int, per_article: float = 20.0) -> None:
    """Grow the store to ``upto`` articles: item rows plus as many fingerprint rows as real
    articles get (random hashes: distinct articles share none), straight through sqlite3."""
    import numpy as np

    conn = sqlite3.connect(db)
    have = conn.execute("select count(*) from items").fetchone()[0]
    rng = np.random.default_rng(rng_seed + have)
    now = datetime.now(UTC).isoformat()
    batch = 20000
    while have < upto:
        n = min(batch, upto - have)
        start_id = conn.execute("select coalesce(max(id), 0) from items").fetchone()[0] + 1
        conn.executemany(
            "insert into items (id, title, title_derived, published_at, fetched_at, updated_at) values (?, ?, 0, ?, ?, ?)",
            [(start_id + i, f"filler {start_id + i}", now, now, now) for i in range(n)])
        per = rng.poisson(per_article, n)
        hashes = rng.integers(-2**63, 2**63 - 1, int(per.sum()), dtype=np.int64)
        owners = np.repeat(np.arange(start_id, start_id + n), per)
        conn.executemany("insert or ignore into fingerprints (hash, item_id) values (?, ?)",
                         zip(hashes.tolist(), owners.tolist()))
        conn.commit()
        have += n
    conn.close()


def insert_batch(session, articles: list[tuple[str, str]], prepared: list | None = None) -> list[Stored]:
    """As the poll stores one feed: one multi-row INSERT, the stored records handed on, with the
    content hash from the article's prepared form (as the poll's text work gives it)."""
    from monitor.dedupe.fingerprint import prepare

    now = datetime.now(UTC)
    prepared = prepared or [prepare(t, b) for t, b in articles]
    rows = [dict(title=t, content=b, content_hash=p.content_hash, published_at=now, fetched_at=now,
                 updated_at=now, title_derived=False) for (t, b), p in zip(articles, prepared)]
    ids = insert_items(session, rows)
    return [Stored(i, r["title"], r["content"], r["content_hash"], prepared=p) for i, r, p in zip(ids, rows, prepared)]


def process(deduper: Deduper, session, articles: list[Stored]) -> int:
    """What the poll's processing does for dedupe: decide, then write the outcomes."""
    return save_outcomes(session, deduper.decide(SqlLookup(session), articles))


PER_TRANSACTION = 50  # one feed's worth


def timed_insert(db: Path, articles: list[tuple[str, str]]) -> float:
    """The real path on one core: prepare, item rows, decide, outcomes, 50 articles per
    transaction (one feed's worth), through the monitor's own database handle (its checkpoint
    thread included), with the collector held back as a poll holds it (pipeline.collector)."""
    database = Database(f"sqlite:///{db}")
    deduper = Deduper()
    start = time.perf_counter()
    with collector.quiet():  # as in a poll
        for i in range(0, len(articles), PER_TRANSACTION):
            with database.begin() as s:
                process(deduper, s, insert_batch(s, articles[i:i + PER_TRANSACTION]))
    elapsed = time.perf_counter() - start
    database.dispose()
    return len(articles) / elapsed


def prepare_chunk(articles: list[tuple[str, str]]) -> list:
    """As a poll's parse worker does: prepared, in the form it sends back (sketch made there)."""
    from monitor.dedupe.fingerprint import for_transfer, prepare

    return [for_transfer(prepare(t, b)) for t, b in articles]


def timed_pipeline(db: Path, articles: list[tuple[str, str]]) -> tuple[float, float]:
    """The path of a poll of several feeds, on both cores: articles are prepared in a worker
    process (as the poll's text work is, in its parse pool) while this thread stores and decides
    the chunk before. The worker is started before the clock, as a poll's pool is by its parsing."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    database = Database(f"sqlite:///{db}")
    deduper = Deduper()
    chunks = [articles[i:i + PER_TRANSACTION] for i in range(0, len(articles), PER_TRANSACTION)]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver")) as pool:
        pool.submit(prepare_chunk, chunks[0][:1]).result()
        start = time.perf_counter()
        futures = [pool.submit(prepare_chunk, c) for c in chunks]
        with collector.quiet():  # as in a poll
            for chunk, done in zip(chunks, futures):
                with database.begin() as s:
                    process(deduper, s, insert_batch(s, chunk, done.result()))
        elapsed = time.perf_counter() - start
        worker_peak = pool.submit(peak_rss_mb).result()
    database.dispose()
    return len(articles) / elapsed, worker_peak


def novel(rng: random.Random, text: str) -> str:
    """A distinct article with the corpus's characters and layout: each sentence's characters
    shuffled, so it shares no passage with anything stored (as unrelated news does not)."""
    out = []
    for para in text.split("\n"):
        out.append("".join("".join(rng.sample(s, len(s))) for s in reprints.sentences(para)))
    return "\n".join(out)


def peak_rss_mb() -> float:
    """This process's own peak (VmHWM): ru_maxrss would also count the parent's peak, which Linux
    carries across fork and exec into the child's figure (a bench run after the poll bench showed
    the poll's 895 MB here)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def workload(seed: int, n: int) -> tuple[list[Article], list[tuple[str, str, str | None]]]:
    """30% reprints of stored articles (candidates found and verified), 70% new articles; each
    with the key of the article it reprints (None for a new one)."""
    rng = random.Random(seed)
    seeds, posts = load_articles()
    base = seeds + posts
    titles = [p.title for p in posts]
    articles: list[tuple[str, str, str | None]] = []
    for _ in range(n):
        a = rng.choice(base)
        if rng.random() < 0.3:
            articles.append((reprints.reprint_title(rng, a.title), reprints.reprint_body(rng, a.body, titles), a.key))
        else:
            body = "\n".join(novel(rng, x.body) for x in rng.sample(base, rng.randint(1, 3)))
            articles.append((novel(rng, a.title), body, None))
    return base, articles


def peer_child(size: int, seed: int, n: int) -> None:
    """datasketch MinHash-LSH in memory, the usual near-duplicate index, on the same workload: an
    index of ``size`` articles (the real ones, then random filler sets), then each article's
    MinHash of its 5-shingles queried and inserted. Recall: reprints whose original it returns."""
    import numpy as np
    from datasketch import MinHash, MinHashLSH

    from monitor.dedupe.fingerprint import SHINGLE, shingle_hashes

    def minhash(values) -> MinHash:
        m = MinHash(num_perm=128)
        m.update_batch([int(v).to_bytes(8, "little") for v in values])
        return m

    base, articles = workload(seed, n)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    for a in base:
        lsh.insert(a.key, minhash(shingle_hashes(squash(a.body), SHINGLE)))
    rng = np.random.default_rng(seed)
    for i in range(size - len(base)):
        lsh.insert(f"filler{i}", minhash(rng.integers(0, 2**63, 300, dtype=np.uint64)))
    found = reprinted = 0
    start = time.perf_counter()
    for i, (_title, body, original) in enumerate(articles):
        m = minhash(shingle_hashes(squash(body), SHINGLE))
        hits = lsh.query(m)
        lsh.insert(f"new{i}", m)
        if original is not None:
            reprinted += 1
            found += original in hits
    rate = n / (time.perf_counter() - start)
    print(json.dumps({"rate": rate, "maxrss_mb": peak_rss_mb(),
                      "recall": found / max(1, reprinted)}))


def throughput_child(db: str, seed: int, n: int, pooled: bool) -> None:
    """The monitor on the workload: fingerprint, check and insert into the SQLite store."""
    _, articles = workload(seed, n)
    texts = [(t, b) for t, b, _ in articles]
    rate, worker = timed_pipeline(Path(db), texts) if pooled else (timed_insert(Path(db), texts), 0.0)
    print(json.dumps({"rate": rate, "maxrss_mb": peak_rss_mb(), "worker_mb": worker}))


def store_base_articles(db: Path) -> None:
    seeds, posts = load_articles()
    database = Database(f"sqlite:///{db}")
    with database.begin() as s:
        process(Deduper(), s, insert_batch(s, [(a.title, a.body) for a in seeds + posts]))
    database.dispose()


def throughput() -> None:
    print(f"dedupe throughput: fingerprint + check + insert, 50 per transaction, SQLite file, median of {RUNS} runs")
    rates: dict[str, dict[int, float]] = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
        db = Path(d) / "store.db"
        engine = make_engine(f"sqlite:///{db}")
        upgrade(engine)
        engine.dispose()
        store_base_articles(db)
        per_article = rows_per_article()
        print(f"  (filler articles get {per_article:.1f} fingerprint rows each, the mean of the real ones)")
        for size in SIZES:
            t0 = time.perf_counter()
            fill(db, size, 5, per_article)
            built = time.perf_counter() - t0
            # The filler's writes (585 MB at 1M) are flushed before timing: a store in service was
            # written long ago, and the runs should not pay for the kernel writing the filler out.
            os.sync()
            runs: dict[str, list[dict]] = {"single": [], "pooled": []}
            for r in range(RUNS):  # the two paths in turn, so both see the machine alike
                for mode, got in runs.items():
                    out = subprocess.run([sys.executable, __file__, "--child", str(db), str(size * 10 + r), "1000",
                                          mode], capture_output=True, text=True, check=True)
                    got.append(json.loads(out.stdout))
            mb = db.stat().st_size / 2**20
            print(f"  store {size:>9,} articles ({mb:,.0f} MB, filled in {built:.0f} s):")
            for mode, got in runs.items():
                rate = statistics.median(x["rate"] for x in got)
                rates.setdefault(mode, {})[size] = rate
                worker = f" + worker {max(x['worker_mb'] for x in got):.0f} MB" if mode == "pooled" else ""
                print(f"    {LABELS[mode]:<52} {rate:7.0f} articles/s, peak RSS "
                      f"{max(x['maxrss_mb'] for x in got):.0f} MB{worker}")
            if size <= PEER_MAX:
                peer = [json.loads(subprocess.run([sys.executable, __file__, "--peer", str(size), str(size * 10 + r),
                                                   "1000"], capture_output=True, text=True, check=True).stdout)
                        for r in range(RUNS)]
                print(f"    peer: datasketch MinHash-LSH in memory, same workload: "
                      f"{statistics.median(x['rate'] for x in peer):7.0f} articles/s, "
                      f"peak RSS {max(x['maxrss_mb'] for x in peer):.0f} MB, "
                      f"recall on reprints {statistics.median(x['recall'] for x in peer):.2f}")
    for mode, by_size in rates.items():
        if len(by_size) > 1:
            small, big = min(by_size), max(by_size)
            print(f"  {mode}: {big:,} vs {small:,}: {by_size[big] / by_size[small]:.2f}x (target >= 0.8)")
    print("  target (issue 21): >= 2,500 articles/s from 10k to 1M stored articles")


LABELS = {"single": "one process (prepare, store, decide in turn)",
          "pooled": "as a poll does it (prepare in a worker process)"}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        throughput_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "pooled")
    elif len(sys.argv) > 1 and sys.argv[1] == "--peer":
        peer_child(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--quality":
        quality()
    else:
        quality()
        throughput()
