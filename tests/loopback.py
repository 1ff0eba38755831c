"""A small real HTTP server on 127.0.0.1 for API tests: it relays requests to a real API
(the demo API of the session stack) and lets a test change what comes back, or answers
on its own (an API that rate-limits its OpenAPI document).

A server is a :class:`LoopbackServer` (or a subclass carrying the test's state) with a
:class:`Handler` subclass whose :meth:`Handler.respond` decides each answer; run it with
:func:`serving`, which yields it with its `url` and stops it afterwards.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import urlsplit

# hop-by-hop and per-server headers the relay does not copy from the upstream's answer
_NOT_RELAYED = ("content-length", "connection", "transfer-encoding", "date", "server")


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP server on a free loopback port; `upstream` is the API its handler
    relays to (None for a server that answers on its own)."""

    daemon_threads = True

    def __init__(self, handler: type[Handler], upstream: str | None = None) -> None:
        self.upstream = urlsplit(upstream) if upstream else None
        self.lock = threading.Lock()  # for the test's counters: requests come in threads
        super().__init__(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    """Answers GET, POST and DELETE with :meth:`respond`; by default every request is
    relayed to the server's upstream and its answer sent back."""

    server: LoopbackServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def respond(self, body: bytes) -> None:
        """Answer the request (`body` is what the client sent): relay it upstream."""
        self.send_back(*self.forward(body))

    def forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send the request to the upstream API: its status, headers and body."""
        upstream = self.server.upstream
        assert upstream is not None, "this server has no upstream to relay to"
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.getheaders(), data

    def send_back(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        """Send an answer as the upstream gave it (its length set anew)."""
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in _NOT_RELAYED:
                self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def answer(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        """Answer with `doc` as JSON, and `headers`."""
        data = json.dumps(doc).encode()
        self.send_back(
            status, [("content-type", "application/json"), *(headers or {}).items()], data
        )

    def _handle(self) -> None:
        self.respond(self.rfile.read(int(self.headers.get("content-length") or 0)))

    do_GET = do_POST = do_DELETE = _handle


S = TypeVar("S", bound=LoopbackServer)


@contextmanager
def serving(server: S) -> Iterator[S]:
    """Serve `server` in a thread for the block; shut it down and close it afterwards."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
