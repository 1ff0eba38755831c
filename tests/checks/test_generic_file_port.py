"""The generic `file` and `port` kinds from checks/generic.py, against real files and sockets."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from golive.models import CheckResult, Status
from golive.testing import load_dict, run_config


def run_generic(kind: str, params: dict[str, Any], **extra: Any) -> CheckResult:
    entry = {"id": "operations.item", "uses": kind, "title": "Item is healthy", "params": params}
    cfg = load_dict({"sections": {"operations": {"checks": [entry]}}, **extra})
    return run_config(cfg).results[0]


def test_file_passes_with_safe_mode_and_content(tmp_path: Path) -> None:
    f = tmp_path / "app.env"
    f.write_text("MODE=production\n")
    os.chmod(f, 0o600)
    r = run_generic("file", {"path": str(f), "mode": "0640", "contains": ["MODE=production"]})
    assert r.status is Status.PASS
    assert r.evidence["mode"] == "0600"


def test_file_fails_when_world_writable(tmp_path: Path) -> None:
    f = tmp_path / "deploy.sh"
    f.write_text("#!/bin/sh\n")
    os.chmod(f, 0o777)
    r = run_generic("file", {"path": str(f)})
    assert r.status is Status.FAIL
    assert r.summary == f"{f} is world-writable (mode 0777)"


def test_file_fails_when_mode_is_wider(tmp_path: Path) -> None:
    f = tmp_path / "key.pem"
    f.write_text("x")
    os.chmod(f, 0o644)
    r = run_generic("file", {"path": str(f), "mode": "0600"})
    assert r.status is Status.FAIL
    assert "mode 0644 is wider than 0600" in r.summary


def test_file_content_rules_never_echo_the_file(tmp_path: Path) -> None:
    f = tmp_path / "settings.py"
    f.write_text("DEBUG = True\nSECRET = 'not-for-reports'\n")
    r = run_generic(
        "file", {"path": str(f), "contains": ["DEBUG = False"], "not_contains": ["DEBUG = True"]}
    )
    assert r.status is Status.FAIL
    assert "does not contain 'DEBUG = False'" in r.summary
    assert "contains forbidden 'DEBUG = True'" in r.summary
    assert "not-for-reports" not in repr(r)


def test_file_missing_and_must_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "runbook.md"
    assert run_generic("file", {"path": str(missing)}).status is Status.FAIL
    assert run_generic("file", {"path": str(missing), "exists": False}).status is Status.PASS
    missing.write_text("x")
    r = run_generic("file", {"path": str(missing), "exists": False})
    assert (r.status, r.summary) == (Status.FAIL, f"{missing} exists but must not")


def test_file_relative_to_project_root(tmp_path: Path) -> None:
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "RUNBOOK.md").write_text("steps")
    r = run_generic(
        "file", {"path": "ops/RUNBOOK.md"}, targets={"project": {"root": str(tmp_path)}}
    )
    assert r.status is Status.PASS


def test_file_bad_mode_is_error(tmp_path: Path) -> None:
    f = tmp_path / "x"
    f.write_text("x")
    r = run_generic("file", {"path": str(f), "mode": "rw-r--r--"})
    assert r.status is Status.ERROR


@pytest.fixture
def listener() -> Any:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def test_port_open(listener: int) -> None:
    r = run_generic("port", {"port": listener})
    assert r.status is Status.PASS
    assert r.summary.startswith(f"127.0.0.1:{listener} accepts connections")
    assert r.measurements["connect_ms"] >= 0


def test_port_closed(closed_port: int) -> None:
    r = run_generic("port", {"port": closed_port})
    assert r.status is Status.FAIL
    assert r.summary.startswith(f"127.0.0.1:{closed_port} does not accept connections")
    ok = run_generic("port", {"port": closed_port, "expect": "closed"})
    assert ok.status is Status.PASS


def test_port_expected_closed_but_open(listener: int) -> None:
    r = run_generic("port", {"port": listener, "expect": "closed"})
    assert (r.status, r.summary) == (
        Status.FAIL,
        f"127.0.0.1:{listener} accepts connections but must not",
    )
