"""TLS-terminating TCP proxy in front of the API, as a production reverse proxy is.

``python -m demo.tls_proxy --listen 127.0.0.1:8443 --upstream 127.0.0.1:8080
--cert server.pem --key server.key``: accepts TLS connections (TLS 1.2 or newer) with the
given certificate chain and pipes the decrypted bytes to the upstream, both ways. It
knows nothing of HTTP; its only job is the handshake that clients and golive's
``infrastructure.tls`` check see.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
from collections.abc import Awaitable, Callable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
            writer.close()


def _handler(host: str, port: int) -> Handler:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        except (OSError, asyncio.TimeoutError):
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))

    return handle


async def serve(listen: str, upstream: str, cert: str, key: str) -> None:
    """Serve until SIGTERM or SIGINT."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    lhost, _, lport = listen.rpartition(":")
    uhost, _, uport = upstream.rpartition(":")
    server = await asyncio.start_server(
        _handler(uhost, int(uport)),
        lhost,
        int(lport),
        ssl=context,
        ssl_handshake_timeout=10,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m demo.tls_proxy", description=__doc__)
    parser.add_argument("--listen", required=True, help="HOST:PORT to accept TLS on")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the plain service")
    parser.add_argument("--cert", required=True, help="PEM certificate chain (leaf first)")
    parser.add_argument("--key", required=True, help="PEM private key")
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.upstream, args.cert, args.key))


if __name__ == "__main__":
    main()
