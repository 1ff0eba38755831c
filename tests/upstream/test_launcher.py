"""``python -m demo.upstream``: a service that cannot start is named with its log tail, and
everything started before it is stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.stack import procs
from demo.upstream import UpstreamStack, find_source, stop

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def broken_source() -> Iterator[Path]:
    """A copy of the release whose alert rules Prometheus rejects."""
    source = find_source()
    if source is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Ordinaut's release tree not found (CI=true)")
        pytest.skip("Ordinaut's release tree not found")
    copy = Path(tempfile.mkdtemp(prefix="golive-broken-")) / source.name
    shutil.copytree(source, copy)
    rules = copy / "ops" / "prometheus" / "alert_rules.yml"
    os.chmod(rules, 0o644)
    os.chmod(rules.parent, 0o755)
    rules.write_text(
        "groups:\n  - name: broken\n    rules:\n      - alert: X\n        expr: rate(\n"
    )
    yield copy
    shutil.rmtree(copy.parent, ignore_errors=True)


def test_a_failing_service_is_named_and_everything_is_stopped(broken_source: Path) -> None:
    state = Path(tempfile.mkdtemp(prefix="golive-upfail-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    if "GOLIVE_UPSTREAM_CACHE" in os.environ:
        env["GOLIVE_UPSTREAM_CACHE"] = os.environ["GOLIVE_UPSTREAM_CACHE"]
    try:
        up_args = ["up", "--state-dir", str(state), "--source", str(broken_source)]
        proc = subprocess.run(
            [sys.executable, "-m", "demo.upstream", *up_args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "ERROR: prometheus failed to start" in proc.stderr
        assert "--- last lines of" in proc.stderr and "alert_rules.yml" in proc.stderr
        assert "everything it had started was stopped" in proc.stderr
        assert procs.processes_mentioning(str(state)) == []
        recorded = UpstreamStack.load(state)
        assert recorded is not None and recorded.pids == {}
    finally:
        leftover = UpstreamStack.load(state)
        if leftover is not None:
            stop(leftover, purge=True)
        shutil.rmtree(state, ignore_errors=True)
