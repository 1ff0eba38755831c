"""The orchestrator's HTTP API."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from golive.targets.http import HttpService, retry_after_seconds

if TYPE_CHECKING:
    from golive.config import ApiTarget as ApiConfig
    from golive.openapi import OpenApi

#: how many 429 answers to /openapi.json golive waits out in one fetch before it gives up
_MAX_429_WAITS = 5


class ApiTarget(HttpService):
    """The API: health endpoints, its OpenAPI document, and bearer tokens for the checks
    that write."""

    kind = "api"

    def __init__(self, cfg: ApiConfig) -> None:
        super().__init__(cfg)
        self.api_cfg = cfg
        self.probe_path = cfg.health_path
        self._token: str | None = cfg.token
        self._openapi: asyncio.Future[OpenApi | str] | None = None
        # loop time at which the 429 that ended the last fetch of the document lifts
        self._openapi_lifts_at: float | None = None
        # each token request golive made: the API may keep its own record of it (side effects)
        self.token_requests: list[dict[str, Any]] = []

    async def token(self) -> str | None:
        """A bearer token: the configured one, else one issued for the configured agent."""
        if self._token:
            return self._token
        if not self.api_cfg.agent_id:
            return None
        at = datetime.now(timezone.utc)
        resp = await self.request(
            "POST", "/agents/auth/token", json={"agent_id": self.api_cfg.agent_id}
        )
        self.token_requests.append(
            {
                "request": "POST /agents/auth/token",
                "agent_id": self.api_cfg.agent_id,
                "status": resp.status_code,
                "at": at.isoformat(timespec="milliseconds"),
            }
        )
        if resp.status_code == 200:
            token = resp.json().get("access_token")
            if isinstance(token, str) and token:
                self._token = token
                return token
        # some deployments accept the raw agent UUID as a bearer token
        self._token = self.api_cfg.agent_id
        return self._token

    async def auth_headers(self) -> dict[str, str]:
        """Authorization header for writes (empty when no credentials are configured)."""
        token = await self.token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def openapi(self, deadline: float | None = None) -> OpenApi:
        """The API's OpenAPI document (`targets.api.openapi_path`), fetched once per run.

        `deadline` is the event-loop time (`loop.time()`) by which the caller needs it, e.g.
        a check's `ctx.deadline`; without one, the API's `timeout` from now. A 429 answer is
        retried after the wait its Retry-After asks for (seconds or an HTTP date) while that
        wait ends before the deadline. A document refused that way is not kept: a later
        caller whose deadline is past the end of that wait fetches it again then.

        Raises :class:`golive.openapi.OpenApiUnavailable` saying why there is none (not
        configured, not served, rate limited, not JSON, not OpenAPI 3, unreachable)."""
        from golive.openapi import OpenApi, OpenApiUnavailable

        loop = asyncio.get_running_loop()
        end = loop.time() + self.timeout if deadline is None else deadline
        fut = self._openapi
        lifts_at = self._openapi_lifts_at
        if fut is None or (fut.done() and lifts_at is not None and lifts_at < end):
            within = "within targets.api.timeout" if deadline is None else "of the check's timeout"
            self._openapi = fut = asyncio.ensure_future(self._fetch_openapi(end, within))
        got = await asyncio.shield(fut)
        if isinstance(got, str):
            raise OpenApiUnavailable(got)
        assert isinstance(got, OpenApi)
        return got

    async def _fetch_openapi(self, deadline: float, within: str) -> OpenApi | str:
        """The document, else why there is none; `within` names what `deadline` is."""
        import httpx

        from golive.openapi import OpenApi, OpenApiUnavailable

        path = self.api_cfg.openapi_path
        if not path:
            return "targets.api.openapi_path is not set"
        loop = asyncio.get_running_loop()
        lifts_at, self._openapi_lifts_at = self._openapi_lifts_at, None
        if lifts_at is not None:  # an earlier fetch was refused with a 429 until then
            await asyncio.sleep(max(0.0, lifts_at - loop.time()))
        waits = 0
        while True:
            try:
                resp = await self.get(path, headers={"accept": "application/json"})
                if resp.status_code in (301, 302, 307, 308) and resp.headers.get("location"):
                    resp = await self.get(resp.headers["location"])
            except httpx.HTTPError as exc:
                return f"GET {path}: {self.describe(exc)}"
            if resp.status_code != 429:
                break
            value = resp.headers.get("retry-after")
            wait = retry_after_seconds(value)
            said = f"GET {path} answered 429 Too Many Requests"
            if wait is None:
                if not value:
                    return f"{said} without a Retry-After header saying when to ask again"
                return f"{said} with a Retry-After that is neither seconds nor a date: {value!r}"
            left = deadline - loop.time()
            if wait >= left:
                self._openapi_lifts_at = loop.time() + wait
                return (
                    f"{said} with Retry-After: {value} ({wait:.0f}s), longer than the "
                    f"{max(0.0, left):.1f}s left {within}"
                )
            if waits == _MAX_429_WAITS:
                return (
                    f"{said} again after {waits} waits as its Retry-After said "
                    f"(last Retry-After: {value})"
                )
            waits += 1
            await asyncio.sleep(wait)
        if resp.status_code != 200:
            return f"the API serves no OpenAPI document: GET {path} answered {resp.status_code}"
        try:
            doc = resp.json()
        except ValueError:
            return f"GET {path} did not answer JSON, so it is not an OpenAPI document"
        if not isinstance(doc, dict):
            return f"GET {path} answered JSON that is not an OpenAPI document"
        try:
            return OpenApi(doc, source=f"GET {path}")
        except OpenApiUnavailable as exc:
            return str(exc)
