"""Serving the app with uvicorn inside a process that owns its signals and its event loop.

``monitor web`` is such a process as much as the daemon: in both, SIGTERM and Ctrl-C belong to
the caller (the daemon stops its jobs gracefully first), so uvicorn's own handlers are switched
off and the server stops when told to.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp


class _Quiet(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the caller handles signals
        yield


class Served:
    """A running server: ``stop()`` finishes the requests in flight and closes the socket."""

    def __init__(self, server: _Quiet, task: asyncio.Task):
        self._server, self._task = server, task

    async def stop(self) -> None:
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, timeout=10)


async def serve(app: ASGIApp, host: str, port: int) -> Served:
    """Bind first (an address in use is an ``OSError`` here, not a log line later), then serve."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # our own lines say started / stopped
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", server_header=False,
                            proxy_headers=False, timeout_graceful_shutdown=5)
    server = _Quiet(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # bounded: serve() either starts or fails
        await asyncio.sleep(0.01)
    if task.done():
        task.result()  # raises what stopped it
    return Served(server, task)
