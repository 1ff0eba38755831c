"""checks/generic.py: checks declared in a test golive.yaml with `uses:` (http, sql, promql,
command, tls, file, port), each PASS and FAIL, run through `golive run` in a subprocess
against the real reference stack, a loopback TLS server with certificates made by
cryptography, and real files; plus direct runs of the failure modes of each kind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from golive.models import CheckResult, Status
from golive.testing import load_dict, run_config
from tests.checks.certs import Pki, tls_server

if TYPE_CHECKING:
    from demo.stack import Stack


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def run_generic(
    entries: list[dict[str, Any]], targets: dict[str, Any] | None = None
) -> dict[str, CheckResult]:
    """Run `uses:` entries (ids `lab.<name>`) through the real loader and runner."""
    for e in entries:
        e.setdefault("title", e["id"])
    config = load_dict({"targets": targets or {}, "sections": {"lab": {"checks": entries}}})
    return {r.id: r for r in run_config(config).results}


@pytest.mark.integration
def test_user_declared_checks_of_every_kind_through_golive_run(
    stack: Stack, tmp_path: Path
) -> None:
    pki = Pki(tmp_path)
    cert, key = pki.leaf("api", ["localhost", "127.0.0.1"], days_left=120)
    expired, _ = pki.leaf("old", ["localhost"], days_left=-1)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    (tmp_path / ".env").write_text("X=1\n")
    (tmp_path / ".env").chmod(0o600)
    (tmp_path / "world.txt").write_text("anyone\n")
    (tmp_path / "world.txt").chmod(0o666)
    api = stack.api_url
    checks = [
        {"id": "lab.http_ok", "uses": "http", "title": "The API reports healthy",
         "params": {"url": f"{api}/health", "json_path": "$.status", "expect": "== healthy",
                    "max_latency_ms": 5000, "headers": {"Authorization": "Bearer ${GOLIVE_API_TOKEN}"}}},
        {"id": "lab.http_bad", "uses": "http", "title": "A missing page answers 200",
         "params": {"url": "/no/such/page", "regex": "never-there"}},
        {"id": "lab.sql_ok", "uses": "sql", "title": "The system agent exists",
         "params": {"query": "SELECT count(*) FROM agent WHERE name = 'system'", "expect": "== 1"}},
        {"id": "lab.sql_bad", "uses": "sql", "title": "No agent exists",
         "params": {"query": "SELECT id FROM agent", "rows": 0}},
        {"id": "lab.promql_ok", "uses": "promql", "title": "Prometheus scrapes the API",
         "params": {"query": 'up{job="orchestrator-api"}', "expect": "== 1"}},
        {"id": "lab.promql_bad", "uses": "promql", "title": "A metric nobody exports exists",
         "params": {"query": "golive_no_such_metric_total"}},
        {"id": "lab.command_ok", "uses": "command", "title": "The shell says hello",
         "params": {"argv": ["sh", "-c", "echo hello $$DB_PASSWORD"], "env": {"DB_PASSWORD": "pw-${GOLIVE_API_TOKEN}"},
                    "stdout_regex": "^hello "}},
        {"id": "lab.command_bad", "uses": "command", "title": "false succeeds",
         "params": {"argv": ["false"]}},
        {"id": "lab.tls_ok", "uses": "tls", "title": "The test endpoint's certificate is valid",
         "params": {"endpoint": "127.0.0.1:${GOLIVE_TEST_TLS_PORT}", "ca_file": str(pki.ca_file)}},
        {"id": "lab.tls_bad", "uses": "tls", "title": "An expired certificate file is valid",
         "params": {"cert_file": str(expired), "ca_file": str(pki.ca_file)}},
        {"id": "lab.file_ok", "uses": "file", "title": "The .env file is private",
         "params": {"path": ".env", "mode": "0600"}},
        {"id": "lab.file_bad", "uses": "file", "title": "world.txt is private",
         "params": {"path": "world.txt", "mode": "0640"}},
        {"id": "lab.port_ok", "uses": "port", "title": "The listener accepts connections",
         "params": {"port": listener.getsockname()[1]}},
        {"id": "lab.port_bad", "uses": "port", "title": "A closed port accepts connections",
         "params": {"port": _closed_port(), "timeout": 1}},
    ]  # fmt: skip
    config = {
        "version": 1,
        "defaults": {"fail_on": "medium"},
        "targets": {
            "api": {"url": "${GOLIVE_API_URL}"},
            "database": {"dsn": "${GOLIVE_DATABASE_DSN}"},
            "prometheus": {"url": "${GOLIVE_PROMETHEUS_URL}"},
            "project": {"root": str(tmp_path)},
        },
        "sections": {"lab": {"title": "User-declared checks", "checks": checks}},
    }
    path = tmp_path / "golive.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    with tls_server(cert, key) as port:
        env = {**os.environ, **stack.env(), "GOLIVE_TEST_TLS_PORT": str(port), "NO_COLOR": "1"}
        done = subprocess.run(
            [sys.executable, "-m", "golive", "run", "-c", str(path), "-f", "json"],
            capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path,
        )  # fmt: skip
    listener.close()
    assert done.returncode == 1, done.stderr  # NO-GO: the *_bad checks fail at medium
    run = json.loads(done.stdout)
    results = {r["id"]: r for r in run["results"]}
    for kind in ("http", "sql", "promql", "command", "tls", "file", "port"):
        ok, bad = results[f"lab.{kind}_ok"], results[f"lab.{kind}_bad"]
        assert ok["status"] == "PASS", (kind, ok["summary"])
        assert bad["status"] == "FAIL", (kind, bad["summary"])
        assert ok["severity"] == "medium" and ok["title"]
    assert results["lab.http_ok"]["evidence"]["value"] == "healthy"
    assert results["lab.http_bad"]["summary"] == (
        "GET /no/such/page: status 404 (expected 200); body does not match /never-there/"
    )
    assert results["lab.sql_bad"]["summary"].startswith("The query returned ")
    assert results["lab.sql_bad"]["summary"].endswith(" rows, expected == 0")
    assert results["lab.promql_bad"]["summary"] == (  # absent, not merely filtered out
        "golive_no_such_metric_total returned 0 series, expected at least 1: "
        "golive_no_such_metric_total does not exist in Prometheus"
    )
    assert results["lab.command_ok"]["evidence"]["stdout_tail"] == ["hello ***"]
    assert results["lab.command_bad"]["summary"] == "`false` exited with 1 (expected 0)"
    assert results["lab.tls_bad"]["summary"].startswith(f"The certificate of {expired} expired ")
    assert run["decision"]["verdict"] == "NO-GO"
    assert stack.api_token not in done.stdout  # the bearer token is redacted everywhere


def test_http_failure_modes_against_a_real_server(tmp_path: Path) -> None:
    (tmp_path / "status.json").write_text('{"status": "degraded", "checks": {"db": {"ms": 12.5}}}')
    (tmp_path / "plain.txt").write_text("ok\n")
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        port = int(line.split(" port ")[1].split()[0])
        base = f"http://127.0.0.1:{port}"
        results = run_generic(
            [
                {"id": "lab.value", "uses": "http", "params": {"url": f"{base}/status.json", "json_path": "checks.db.ms", "expect": "< 20"}},
                {"id": "lab.wrong", "uses": "http", "params": {"url": f"{base}/status.json", "json_path": "$.status", "expect": "healthy"}},
                {"id": "lab.nokey", "uses": "http", "params": {"url": f"{base}/status.json", "json_path": "$.checks.redis"}},
                {"id": "lab.notjson", "uses": "http", "params": {"url": f"{base}/plain.txt", "json_path": "$.status"}},
                {"id": "lab.body", "uses": "http", "params": {"url": f"{base}/plain.txt", "expect": "== ok"}},
                {"id": "lab.refused", "uses": "http", "params": {"url": f"http://127.0.0.1:{_closed_port()}/"}},
            ]
        )  # fmt: skip
    finally:
        server.kill()
        server.wait()
    assert results["lab.value"].status is Status.PASS
    assert results["lab.value"].evidence["value"] == 12.5
    assert results["lab.wrong"].summary == (
        f"GET {base}/status.json: $.status is 'degraded', expected == healthy"
    )
    assert results["lab.nokey"].summary == (
        f"GET {base}/status.json: $.checks.redis not found: $.checks has no key 'redis' (keys: db)"
    )
    assert results["lab.notjson"].summary == f"GET {base}/plain.txt: body is not JSON"
    assert results["lab.body"].status is Status.PASS
    assert results["lab.refused"].status is Status.FAIL
    assert "connection refused" in results["lab.refused"].summary


def test_command_timeout_shell_and_missing_program(tmp_path: Path) -> None:
    results = run_generic(
        [
            {"id": "lab.slow", "uses": "command", "params": {"argv": ["sleep 30"], "shell": True, "timeout": 1}},
            {"id": "lab.shell", "uses": "command", "params": {"argv": ["echo a | tr a b"], "shell": True, "stdout_regex": "^b$"}},
            {"id": "lab.codes", "uses": "command", "params": {"argv": ["sh", "-c", "echo oops >&2; exit 3"], "exit_code": [0, 3], "stderr_regex": "oops"}},
            {"id": "lab.missing", "uses": "command", "params": {"argv": ["golive-no-such-program"]}},
            {"id": "lab.noshell", "uses": "command", "params": {"argv": ["echo a | tr a b"], "stdout_regex": "^b$"}},
        ]
    )  # fmt: skip
    assert results["lab.slow"].status is Status.FAIL
    assert results["lab.slow"].summary == "`sleep 30` did not finish within 1s and was killed"
    assert results["lab.shell"].status is Status.PASS
    assert results["lab.codes"].status is Status.PASS
    assert (
        results["lab.missing"].summary
        == "Cannot run golive-no-such-program: No such file or directory"
    )
    # without `shell: true` the string is one argv word: no shell ever interprets it
    assert results["lab.noshell"].status is Status.FAIL
    assert "Cannot run echo a | tr a b" in results["lab.noshell"].summary


@pytest.mark.integration
def test_sql_and_promql_errors_are_errors_not_failures(stack: Stack) -> None:
    targets = {"database": {"dsn": stack.database_dsn}, "prometheus": {"url": stack.prometheus_url}}
    results = run_generic(
        [
            {"id": "lab.badsql", "uses": "sql", "params": {"query": "SELECT * FROM golive_no_such_table"}},
            {"id": "lab.readonly", "uses": "sql", "params": {"query": "DELETE FROM agent WHERE false"}},
            {"id": "lab.badpromql", "uses": "promql", "params": {"query": "up{"}},
            {"id": "lab.allup", "uses": "promql", "params": {"query": "up", "expect": "> 1"}},
            {"id": "lab.renamed", "uses": "promql", "params": {"query": "sum(rate(http_requests_total[1m]))"}},
            {"id": "lab.zero", "uses": "promql", "params": {"query": 'max(0 * up{job="orchestrator-api"})', "expect": "> 0"}},
        ],
        targets,
    )  # fmt: skip
    assert results["lab.badsql"].status is Status.ERROR
    assert 'relation "golive_no_such_table" does not exist' in results["lab.badsql"].summary
    assert results["lab.readonly"].status is Status.ERROR
    assert "read-only transaction" in results["lab.readonly"].summary
    assert results["lab.badpromql"].status is Status.ERROR
    assert results["lab.badpromql"].summary.startswith(
        "Prometheus rejected the query: invalid parameter"
    )
    assert results["lab.allup"].status is Status.FAIL
    assert " series of up are not > 1: up{" in results["lab.allup"].summary
    # absent (the checklist's name; the API exports Ordinaut's) is told apart from zero
    assert results["lab.renamed"].status is Status.FAIL
    assert results["lab.renamed"].summary == (
        "sum(rate(http_requests_total[1m])) returned 0 series, expected at least 1: "
        "http_requests_total does not exist in Prometheus (closest: ord_http_requests_total)"
    )
    assert results["lab.zero"].status is Status.FAIL
    assert results["lab.zero"].summary == (
        '1 of 1 series of max(0 * up{job="orchestrator-api"}) are not > 0: {} = 0'
    )


def test_tls_kind_needs_a_source_and_a_config_typo_is_located(tmp_path: Path) -> None:
    results = run_generic([{"id": "lab.nothing", "uses": "tls"}])
    assert results["lab.nothing"].status is Status.ERROR
    assert results["lab.nothing"].summary == "Set endpoint (host:port) or cert_file"
    from golive.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        run_config(load_dict({"sections": {"lab": {"checks": [
            {"id": "lab.t", "uses": "http", "title": "t", "params": {"url": "/", "max_latency": 5}}
        ]}}}))  # fmt: skip
    assert (
        "unknown parameter 'max_latency' for generic.http (did you mean 'max_latency_ms'?)"
        in str(err.value.problems[0])
    )
