"""Fault stand-ins for the reliability tests, all on 127.0.0.1 with ports picked free.

Each stand-in is a context manager that starts a real listener in a daemon thread and
stops it on exit: a refused port, a TCP black hole (accepts, never answers: an API that
hangs, or a PostgreSQL that never speaks its protocol), an HTTP server slower than any
sane timeout, an HTTP server answering 500 to everything, and an HTTPS server with a
freshly generated self-signed certificate. `UNRESOLVABLE_HOST` is a host name that the
C library rejects without sending a DNS query (see `resolution_is_local`).
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"

#: A name under the reserved `.invalid` TLD (RFC 6761). glibc sends an ordinary
#: `x.invalid` to the configured nameserver (checked with strace on the development
#: machine), but rejects a label that starts with a hyphen (`res_hnok`) before any packet
#: leaves, so the lookup fails locally and fast: no traffic leaves the machine.
UNRESOLVABLE_HOST = "-golive-fault.invalid"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: bound, then closed (connects are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A closed loopback port: every connection attempt is refused at once."""
    yield free_port()


@dataclass
class BlackHole:
    """Accepts connections (TCP on loopback, or a unix socket) and never sends a byte."""

    path: Path | None = None  # a unix socket path instead of a TCP port
    port: int = 0
    accepted: int = 0
    _sock: socket.socket | None = None
    _held: list[socket.socket] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> BlackHole:
        """Listen (on a free port, or on `path`) and accept in a daemon thread."""
        if self.path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(str(self.path))
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, 0))
            self.port = int(sock.getsockname()[1])
        sock.listen(128)
        sock.settimeout(0.2)
        self._sock = sock
        threading.Thread(target=self._accept, name="blackhole", daemon=True).start()
        return self

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)  # held open, never answered
            self.accepted += 1

    def stop(self) -> None:
        """Close the listener and every held connection."""
        self._stop.set()
        for conn in [*self._held, self._sock]:
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()


@contextlib.contextmanager
def black_hole(path: Path | None = None) -> Iterator[BlackHole]:
    """A listener that accepts and then stays silent (TCP, or a unix socket at `path`)."""
    hole = BlackHole(path=path).start()
    try:
        yield hole
    finally:
        hole.stop()
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    stop_event: threading.Event
    delay: float
    status: int
    body: bytes
    requests: int


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default access log on stderr."""

    def _answer(self) -> None:
        self.server.requests += 1
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.server.delay and self.server.stop_event.wait(self.server.delay):
            return  # stopped while "working": drop the connection unanswered
        body = self.server.body
        try:
            self.send_response(self.server.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            return

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer


@dataclass
class HttpStandIn:
    """A threaded HTTP(S) server with a fixed answer, optionally after a delay."""

    status: int = 200
    body: bytes = b'{"status": "healthy"}'
    delay: float = 0.0
    tls: ssl.SSLContext | None = None
    _server: _Server | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Its base URL (https when it serves TLS)."""
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    @property
    def requests(self) -> int:
        """How many requests reached a handler."""
        return self._server.requests if self._server is not None else 0

    def start(self) -> HttpStandIn:
        """Bind a free port and serve in a daemon thread."""
        server = _Server((HOST, 0), _Handler)
        server.stop_event = threading.Event()
        server.delay, server.status, server.body, server.requests = (
            self.delay,
            self.status,
            self.body,
            0,
        )
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Wake delayed handlers, stop serving and close the socket."""
        if self._server is not None:
            self._server.stop_event.set()
            self._server.shutdown()
            self._server.server_close()


@contextlib.contextmanager
def http_standin(**kw: object) -> Iterator[HttpStandIn]:
    """Serve an :class:`HttpStandIn` for the duration of the block."""
    server = HttpStandIn(**kw).start()  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def slow_http(delay: float = 120.0) -> contextlib.AbstractContextManager[HttpStandIn]:
    """An HTTP server that answers every request only after `delay` seconds."""
    return http_standin(delay=delay)


def failing_http(status: int = 500) -> contextlib.AbstractContextManager[HttpStandIn]:
    """An HTTP server that answers every request with `status` (500 by default)."""
    body = b'{"error": "internal server error (golive fault stand-in)"}'
    return http_standin(status=status, body=body)


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server TLS context with a new self-signed certificate for 127.0.0.1."""
    from tests.checks.certs import self_signed

    cert_path, key_path = self_signed(directory, "selfsigned", [HOST], days_left=1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


@contextlib.contextmanager
def self_signed_https(directory: Path) -> Iterator[HttpStandIn]:
    """An HTTPS server on 127.0.0.1 whose certificate nobody signed."""
    with http_standin(tls=self_signed_context(directory)) as server:
        yield server


_RESOLVE = (
    "import socket, sys\n"
    "try:\n"
    "    socket.getaddrinfo(sys.argv[1], 80, type=socket.SOCK_STREAM)\n"
    "except socket.gaierror:\n"
    "    sys.exit(0)\n"
    "sys.exit(1)\n"
)


def resolution_is_local(host: str = UNRESOLVABLE_HOST) -> bool | None:
    """True when looking `host` up fails without any packet to a DNS server (port 53).

    Runs the lookup under strace and looks for a send on a socket; None when strace is
    not installed or may not trace (nothing can be said).
    """
    strace = shutil.which("strace")
    if strace is None:
        return None
    proc = subprocess.run(
        [
            strace,
            "-f",
            "-e",
            "trace=connect,sendto,sendmsg,sendmmsg",
            sys.executable,
            "-c",
            _RESOLVE,
            host,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    trace = proc.stderr
    if proc.returncode != 0 and "ptrace" in trace.lower():
        return None  # strace may not trace here (a container without CAP_SYS_PTRACE)
    if proc.returncode != 0:
        return False  # it resolved, or the lookup failed in an unexpected way
    return "htons(53)" not in trace and "sendmmsg(" not in trace
