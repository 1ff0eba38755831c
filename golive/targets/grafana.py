"""Grafana's HTTP API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from golive.targets.http import HttpService

if TYPE_CHECKING:
    from golive.config import GrafanaTarget as GrafanaConfig


class GrafanaTarget(HttpService):
    """Grafana: `/api/health`, and with a token `/api/datasources`, `/api/search`."""

    kind = "grafana"
    probe_path = "/api/health"

    def __init__(self, cfg: GrafanaConfig) -> None:
        super().__init__(cfg)
        self.token = cfg.token

    def default_headers(self) -> dict[str, str]:
        """Configured headers plus the bearer token when one is set."""
        headers = super().default_headers()
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers
