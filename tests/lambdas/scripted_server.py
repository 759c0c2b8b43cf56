"""A loopback HTTP server that answers every request the same scripted way, after a delay, counting requests.

It stands in for a model host (or the SageMaker runtime endpoint) that is slow or failing, which neither moto
nor the real model server can be made to be on demand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ScriptedServer:
    url: str = ""
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def scripted_server(
    *, delay_seconds: float = 0.0, status: int = 200, body: bytes = b'{"predictions": []}'
) -> Iterator[ScriptedServer]:
    state = ScriptedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            with state.lock:
                state.requests += 1
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay_seconds)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first, which is what the slow cases test

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class LambdaContext:
    """The part of the Lambda context the handlers read: the time left when the invocation starts."""

    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
