"""HTTP fetching: one shared httpx.AsyncClient, polite and bounded.

Redirects are followed by hand so that a permanent one can update the stored URL and a loop is
named as such; bodies are streamed so a 100 MB answer is cut off at ``max_bytes`` and never
held in memory.
"""
from __future__ import annotations

import asyncio
import email.utils
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urljoin, urlsplit

import httpx
from httpx_aiohttp import AiohttpTransport

from . import __version__

USER_AGENT = f"monitor/{__version__} (news monitor; httpx/{httpx.__version__})"
MAX_REDIRECTS = 5
PERMANENT = {301, 308}


@dataclass
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FetchResult:
    url: str  # what was asked for
    final_url: str  # after redirects
    status: int | None = None  # None: no HTTP answer (DNS, refused, timeout...)
    body: bytes = b""
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    permanent_url: str | None = None  # set when every hop to final_url was permanent
    error: str | None = None
    truncated: bool = False
    seconds: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


def retry_after(headers: httpx.Headers, now: datetime | None = None) -> timedelta | None:
    """Retry-After as seconds or as an HTTP date."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(timedelta(0), when - (now or datetime.now(timezone.utc)))


def max_age(headers: httpx.Headers) -> timedelta | None:
    cc = headers.get("cache-control", "")
    for part in cc.split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "max-age" and value.strip().isdigit():
            return timedelta(seconds=int(value.strip()))
    return None


class Fetcher:
    """Fetch many URLs concurrently with a global and a per-host limit."""

    def __init__(
        self,
        *,
        concurrency: int = 20,
        per_host: int = 4,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        max_bytes: int = 20 * 1024 * 1024,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.max_bytes = max_bytes
        self.total_timeout = connect_timeout + read_timeout * 2
        self._global = asyncio.Semaphore(concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(per_host))
        self.client = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, "
                     "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"},
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            follow_redirects=False,
            # httpx's own pool is slow with many concurrent connections (httpx issue #3215, see
            # DESIGN.md); the aiohttp-backed transport keeps the httpx API at aiohttp's speed.
            transport=transport or AiohttpTransport(
                limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)),
        )

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.aclose()

    async def fetch(self, req: FetchRequest) -> FetchResult:
        start = time.perf_counter()
        host = urlsplit(req.url).hostname or ""
        async with self._global, self._hosts[host]:
            try:
                # A server that trickles bytes forever never trips the read timeout; this does.
                result = await asyncio.wait_for(self._fetch(req), self.total_timeout)
            except asyncio.TimeoutError:
                result = FetchResult(req.url, req.url, error=f"timed out after {self.total_timeout:.0f}s in total")
        result.seconds = time.perf_counter() - start
        return result

    async def _fetch(self, req: FetchRequest) -> FetchResult:
        headers = {}
        if req.etag:
            headers["If-None-Match"] = req.etag
        if req.last_modified:
            headers["If-Modified-Since"] = req.last_modified
        url, seen, all_permanent = req.url, [req.url], True
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with self.client.stream("GET", url, headers=headers) as resp:
                    if resp.is_redirect and "location" in resp.headers:
                        target = urljoin(url, resp.headers["location"])
                        all_permanent &= resp.status_code in PERMANENT
                        if target in seen:
                            return FetchResult(req.url, url, resp.status_code, headers=resp.headers,
                                               error=f"redirect loop: {' -> '.join(seen + [target])}")
                        seen.append(target)
                        url = target
                        continue
                    body, truncated = await self._read(resp)
                    return FetchResult(
                        req.url, url, resp.status_code, body, resp.headers,
                        permanent_url=url if len(seen) > 1 and all_permanent else None,
                        truncated=truncated,
                        error=f"body larger than {self.max_bytes} bytes: cut off, not parsed" if truncated else None,
                    )
            except httpx.TimeoutException as e:
                # httpx-aiohttp reports a refused or unresolvable connection as ConnectTimeout; the
                # cause tells which it really was, and "timeout" would send users the wrong way.
                cause = e.__cause__
                root = getattr(cause, "os_error", None) or (cause.__cause__ if cause else None)
                if isinstance(root, OSError) and not isinstance(root, TimeoutError):
                    return FetchResult(req.url, url, error=f"cannot connect ({type(root).__name__}: "
                                                           f"{root.strerror or root}) to {url}")
                return FetchResult(req.url, url, error=f"timeout ({type(e).__name__}) fetching {url}")
            except httpx.HTTPError as e:
                return FetchResult(req.url, url, error=f"{type(e).__name__}: {e or 'connection failed'} ({url})")
        return FetchResult(req.url, url, error=f"more than {MAX_REDIRECTS} redirects: {' -> '.join(seen)}")

    async def _read(self, resp: httpx.Response) -> tuple[bytes, bool]:
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            return b"", True
        chunks, size = [], 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                return b"", True
            chunks.append(chunk)
        return b"".join(chunks), False
