"""The generic `file` and `command` kinds over real SSH: each host's file and each host's
command result give that host its own verdict.

The hosts are real OpenSSH servers on 127.0.0.1 (see conftest.py), each with its own copy
of the deployed project at the same path.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.golive.hosts.conftest import host_config
from tests.golive.hosts.test_ssh_hosts import run_json, verdicts
from tests.golive.hosts.test_ssh_testing import _cmdline

pytestmark = pytest.mark.integration


def test_file_kind_reads_each_hosts_file(tmp_path: Path, hosts: Any) -> None:
    h1, h2 = hosts.hosts
    os.chmod(h2.project / ".env", 0o644)  # host2's .env readable by all
    (h1.project / "VERSION").write_text("release 2.2.2\n")
    (h2.project / "VERSION").write_text("release 2.1.0\n")
    checks = [
        {
            "id": "operations.env_private",
            "uses": "file",
            "title": "The .env file is private",
            "params": {"path": ".env", "mode": "0600"},
        },
        {
            "id": "operations.version",
            "uses": "file",
            "title": "The deployed release is 2.2.2",
            "params": {"path": "VERSION", "contains": ["2.2.2"]},
        },
    ]
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"operations": checks}))
    v = verdicts(run)
    assert v[("operations.env_private", "host1")] == ("PASS", ".env exists (mode 0600)")
    assert v[("operations.env_private", "host2")] == ("FAIL", ".env mode 0644 is wider than 0600")
    assert v[("operations.version", "host1")] == (
        "PASS",
        "VERSION exists (mode 0644) with the expected content",
    )
    assert v[("operations.version", "host2")] == ("FAIL", "VERSION does not contain '2.2.2'")


def test_command_kind_runs_on_each_host_from_its_project_root(tmp_path: Path, hosts: Any) -> None:
    h1 = hosts.hosts[0]
    (h1.project / "READY").write_text("yes\n")  # host2 has none
    checks = [
        {
            "id": "operations.ready",
            "uses": "command",
            "title": "The deployment says it is ready",
            "params": {
                "argv": ["cat", "READY"],  # relative: run from the host's project root
                "stdout_regex": "^yes$",
                "env": {"GOLIVE_PROBE": "1"},
            },
        },
        {
            "id": "operations.env_seen",
            "uses": "command",
            "title": "The command sees its env",
            "params": {
                "argv": ['test "$$GOLIVE_PROBE" = 1 && pwd'],
                "shell": True,
                "env": {"GOLIVE_PROBE": "1"},
                "stdout_regex": "deployed",
            },
        },
    ]
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"operations": checks}))
    v = verdicts(run)
    assert v[("operations.ready", "host1")][0] == "PASS", v[("operations.ready", "host1")]
    status, summary = v[("operations.ready", "host2")]
    assert (status, summary) == (
        "FAIL",
        "`cat READY` exited with 1 (expected 0) and its stdout does not match /^yes$/",
    )
    host2 = next(
        r for r in run["results"] if r["id"] == "operations.ready" and r["host"] == "host2"
    )
    assert "No such file or directory" in " ".join(host2["evidence"]["stderr_tail"])
    assert v[("operations.env_seen", "host1")][0] == "PASS", v[("operations.env_seen", "host1")]
    assert v[("operations.env_seen", "host2")][0] == "PASS", v[("operations.env_seen", "host2")]

    hang = {
        "id": "operations.hang",
        "uses": "command",
        "title": "A command that hangs is killed",
        "params": {"argv": ["sleep", "7391"], "timeout": 2},
    }
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"operations": [hang]}))
    v = verdicts(run)
    for name in ("host1", "host2"):
        assert v[("operations.hang", name)] == (
            "FAIL",
            "`sleep 7391` did not finish within 2s and was killed",
        )
    for _ in range(50):  # and killed on the hosts, not only abandoned
        left = [p for p in os.listdir("/proc") if p.isdigit() and "7391" in _cmdline(p)]
        if not left:
            break
        time.sleep(0.2)
    assert left == []


def test_contacts_file_is_read_on_each_host(tmp_path: Path, hosts: Any) -> None:
    import yaml

    h1, h2 = hosts.hosts
    good = {
        "technical lead": "Ana Pereira, +351 912 345 678",
        "database admin": "Bo Chen <bo.chen@corp.test>",
        "security officer": "Chidi Obi, pagerduty: sec-oncall",
        "operations manager": "Dee Rao, dee@corp.test",
    }
    (h1.project / "ops" / "contacts.yaml").write_text(yaml.safe_dump(good))
    (h2.project / "ops" / "contacts.yaml").write_text(
        yaml.safe_dump({**good, "database admin": "TBD"})
    )
    check = {"id": "operations.contacts", "params": {"file": "ops/contacts.yaml"}}
    run, done = run_json(tmp_path, host_config(tmp_path, hosts, {"operations": [check]}))
    v = verdicts(run)
    assert v[("operations.contacts", "host1")] == (
        "PASS",
        "All 4 emergency contacts have a name and a way to reach them",
    )
    status, summary = v[("operations.contacts", "host2")]
    assert status == "FAIL" and "database admin: placeholder 'TBD'" in summary, summary
    assert "bo.chen@corp.test" not in done.stdout + str(run)  # details are never reported


def test_exposed_ports_reads_the_compose_files_of_every_host_in_one_result(
    tmp_path: Path, hosts: Any
) -> None:
    h2 = hosts.hosts[1]
    compose = h2.project / "ops" / "docker-compose.yml"
    compose.write_text(
        compose.read_text() + "  postgres:\n    image: postgres:15\n    ports: ['5432:5432']\n"
    )
    check = {"id": "security.exposed_ports"}
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"security": [check]}))
    results = [r for r in run["results"] if r["id"] == "security.exposed_ports"]
    assert len(results) == 1 and results[0]["host"] is None  # once, not once per host
    assert results[0]["status"] == "FAIL"
    assert results[0]["summary"] == (
        "postgres publishes 0.0.0.0:5432->5432/tcp (host2:ops/docker-compose.yml)"
    ), results[0]["summary"]
    sources = {r["source"] for r in results[0]["evidence"]["published_ports"]}
    assert sources == {"host2:ops/docker-compose.yml"}


def test_jwt_expiry_reads_the_compose_files_of_every_host_in_one_result(
    tmp_path: Path, hosts: Any
) -> None:
    for h, minutes in zip(hosts.hosts, ("30", "600"), strict=True):
        compose = h.project / "ops" / "docker-compose.yml"
        compose.write_text(
            compose.read_text() + f"      JWT_ACCESS_TOKEN_EXPIRE_MINUTES: '{minutes}'\n"
        )
    check = {"id": "security.jwt_expiry", "params": {"issue_token": False}}
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"security": [check]}))
    results = [r for r in run["results"] if r["id"] == "security.jwt_expiry"]
    assert len(results) == 1 and results[0]["host"] is None
    assert (results[0]["status"], results[0]["summary"]) == (
        "FAIL",
        "access tokens live too long: JWT_ACCESS_TOKEN_EXPIRE_MINUTES is 600 minutes, more "
        "than the allowed 60 (host2:compose:api)",
    )
    assert [(r["source"], r["minutes"]) for r in results[0]["evidence"]["sources"]] == [
        ("host1:compose:api", 30),
        ("host2:compose:api", 600),
    ]
