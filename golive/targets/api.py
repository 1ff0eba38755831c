"""The orchestrator's HTTP API."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from golive.targets.http import HttpService

if TYPE_CHECKING:
    from golive.config import ApiTarget as ApiConfig


class ApiTarget(HttpService):
    """The API: health endpoints, and bearer tokens for the checks that write."""

    kind = "api"

    def __init__(self, cfg: ApiConfig) -> None:
        super().__init__(cfg)
        self.api_cfg = cfg
        self.probe_path = cfg.health_path
        self._token: str | None = cfg.token
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
