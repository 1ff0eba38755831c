"""``python -m demo.stack``: up, idempotent up, status, env, down without leftovers, failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from demo.stack import Stack, lifecycle, procs

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the launcher's command line from the repository root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    return subprocess.run(
        [sys.executable, "-m", "demo.stack", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A fresh state dir; whatever the test left running there is stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="golive-cli-"))
    yield path
    leftover = Stack.load(path)
    if leftover is not None:
        lifecycle.stop(leftover, purge=True)
    assert not procs.processes_mentioning(str(path))


def test_up_status_env_down(stack: Stack, state_dir: Path) -> None:
    # the session stack (fixture) keeps running next to this one: ports do not collide
    up = cli("up", "--no-containers", "--hosts", "2", "--state-dir", str(state_dir))
    assert up.returncode == 0, up.stderr
    assert "stack up in" in up.stdout
    again = cli("up", "--state-dir", str(state_dir))
    assert again.returncode == 0 and "already running" in again.stdout
    status = cli("status", "--state-dir", str(state_dir))
    assert status.returncode == 0, status.stdout
    env = json.loads(cli("env", "--json", "--state-dir", str(state_dir)).stdout)
    assert env["GOLIVE_API_URL"] != stack.api_url
    health = httpx.get(f"{env['GOLIVE_API_URL']}/health", timeout=5).json()
    assert health["status"] == "healthy"
    exports = cli("env", "--state-dir", str(state_dir)).stdout
    assert f"export GOLIVE_API_TOKEN={env['GOLIVE_API_TOKEN']}" in exports
    # --hosts 2: two SSH hosts holding the deployed project; env prints their block
    assert [h["name"] for h in env["hosts"]] == ["host1", "host2"]
    assert "#   hosts:\n#   - name: host1\n" in exports
    _golive_judges_both_hosts(env, state_dir)
    recorded = Stack.load(state_dir)
    assert recorded is not None
    pids = list(recorded.pids.values())
    down = cli("down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert not any(procs.alive(pid) for pid in pids)
    assert procs.processes_mentioning(str(state_dir)) == []
    assert cli("status", "--state-dir", str(state_dir)).returncode == 3


def _golive_judges_both_hosts(env: dict[str, object], state_dir: Path) -> None:
    cfg = state_dir / "hosts-check.yaml"
    cfg.write_text(
        "version: 1\n"
        f"targets:\n  project: {{root: {env['GOLIVE_PROJECT_ROOT']}}}\n"
        "sections:\n  operations:\n    checks:\n"
        "      - {id: operations.runbooks}\n"
        "      - {id: operations.cron, params: {check_daemon: false}}\n"
    )
    out = state_dir / "hosts-run.json"
    overlay = str(env["GOLIVE_HOSTS_CONFIG"])
    argv = [sys.executable, "-m", "golive", "run", "--config", str(cfg), "--config", overlay]
    done = subprocess.run(
        [*argv, "-o", f"json:{out}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists(), done.stderr
    results = json.loads(out.read_text())["results"]
    assert sorted((r["id"], r["host"], r["status"]) for r in results) == [
        ("operations.cron", "host1", "PASS"),
        ("operations.cron", "host2", "PASS"),
        ("operations.runbooks", "host1", "PASS"),
        ("operations.runbooks", "host2", "PASS"),
    ], [r["summary"] for r in results]


def test_failed_service_is_named_with_its_log_and_nothing_is_left(state_dir: Path) -> None:
    bad_rules = state_dir.parent / f"{state_dir.name}-bad-rules.yml"
    bad_rules.write_text(
        "groups:\n  - name: broken\n    rules:\n      - alert: X\n"
        "        expr: this is not promql(\n"
    )
    try:
        up = cli(
            "up", "--no-containers", "--alert-rules", str(bad_rules), "--state-dir", str(state_dir)
        )
    finally:
        bad_rules.unlink()
    assert up.returncode != 0
    assert "prometheus failed to start" in up.stderr
    assert "--- last lines of" in up.stderr and "prometheus.log" in up.stderr
    assert procs.processes_mentioning(str(state_dir)) == []
