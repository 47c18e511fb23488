"""A loopback HTTP server receiving webhooks (what Apprise's json:// posts): it keeps every POST it
answered 2xx, and answers with the statuses a test queues first (a receiver that is down)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookServer:
    def __init__(self) -> None:
        self.received: list[dict] = []  # bodies answered 2xx
        self.refused = 0  # requests answered with a queued error status
        self.fail_with: list[int] = []  # statuses to answer first, one per request
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook._lock:
                    status = hook.fail_with.pop(0) if hook.fail_with else 200
                    if status < 300:
                        hook.received.append({"path": self.path, **json.loads(body or b"{}")})
                    else:
                        hook.refused += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
