"""The record of a running Ordinaut: the demo's :class:`~demo.stack.model.Stack`, whose
``env()`` says where Ordinaut's pieces are instead of where the demo keeps its own."""

from __future__ import annotations

from dataclasses import dataclass

from demo.stack.model import Stack


@dataclass
class UpstreamStack(Stack):
    """Ordinaut 2.2.2 started by :func:`demo.upstream.start`."""

    version: str = ""
    python_env: str = ""

    def env(self) -> dict[str, str]:
        """The ``GOLIVE_*`` variables that ``demo/upstream.yaml`` reads.

        ``GOLIVE_API_TOKEN`` is empty on purpose: golive requests its own token for the
        agent ``system`` (``GOLIVE_AGENT_ID``), as an operator would, and that request is
        one of the records Ordinaut keeps of golive's visit (an ``audit_log`` row).
        ``GOLIVE_WEBHOOK_SINK`` is not set: the sink only stands in for Slack and PagerDuty,
        and Ordinaut's routes send golive's test alert (severity info) to e-mail only.
        """
        env = {
            "GOLIVE_API_URL": self.api_url,
            "GOLIVE_API_TOKEN": "",
            "GOLIVE_AGENT_ID": self.agent_id,
            "GOLIVE_DATABASE_DSN": self.database_dsn,
            "GOLIVE_ADMIN_DSN": self.admin_dsn,
            "GOLIVE_REDIS_URL": self.redis_url,
            "GOLIVE_PROMETHEUS_URL": self.prometheus_url,
            "GOLIVE_ALERTMANAGER_URL": self.alertmanager_url,
            "GOLIVE_PROJECT_ROOT": str(self.project_root),
            "GOLIVE_STACK_DIR": str(self.state_dir),
        }
        if "pg_data" in self.paths:
            env["GOLIVE_PG_DATA"] = self.paths["pg_data"]
        return env
