"""Loopback webhook sink: records every POSTed payload as one JSON line.

``python -m demo.webhook_sink --port 9999 --out received.jsonl``. ``GET /`` answers 200
(health); ``POST /anything`` appends ``{"path", "received_at", "headers", "payload"}``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def make_handler(out: Path) -> type[BaseHTTPRequestHandler]:
    """Build a request handler class writing to ``out``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(200, b'{"status":"ok"}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                payload: Any = json.loads(body) if body else None
            except ValueError:
                payload = body.decode("utf-8", "replace")
            record = {
                "path": self.path,
                "received_at": time.time(),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "payload": payload,
            }
            with _lock, out.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
            self._reply(200, b'{"status":"received"}')

        def _reply(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.touch()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.out))
    print(f"webhook sink on http://{args.host}:{args.port}/ -> {args.out}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
