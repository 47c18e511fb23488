"""A real HTTP server on 127.0.0.1 for the tests: routes map a path to a response (or a function
making one), and every request is logged with its headers so tests can assert what was sent."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0  # seconds to wait before answering
    chunks: int = 0  # >0: stream body this many times over (an endless-looking download)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)  # when it arrived


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Response | Callable[[Request], Response]] = {}
        self.log: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                req = Request(self.path, {k.lower(): v for k, v in self.headers.items()})
                with server._lock:
                    server.log.append(req)
                route = server.routes.get(self.path.split("?")[0], Response(404, b"not found"))
                resp = route(req) if callable(route) else route
                if resp.stall:
                    time.sleep(resp.stall)
                try:
                    self.send_response(resp.status)
                    for k, v in resp.headers.items():
                        self.send_header(k, v)
                    if resp.chunks:
                        self.send_header("Content-Length", str(len(resp.body) * resp.chunks))
                        self.end_headers()
                        for _ in range(resp.chunks):
                            self.wfile.write(resp.body)
                    else:
                        self.send_header("Content-Length", str(len(resp.body)))
                        self.end_headers()
                        self.wfile.write(resp.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client cut us off on purpose (oversize, timeout)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.log if r.path.split("?")[0] == path]

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
