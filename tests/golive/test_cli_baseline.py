"""golive/cli_baseline.py: `golive baseline save` and `golive run --baseline FILE`, run as
real subprocesses (exit codes and error text as a user sees them).

Most cases probe a loopback HTTP server (the standard library's ThreadingHTTPServer); the
integration case saves and compares every performance check against the reference stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:
    from demo.stack import Stack


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = b'{"status": "healthy"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def api_url() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def golive(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    return subprocess.run(
        [sys.executable, "-m", "golive", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


def write_config(path: Path, targets: dict[str, Any], perf: list[dict[str, Any]]) -> str:
    doc = {
        "version": 1,
        "targets": targets,
        "sections": {"performance": {"checks": perf}},
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


LATENCY = [{"id": "performance.api_latency", "params": {"requests": 40, "concurrency": 4}}]


def test_save_then_compare(api_url: str, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "golive.yaml", {"api": {"url": api_url}}, LATENCY)
    saved = golive("baseline", "save", "-c", cfg, "-o", "base/b.json", cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    assert "wrote baseline base/b.json: 1 checks, 40 latency samples" in saved.stdout
    doc = json.loads((tmp_path / "base" / "b.json").read_text())
    assert list(doc["checks"]) == ["performance.api_latency"]

    ran = golive("run", "-c", cfg, "--baseline", "base/b.json", "-f", "json", cwd=tmp_path)
    assert ran.returncode in (0, 1), ran.stderr
    (result,) = json.loads(ran.stdout)["results"]
    # how two real timings compare depends on how busy the machine is: the verdicts are
    # asserted on controlled figures in tests/golive/test_baseline.py
    assert result["status"] in ("PASS", "WARN", "FAIL")
    assert ran.returncode == (1 if result["status"] == "FAIL" else 0)
    assert "baseline of" in result["summary"]
    assert {r["measurement"] for r in result["evidence"]["baseline_comparison"]} >= {
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "rps",
    }
    assert result["evidence"]["mann_whitney"][0]["n_baseline"] == 40


def test_default_file_comes_from_the_config(api_url: str, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "golive.yaml", {"api": {"url": api_url}}, LATENCY)
    saved = golive("baseline", "save", "-c", cfg, "-q", cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    assert (tmp_path / "golive-baseline.json").is_file()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"kind": "golive-baseline", "format": 1, "checks": {', "is corrupt: not valid JSON"),
        ('{"kind": "golive-run"}', "is not a golive baseline (kind 'golive-run')"),
    ],
)
def test_corrupt_baseline_exits_2(api_url: str, tmp_path: Path, content: str, message: str) -> None:
    cfg = write_config(tmp_path / "golive.yaml", {"api": {"url": api_url}}, LATENCY)
    (tmp_path / "bad.json").write_text(content)
    ran = golive("run", "-c", cfg, "--baseline", "bad.json", cwd=tmp_path)
    assert ran.returncode == 2
    assert ran.stderr.startswith("golive: baseline bad.json ") or message in ran.stderr
    assert message in ran.stderr
    assert "Traceback" not in ran.stderr and ran.stdout == ""


def test_mismatched_baseline_exits_2(api_url: str, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "golive.yaml", {"api": {"url": api_url}}, LATENCY)
    assert golive("baseline", "save", "-c", cfg, "-o", "b.json", cwd=tmp_path).returncode == 0
    heavier = [{"id": "performance.api_latency", "params": {"requests": 40, "concurrency": 8}}]
    other = write_config(tmp_path / "other.yaml", {"api": {"url": api_url}}, heavier)
    ran = golive("run", "-c", other, "--baseline", "b.json", cwd=tmp_path)
    assert ran.returncode == 2
    assert "golive: baseline b.json does not match this configuration: " in ran.stderr
    assert "measured with concurrency=4, this configuration uses concurrency=8" in ran.stderr


def test_missing_baseline_exits_2(api_url: str, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "golive.yaml", {"api": {"url": api_url}}, LATENCY)
    ran = golive("run", "-c", cfg, "--baseline", "nope.json", cwd=tmp_path)
    assert ran.returncode == 2
    assert "golive: baseline file nope.json does not exist" in ran.stderr


def test_nothing_measured_writes_nothing(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    cfg = write_config(tmp_path / "golive.yaml", {"api": {"url": dead}}, LATENCY)
    saved = golive("baseline", "save", "-c", cfg, "-o", "b.json", cwd=tmp_path)
    assert saved.returncode == 3
    assert "no performance check measured anything; no baseline written" in saved.stderr
    assert "SKIP" in saved.stdout and "api unreachable" in saved.stdout
    assert not (tmp_path / "b.json").exists()


def test_without_performance_checks_is_a_usage_error(api_url: str, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "golive.yaml", {"api": {"url": api_url}}, [])
    saved = golive("baseline", "save", "-c", cfg, cwd=tmp_path)
    assert saved.returncode == 2
    assert "no performance checks selected" in saved.stderr


@pytest.mark.integration
def test_every_performance_check_against_the_stack(stack_containers: Stack, tmp_path: Path) -> None:
    from demo.stack.app import reset_rate_limits

    reset_rate_limits(stack_containers)
    s = stack_containers
    targets = {
        "api": {"url": s.api_url, "token": s.api_token, "agent_id": s.agent_id, "timeout": 10},
        "database": {"dsn": s.database_dsn},
        "docker": {"base_url": s.docker_host, "compose_project": s.compose_project},
    }
    perf = [
        {"id": "performance.api_latency", "params": {"p95_ms": 2000, "p99_ms": 5000}},
        {"id": "performance.task_throughput", "params": {"tasks": 20}, "timeout": "60s"},
        {"id": "performance.container_resources"},
    ]
    cfg = write_config(tmp_path / "golive.yaml", targets, perf)
    saved = golive("baseline", "save", "-c", cfg, "-o", "b.json", "--allow-writes", cwd=tmp_path)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    doc = json.loads((tmp_path / "b.json").read_text())
    assert set(doc["checks"]) == {c["id"] for c in perf}
    assert s.database_dsn not in (tmp_path / "b.json").read_text()
    assert doc["checks"]["performance.task_throughput"]["measurements"]["per_minute"] > 0

    ran = golive(
        "run", "-c", cfg, "--baseline", "b.json", "--allow-writes", "-f", "json", cwd=tmp_path
    )
    assert ran.returncode in (0, 1), ran.stderr
    results = {r["id"]: r for r in json.loads(ran.stdout)["results"]}
    for cid in doc["checks"]:
        assert results[cid]["evidence"]["baseline"]["file"] == "b.json"
        assert results[cid]["evidence"]["baseline_comparison"], cid
        assert "baseline of" in results[cid]["summary"]
    tput = {r["measurement"] for r in results["performance.task_throughput"]["evidence"][
        "baseline_comparison"
    ]}  # fmt: skip
    assert "per_minute" in tput
