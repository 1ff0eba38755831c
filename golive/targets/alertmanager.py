"""Alertmanager, through its v2 API only (v1 was removed upstream in 0.27)."""

from __future__ import annotations

from typing import Any

from golive.targets.http import HttpService


class AlertmanagerTarget(HttpService):
    """Alertmanager v2: `/api/v2/status`, `/api/v2/alerts`."""

    kind = "alertmanager"
    probe_path = "/api/v2/status"

    async def status(self) -> Any:
        """The decoded `/api/v2/status` document."""
        return await self.get_json("/api/v2/status")

    async def alerts(self, **filters: Any) -> list[dict[str, Any]]:
        """Alerts currently known to Alertmanager (`/api/v2/alerts`)."""
        data = await self.get_json("/api/v2/alerts", params=filters or None)
        return list(data or [])

    async def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """POST alerts to `/api/v2/alerts`; raises on a non-2xx answer."""
        resp = await self.request("POST", "/api/v2/alerts", json=alerts)
        resp.raise_for_status()
