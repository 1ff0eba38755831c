"""A shared async HTTP client for one service, with timeouts and readable failure reasons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

    import httpx

    from golive.config import HttpTarget


def describe_http_error(exc: BaseException, url: str, timeout: float) -> str:
    """A one-line reason a newcomer understands for an httpx/OS failure."""
    import socket
    import ssl

    import httpx

    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no answer from {url} within {timeout:g}s (connect timeout)"
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)):
        return f"{url} accepted the connection but sent no response within {timeout:g}s"
    if isinstance(exc, httpx.ConnectError):
        for cause in _chain(exc):
            if isinstance(cause, socket.gaierror):
                return f"host name of {url} does not resolve ({cause.strerror or cause})"
            if isinstance(cause, ConnectionRefusedError):
                return f"connection refused by {url}"
            if isinstance(cause, ssl.SSLError):
                return f"TLS verification failed for {url}: {cause}"
        low = text.lower()
        if "certificate" in low or "ssl" in low or isinstance(exc.__context__, ssl.SSLError):
            return f"TLS verification failed for {url}: {text}"
        if (
            "name or service not known" in low
            or "nodename nor servname" in low
            or "name resolution" in low
        ):
            return f"host name of {url} does not resolve"
        if "refused" in low:
            return f"connection refused by {url}"
        return f"cannot connect to {url}: {text}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{url} closed the connection without a valid HTTP response: {text}"
    if isinstance(exc, TimeoutError):
        return f"no response from {url} within {timeout:g}s"
    return f"{type(exc).__name__} talking to {url}: {text}"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: whole seconds or an HTTP date (RFC 9110),
    counted from `now` (epoch seconds; the current time when None). None when the value is
    missing or neither form; never negative."""
    if not value:
        return None
    try:
        return float(max(0, int(value.strip())))
    except ValueError:
        pass
    import time
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 10:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


class HttpService:
    """One HTTP service (API, Prometheus, Alertmanager, Grafana): a lazily-built client."""

    kind = "http"
    probe_path = "/"

    def __init__(self, cfg: HttpTarget) -> None:
        self.cfg = cfg
        self.url = cfg.url
        self.timeout = float(cfg.timeout)
        self._client: httpx.AsyncClient | None = None
        self._ssl: ssl.SSLContext | None = None  # shared by load-probe transports

    def default_headers(self) -> dict[str, str]:
        """Headers sent with every request."""
        return dict(self.cfg.headers)

    @property
    def client(self) -> httpx.AsyncClient:
        """The shared client (built on first use)."""
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                base_url=self.url,
                timeout=httpx.Timeout(self.timeout),
                # a plain-http service needs no TLS context (building one loads the CA bundle)
                verify=self.cfg.verify_tls if self.url.startswith("https:") else False,
                headers=self.default_headers(),
                follow_redirects=False,
                trust_env=False,  # never route through a proxy the environment names
            )
        return self._client

    def load_transport(self) -> httpx.AsyncHTTPTransport:
        """A dedicated one-connection transport with this service's TLS settings.

        For load probes: each concurrent worker gets its own keep-alive connection, as
        `hey` and `ab` do, because a shared pool spends its time on bookkeeping under load.
        The caller closes it (`await transport.aclose()`).
        """
        import httpx

        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(verify=self.cfg.verify_tls, trust_env=False)
        return httpx.AsyncHTTPTransport(
            verify=self._ssl, trust_env=False, limits=httpx.Limits(max_connections=1)
        )

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Send a request to a path of this service."""
        return await self.client.request(method, path, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        """GET a path of this service."""
        return await self.client.get(path, **kw)

    async def get_json(self, path: str, **kw: Any) -> Any:
        """GET a path and decode its JSON body; raises on HTTP errors."""
        resp = await self.get(path, **kw)
        resp.raise_for_status()
        return resp.json()

    def describe(self, exc: BaseException) -> str:
        """A readable reason for a failure talking to this service."""
        return describe_http_error(exc, self.url, self.timeout)

    async def probe(self) -> str | None:
        """None when the service answers HTTP at all, else the reason it does not."""
        import httpx

        try:
            await self.client.get(self.probe_path)
        except (httpx.HTTPError, OSError) as exc:
            return self.describe(exc)
        return None

    async def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
