"""The orchestrator's HTTP API."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from golive.targets.http import HttpService

if TYPE_CHECKING:
    from golive.config import ApiTarget as ApiConfig
    from golive.openapi import OpenApi


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

    async def openapi(self) -> OpenApi:
        """The API's OpenAPI document (`targets.api.openapi_path`), fetched once per run.

        Raises :class:`golive.openapi.OpenApiUnavailable` saying why there is none (not
        configured, not served, not JSON, not OpenAPI 3, unreachable)."""
        from golive.openapi import OpenApi, OpenApiUnavailable

        if self._openapi is None:
            self._openapi = asyncio.ensure_future(self._fetch_openapi())
        got = await asyncio.shield(self._openapi)
        if isinstance(got, str):
            raise OpenApiUnavailable(got)
        assert isinstance(got, OpenApi)
        return got

    async def _fetch_openapi(self) -> OpenApi | str:
        import httpx

        from golive.openapi import OpenApi, OpenApiUnavailable

        path = self.api_cfg.openapi_path
        if not path:
            return "targets.api.openapi_path is not set"
        try:
            resp = await self.get(path, headers={"accept": "application/json"})
            if resp.status_code in (301, 302, 307, 308) and resp.headers.get("location"):
                resp = await self.get(resp.headers["location"])
        except httpx.HTTPError as exc:
            return f"GET {path}: {self.describe(exc)}"
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
