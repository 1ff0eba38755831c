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
    up = cli("up", "--no-containers", "--state-dir", str(state_dir))
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
    recorded = Stack.load(state_dir)
    assert recorded is not None
    pids = list(recorded.pids.values())
    down = cli("down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert not any(procs.alive(pid) for pid in pids)
    assert procs.processes_mentioning(str(state_dir)) == []
    assert cli("status", "--state-dir", str(state_dir)).returncode == 3


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


def test_leftover_search_spares_the_process_and_the_wrappers_that_started_it(
    tmp_path: Path,
) -> None:
    """`down` run under `timeout DIR...`, `sudo` or a shell whose command line names the state
    dir must not kill them: processes_mentioning leaves out the caller and its ancestors."""
    marker = str(tmp_path / "state")
    code = (
        "import json, os, sys; from demo.stack import procs; "
        "print(json.dumps([os.getppid(), [p for p, _ in procs.processes_mentioning(sys.argv[1])]]))"
    )
    # the shell stays the parent (`; :` keeps it from exec'ing python) and names the marker
    wrapper = ["sh", "-c", '"$@"; :', "sh", sys.executable, "-c", code, marker]
    out = subprocess.run(wrapper, cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    shell, found = json.loads(out.stdout)
    assert shell not in found
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)", marker]
    with subprocess.Popen(sleeper) as other:  # not an ancestor: found
        try:
            out = subprocess.run(
                wrapper, cwd=REPO, capture_output=True, text=True, timeout=60, check=True
            )
            assert other.pid in json.loads(out.stdout)[1]
        finally:
            other.kill()


def test_the_compose_network_takes_another_subnet_when_its_own_is_taken() -> None:
    """Stacks of other state dirs may hold the subnet this state dir hashes to (seen with
    several stacks on one machine): the network is created on the next free one."""
    import hashlib
    import shutil

    from demo.stack import containers
    from tests.conftest import _missing

    if shutil.which("podman") is None:
        _missing("podman")
    state = Path(tempfile.mkdtemp(prefix="golive-net-"))
    try:
        stack = Stack(state_dir=state)
        containers.configure(stack)
        digest = int(hashlib.sha256(str(state).encode()).hexdigest(), 16)
        own = f"10.89.{20 + digest % 200}.0/24"
        taken = containers.procs.run(
            ["podman", "network", "create", "--disable-dns", "--subnet", own, "other"],
            env=containers.engine_env(stack),
            check=False,
        )
        assert taken.returncode == 0 or "is already used" in taken.stderr, taken.stderr
        containers.create_network(stack)
        inspect = containers.podman(stack, "network", "inspect", containers.NETWORK)
        (subnet,) = [s["subnet"] for s in json.loads(inspect)[0]["subnets"]]
        candidates = [f"10.89.{20 + (digest + i) % 200}.0/24" for i in range(1, 20)]
        assert subnet in candidates
    finally:
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(Path(stack.paths["podman_socket"]).parent, ignore_errors=True)
