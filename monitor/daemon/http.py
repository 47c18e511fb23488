"""``/healthz`` and Prometheus ``/metrics`` for ``monitor run --http``, served beside the web view."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .metrics import CONTENT_TYPE, Metrics


def routes(health: Callable[[], tuple[int, dict]], metrics: Metrics) -> list[BaseRoute]:
    async def healthz(_request: Request) -> Response:
        status, body = health()
        return Response(json.dumps(body), status_code=status, media_type="application/json")

    async def exposition(_request: Request) -> Response:
        body = await asyncio.to_thread(metrics.exposition)
        return Response(body, headers={"Content-Type": CONTENT_TYPE})

    return [Route("/healthz", healthz), Route("/metrics", exposition)]
