"""The deployment files in demo/ops are valid for the tools that consume them."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration
OPS = Path(__file__).resolve().parents[2] / "demo" / "ops"


def _tool(name: str) -> str:
    from tests.conftest import tool

    return tool(name)


def test_alert_rules_pass_promtool() -> None:
    out = subprocess.run(
        [_tool("promtool"), "check", "rules", str(OPS / "alert_rules.yml")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_prometheus_config_passes_promtool() -> None:
    out = subprocess.run(
        [_tool("promtool"), "check", "config", str(OPS / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_alertmanager_config_passes_amtool() -> None:
    out = subprocess.run(
        [_tool("amtool"), "check-config", str(OPS / "alertmanager.yml")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_compose_is_hardened() -> None:
    doc = yaml.safe_load((OPS / "docker-compose.yml").read_text())
    assert set(doc["services"]) == {"postgres", "redis", "api", "scheduler", "worker"}
    assert doc["networks"]["ordinaut-network"]["name"] == "ordinaut-network"
    for name, svc in doc["services"].items():
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert svc["user"] not in ("root", "0", "0:0"), name
        assert "healthcheck" in svc and "restart" in svc, name
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    assert "ports" not in doc["services"]["postgres"] and "ports" not in doc["services"]["redis"]
    text = (OPS / "docker-compose.yml").read_text()
    assert "${JWT_SECRET_KEY:?" in text and "${POSTGRES_PASSWORD:?" in text
    assert not re.search(r"JWT_SECRET_KEY:-", text)


def test_runbooks_and_scripts() -> None:
    # the five documents of golive's operations.runbooks defaults, plus two more
    for name in (
        "DISASTER_RECOVERY.md",
        "INCIDENT_RESPONSE.md",
        "PRODUCTION_RUNBOOK.md",
        "MONITORING_PLAYBOOK.md",
        "BACKUP_PROCEDURES.md",
        "DEPLOYMENT_RUNBOOK.md",
        "SECURITY_PLAYBOOK.md",
    ):
        text = (OPS / name).read_text()
        assert len(text.split()) > 300, name
        assert not re.search(r"\b(TODO|TBD)\b|\[FILL IN\]", text), name
    for name in ("daily_backup.sh", "health_check.sh", "service_restart.sh"):
        path = OPS / "scripts" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o755, name
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0, name
    crontab = (OPS / "crontab").read_text()
    assert "daily_backup.sh" in crontab and "health_check.sh" in crontab
