"""A fast loopback feed server for benchmarks, in its own process so it does not share the
measured process's GIL. Serves /feed/N.xml: an RSS feed of ITEMS items, stable per N; with ROTATE seconds, the window of
items moves on by one every ROTATE seconds (a feed that publishes), for the soak benchmark. Under
/etag/ (/etag/feed/N.xml) each answer carries an ETag, and a request whose If-None-Match names the
current one gets a 304; elsewhere there are no validators (every poll gets the feed again).

usage: python bench/feed_server.py PORT_FILE [ITEMS [ROTATE]]
"""
from __future__ import annotations

import asyncio
import os
import sys
import time
from functools import lru_cache

WORDS = ["新市民", "消费金融", "普惠金融", "助贷", "银行", "信用卡", "贷款", "监管", "科技", "保险", "理财", "县域"]


# Characters of context, chosen by measuring generated text against 523 real articles of
# ../shared/corpora (real_feeds, zh_feeds, finews_posts). The corpus below is small (12,000
# characters): at 2 the chain copies its runs so often that unrelated items share an indexed
# 10-character passage 1.25 times per anchor (real: 0.08), and its text has 127 distinct trigrams
# per 1,000 characters (real: 439), so dedupe met 15 times the candidates of real news and the
# search index a fraction of its terms. At 1: 0.29 per anchor, nearly all of it the closing
# sentence below (still harsher on dedupe than real news), and 447 trigrams per 1,000 characters.
# The poll bench prints the sharing of its run; BENCH_MARKOV_ORDER=2 gives the earlier workload.
ORDER = int(os.environ.get("BENCH_MARKOV_ORDER", 1))


@lru_cache(maxsize=1)
def model() -> tuple[dict[str, str], list[str]]:
    """A character Markov model of the real finance articles in ../shared/corpora/finews_posts:
    generated text has the n-gram statistics of real wire copy (stock phrases recur, the rest
    varies), so the dedupe stage meets the look-ups it meets in production."""
    import re
    from pathlib import Path

    posts = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "finews_posts" / "_posts"
    text = ""
    for f in sorted(posts.glob("*.md")):
        body = f.read_text(encoding="utf-8", errors="replace").split("---", 2)[-1]
        text += re.sub(r"<[^>]+>|\[[^]]*\]\([^)]*\)|[ \t\r\n>#*|]+", "", body)
    if len(text) < 10_000:  # corpus missing: a fixed vocabulary still gives distinct articles
        text = "".join(f"{w}市场{i}日消息，机构表示将持续加大对{w}的支持力度。" for i in range(200) for w in WORDS)
    follow: dict[str, list[str]] = {}
    for k in range(len(text) - ORDER):
        follow.setdefault(text[k:k + ORDER], []).append(text[k + ORDER])
    return {k: "".join(v) for k, v in follow.items()}, [k for k in follow if k[0] in "，。"]


def article(n: int, i: int) -> tuple[str, str]:
    """A distinct item per (feed, index), the same on every request."""
    import random

    rng = random.Random(n * 1_000_003 + i)
    follow, starts = model()
    state = rng.choice(starts)
    out = []
    for _ in range(rng.randint(150, 600)):
        nxt = follow.get(state)
        if not nxt:
            state = rng.choice(starts)
            continue
        c = rng.choice(nxt)
        out.append(c)
        state = state[1:] + c
    body = "".join(out).lstrip("，。")
    w, w2 = WORDS[(n + i) % len(WORDS)], WORDS[(n * 7 + i * 3) % len(WORDS)]
    title = f"{w}：" + body[:rng.randint(14, 26)].split("。")[0] + f"{rng.randint(2, 999)}亿元"
    return title, body + f"。{w}方面，机构表示将加大对{w2}的支持。"


STARTED = time.time()


@lru_cache(maxsize=4096)
def feed(n: int, items: int, first: int = 0, rotate: float = 0.0) -> bytes:
    """Items first..first+items-1. Dated as news, not back catalogue: with ``rotate``, item i
    appeared at i * rotate seconds since the epoch (the newest one now); without, the items are
    a minute apart ending when the server started."""
    from email.utils import formatdate
    from html import escape

    entries = []
    for i in range(first, first + items):
        title, body = article(n, i)
        when = i * rotate if rotate else STARTED - (first + items - i) * 60
        entries.append(
            f"<item><title>{escape(title)}</title>"
            f"<link>http://127.0.0.1/news/{n}/{i}.html?utm_source=rss</link><guid>feed{n}-item{i}</guid>"
            f"<description>{escape('<p>' + escape(body) + '</p>')}</description>"
            f"<pubDate>{formatdate(when)}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>bench feed {n}</title>{''.join(entries)}</channel></rss>"
    ).encode()


def start(tmp, items: int = 50, rotate: float = 0.0):
    """This server in a process of its own, its port written to a file in ``tmp``: the process and
    the base URL (for the benches; they kill it when done)."""
    import subprocess
    from pathlib import Path

    port_file = Path(tmp) / "port"
    proc = subprocess.Popen([sys.executable, __file__, str(port_file), str(items), str(rotate)])
    for _ in range(200):  # bounded: 10 s
        if port_file.exists() and port_file.read_text():
            return proc, f"http://127.0.0.1:{port_file.read_text()}"
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("bench feed server did not start")


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, items: int, rotate: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            etag = b""
            try:
                n = int(path.rsplit("/", 1)[1].split(".")[0])
                first = int(time.time() / rotate) - items + 1 if rotate else 0  # the newest item is now's
                etag = f'"{n}-{first}-{items}"'.encode() if path.startswith("/etag/") else b""
                body, status = feed(n, items, first, rotate), b"200 OK"
                if etag and b"\r\nif-none-match: " + etag + b"\r\n" in head.lower():
                    body, status = b"", b"304 Not Modified"
            except (ValueError, IndexError):
                body, status = b"not found", b"404 Not Found"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
                         + (b"ETag: " + etag + b"\r\n" if etag else b"")
                         + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port_file: str, items: int, rotate: float = 0.0) -> None:
    server = await asyncio.start_server(lambda r, w: handle(r, w, items, rotate), "127.0.0.1", 0, backlog=1024)
    with open(port_file, "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await asyncio.sleep(3600)  # bounded: the benchmark kills it long before


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 50,
                     float(sys.argv[3]) if len(sys.argv) > 3 else 0.0))
