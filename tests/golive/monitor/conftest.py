"""Real loopback receivers for the monitor's notifications.

- `webhook`: an HTTP server (http.server, in a thread) that records every POST and can be
  told to answer 500 to the next N requests;
- `smtp_sink`: the aiosmtpd command-line SMTP server (`python -m aiosmtpd -n -l
  127.0.0.1:PORT`, Debugging handler), whose stdout holds every message received;
- `scratch`: test-only Prometheus servers, the fixture of tests/checks/test_monitoring.py.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.checks.test_monitoring import scratch  # noqa: F401 - a fixture, shared here


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Webhook:
    """A recording loopback webhook."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r["payload"] for r in self.received]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with hook.lock:
                failing = hook.fail_next > 0
                if failing:
                    hook.fail_next -= 1
                else:
                    hook.received.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "payload": json.loads(body),
                        }
                    )
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/golive"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class SmtpSink:
    """The aiosmtpd command-line server and the file its stdout goes to."""

    host: str
    port: int
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def messages(self) -> list[EmailMessage]:
        """Every message the Debugging handler printed, parsed."""
        out = []
        for block in self.text().split("---------- MESSAGE FOLLOWS ----------\n")[1:]:
            raw = block.split("------------ END MESSAGE ------------")[0]
            msg = email.message_from_string(raw, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
        return out


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    port = free_port()
    log = tmp_path / "smtp.out"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def ready() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                assert proc.poll() is None, log.read_text()
                return False
            return True

        wait_for(ready, 20, "the aiosmtpd sink to listen")
        yield SmtpSink("127.0.0.1", port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
