"""A fast loopback feed server for benchmarks, in its own process so it does not share the
measured process's GIL. Serves /feed/N.xml: an RSS feed of ITEMS items, stable per N; with ROTATE seconds, the window of
items moves on by one every ROTATE seconds (a feed that publishes), for the soak benchmark.

usage: python bench/feed_server.py PORT_FILE [ITEMS [ROTATE]]
"""
from __future__ import annotations

import asyncio
import sys
import time
from functools import lru_cache

WORDS = ["新市民", "消费金融", "普惠金融", "助贷", "银行", "信用卡", "贷款", "监管", "科技", "保险", "理财", "县域"]


@lru_cache(maxsize=4096)
def feed(n: int, items: int, first: int = 0) -> bytes:
    entries = []
    for i in range(first, first + items):
        w = WORDS[(n + i) % len(WORDS)]
        w2 = WORDS[(n * 7 + i * 3) % len(WORDS)]
        entries.append(
            f"<item><title>{w}与{w2}：第{n}号源第{i}条新闻</title>"
            f"<link>http://127.0.0.1/news/{n}/{i}.html?utm_source=rss</link><guid>feed{n}-item{i}</guid>"
            f"<description>&lt;p&gt;{w}{w2}相关报道，机构表示将持续加大对{w}的支持力度。{'金融服务' * 10}&lt;/p&gt;"
            f"</description><pubDate>Mon, 16 Nov 2026 08:{i % 60:02d}:00 +0800</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>bench feed {n}</title>{''.join(entries)}</channel></rss>"
    ).encode()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, items: int, rotate: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            try:
                n = int(path.rsplit("/", 1)[1].split(".")[0])
                first = int(time.monotonic() / rotate) % 100_000 if rotate else 0
                body, status = feed(n, items, first), b"200 OK"
            except (ValueError, IndexError):
                body, status = b"not found", b"404 Not Found"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
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
