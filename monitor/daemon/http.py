"""``/healthz`` and Prometheus ``/metrics`` for ``monitor run --http``."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from aiohttp import web

from .metrics import CONTENT_TYPE, Metrics


async def serve(host: str, port: int, health: Callable[[], tuple[int, dict]], metrics: Metrics) -> web.AppRunner:
    async def healthz(_request: web.Request) -> web.Response:
        status, body = health()
        return web.Response(status=status, text=json.dumps(body), content_type="application/json")

    async def exposition(_request: web.Request) -> web.Response:
        body = await asyncio.to_thread(metrics.exposition)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/metrics", exposition)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
