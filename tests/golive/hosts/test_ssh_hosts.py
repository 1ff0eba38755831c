"""Host-level checks over real SSH: per-host verdicts, role selection, and host faults.

The hosts are real OpenSSH servers on 127.0.0.1 (see conftest.py), each with its own copy
of the deployed project and its own crontab at the same paths.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tool
from tests.golive.hosts.conftest import CRON, PERMS, RUNBOOK_CHECK, host_config

pytestmark = pytest.mark.integration


def golive(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "golive", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_json(
    tmp_path: Path, cfg: str, *extra: str
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    out = tmp_path / "run.json"
    done = golive(
        "run", "--config", cfg, "-o", f"json:{out}", "-o", f"junit:{tmp_path / 'j.xml'}", *extra
    )
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert out.exists(), done.stdout + done.stderr
    return json.loads(out.read_text()), done


def verdicts(run: dict[str, Any]) -> dict[tuple[str, str | None], tuple[str, str]]:
    return {(r["id"], r["host"]): (r["status"], r["summary"]) for r in run["results"]}


def test_each_host_gets_its_own_verdict(tmp_path: Path, hosts: Any) -> None:
    h1, h2 = hosts.hosts
    os.chmod(h1.project / "ops" / "docker-compose.yml", 0o666)  # world-writable on host1 only
    (h2.crontabs / "root").write_text("*/5 * * * * /usr/local/bin/health_check.sh\n")  # no backup
    cfg = host_config(tmp_path, hosts, {"security": [PERMS], "operations": [CRON, RUNBOOK_CHECK]})
    run, done = run_json(tmp_path, cfg)
    v = verdicts(run)
    assert v[("security.file_permissions", "host1")][0] == "FAIL"
    assert "ops/docker-compose.yml (mode 0666)" in v[("security.file_permissions", "host1")][1]
    assert v[("security.file_permissions", "host2")][0] == "PASS"
    assert v[("operations.cron", "host1")][0] == "PASS"
    assert v[("operations.cron", "host2")] == (
        "FAIL",
        "No backup job (no command matches /backup/)",
    )
    assert v[("operations.runbooks", "host1")][0] == "PASS"
    assert v[("operations.runbooks", "host2")][0] == "PASS"
    assert len(run["results"]) == 6  # one result per (check, host)
    assert done.returncode == 1
    assert set(run["decision"]["blocking"]) == {
        "security.file_permissions@host1",
        "operations.cron@host2",
    }
    junit = (tmp_path / "j.xml").read_text()
    assert 'name="operations.cron@host2"' in junit
    assert 'name="operations.cron@host1"' in junit
    assert "host host1" in run["targets"] and "ssh://root@127.0.0.1" in run["targets"]["host host1"]


def test_console_groups_hosts_under_their_check(tmp_path: Path, hosts: Any) -> None:
    cfg = host_config(tmp_path, hosts, {"operations": [CRON, RUNBOOK_CHECK]})
    done = golive("run", "--config", cfg, "--no-color")
    heads = [ln.split()[1:5] for ln in done.stdout.splitlines() if " on host " in ln]
    assert heads == [  # a log gets one block per result, a check's hosts one after the other
        ["operations.cron", "on", "host", "host1"],
        ["operations.cron", "on", "host", "host2"],
        ["operations.runbooks", "on", "host", "host1"],
        ["operations.runbooks", "on", "host", "host2"],
    ], done.stdout


def test_hosts_key_selects_hosts_by_role(tmp_path: Path, hosts: Any) -> None:
    cfg = host_config(tmp_path, hosts, {"operations": [{**CRON, "hosts": ["db"]}]})
    run, _ = run_json(tmp_path, cfg)
    assert [(r["id"], r["host"]) for r in run["results"]] == [("operations.cron", "host2")]


def _entry(hosts: Any, name: str, port: int, **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ssh": f"ssh://root@127.0.0.1:{port}",
        "identity_file": str(hosts.client_key),
        "known_hosts": str(hosts.known_hosts),
        "connect_timeout": "3s",
        **kw,
    }


def test_host_faults_give_one_reason_each_and_spare_the_other_hosts(
    tmp_path: Path, hosts: Any
) -> None:
    from demo.stack import procs

    h1, h2 = hosts.hosts
    stranger = tmp_path / "stranger"
    keygen = tool("ssh-keygen")
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    swapped = tmp_path / "known_hosts_swapped"  # host2's key pinned for host1's address
    swapped.write_text(f"[127.0.0.1]:{h1.port} {h2.host_key_pub}\n")
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    entries = [
        _entry(hosts, "good", h2.port),
        _entry(hosts, "down", procs.free_port()),
        _entry(hosts, "badkey", h1.port, identity_file=str(stranger)),
        _entry(hosts, "changed", h1.port, known_hosts=str(swapped)),
        _entry(hosts, "unknown", h1.port, known_hosts=str(empty)),
        _entry(hosts, "tofu", h1.port, known_hosts=str(empty), accept_new=True),
    ]
    cfg = host_config(tmp_path, hosts, {"operations": [CRON]}, host_entries=entries)
    run, done = run_json(tmp_path, cfg)
    v = verdicts(run)
    assert v[("operations.cron", "good")][0] == "PASS"
    assert v[("operations.cron", "tofu")][0] == "PASS"
    assert "accepted on first use (accept_new), not pinned" in run["targets"]["host tofu"]
    assert v[("operations.cron", "down")] == (
        "SKIP",
        f"host down unreachable: connection refused by 127.0.0.1:{entries[1]['ssh'].rsplit(':', 1)[1]}",
    )
    assert v[("operations.cron", "badkey")] == (
        "SKIP",
        f"host badkey unreachable: key authentication refused by root@127.0.0.1:{h1.port} "
        f"({stranger})",
    )
    status, reason = v[("operations.cron", "changed")]
    assert status == "SKIP"
    assert reason.startswith(
        f"host changed unreachable: host key of 127.0.0.1:{h1.port} does not match"
    )
    status, reason = v[("operations.cron", "unknown")]
    assert status == "SKIP"
    assert "is not pinned" in reason and "unknown host key: refused" in reason
    assert done.returncode == 3  # INCOMPLETE: required checks could not be evaluated


@pytest.fixture
def host2_restarted(hosts: Any) -> Any:
    """Restart host2 with other sshd options; the default options come back afterwards."""
    h2 = hosts.hosts[1]

    def restart(**options: str) -> Any:
        hosts.restart(h2, options)
        return h2

    yield restart
    hosts.restart(h2, {})


def test_host_that_hangs_after_the_handshake_is_skipped_in_time(
    tmp_path: Path, hosts: Any, host2_restarted: Any
) -> None:
    h2 = host2_restarted(Subsystem="sftp /bin/sleep 600")  # logs in, then never answers
    entries = [
        _entry(hosts, "host1", hosts.hosts[0].port),
        _entry(hosts, "host2", h2.port, connect_timeout="2s"),
    ]
    cfg = host_config(tmp_path, hosts, {"operations": [CRON]}, host_entries=entries)
    run, _ = run_json(tmp_path, cfg)
    v = verdicts(run)
    assert v[("operations.cron", "host1")][0] == "PASS"
    assert v[("operations.cron", "host2")] == (
        "SKIP",
        f"host host2 unreachable: 127.0.0.1:{h2.port} accepted the SSH login but did not "
        "answer within 2s (SFTP)",
    )


def test_command_that_never_returns_is_an_error_for_that_host_only(
    tmp_path: Path, hosts: Any, host2_restarted: Any
) -> None:
    h2 = hosts.hosts[1]
    bin_dir = h2.dir / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "crontab"
    fake.write_text("#!/bin/sh\nexec sleep 600\n")
    fake.chmod(0o755)
    host2_restarted(SetEnv=f"PATH={bin_dir}:/usr/bin:/bin")
    cfg = host_config(tmp_path, hosts, {"operations": [{**CRON, "timeout": "3s"}]})
    run, _ = run_json(tmp_path, cfg)
    v = verdicts(run)
    assert v[("operations.cron", "host1")][0] == "PASS"
    status, reason = v[("operations.cron", "host2")]
    assert status == "ERROR"
    assert reason in (
        "TimeoutError: crontab -l did not finish within 1.5s on host host2",
        "did not finish within 3s (its 3s timeout)",
    )


def test_secrets_scan_reads_each_hosts_tree(tmp_path: Path, hosts: Any) -> None:
    import tempfile

    h2 = hosts.hosts[1]
    (h2.project / "settings.py").write_text(
        'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPL3"\n'  # pragma: allowlist secret
    )
    before = set(Path(tempfile.gettempdir()).glob("golive-secrets-*"))
    cfg = host_config(tmp_path, hosts, {"security": [{"id": "security.secrets_scan"}]})
    run, _ = run_json(tmp_path, cfg)
    v = verdicts(run)
    assert v[("security.secrets_scan", "host1")][0] == "PASS"
    status, summary = v[("security.secrets_scan", "host2")]
    assert status == "FAIL"
    assert "settings.py:1 (AWS Access Key" in summary
    assert "AKIAIOSFODNN7EXAMPL3" not in json.dumps(run)  # pragma: allowlist secret
    assert set(Path(tempfile.gettempdir()).glob("golive-secrets-*")) == before  # copies removed


def test_scripts_are_judged_and_parsed_on_each_host(tmp_path: Path, hosts: Any) -> None:
    h1, h2 = hosts.hosts
    for h, body in ((h1, "if true; then\n  echo ok\n"), (h2, "echo ok\n")):  # host1: no `fi`
        script = h.project / "ops" / "backup.sh"
        script.write_text("#!/bin/sh\n" + body)
        script.chmod(0o755)
    check = {"id": "operations.scripts", "params": {"scripts": ["ops/backup.sh"]}}
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"operations": [check]}))
    v = verdicts(run)
    status, summary = v[("operations.scripts", "host1")]
    assert status == "FAIL" and "Ops/backup.sh has a syntax error" in summary
    assert v[("operations.scripts", "host2")][0] == "PASS"


def test_backups_and_their_cron_entry_on_each_host(tmp_path: Path, hosts: Any) -> None:
    h1, h2 = hosts.hosts
    for h in (h1, h2):
        script = h.project / "ops" / "daily_backup.sh"
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
        (h.project / "backups").mkdir()
    (h1.project / "backups" / "orchestrator.sql").write_text("-- a plain-SQL dump\n")
    check = {
        "id": "database.backups",
        "params": {
            "directory": "backups",
            "script": "ops/daily_backup.sh",
            "cron_files": [],
            "cron_dirs": [],
        },
    }
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"database": [check]}))
    v = verdicts(run)
    status, summary = v[("database.backups", "host1")]
    assert status == "PASS", summary
    assert "scheduled in cron" in summary
    assert v[("database.backups", "host2")] == (
        "FAIL",
        f"no backup file in {hosts.mount_at}/backups",
    )


def test_compose_and_env_files_are_read_on_each_host(tmp_path: Path, hosts: Any) -> None:
    h2 = hosts.hosts[1]
    compose = h2.project / "ops" / "docker-compose.yml"
    compose.write_text(
        compose.read_text()
        + "      POSTGRES_PASSWORD: Xq7-literal-Pw-91zz\n"  # pragma: allowlist secret
    )
    (h2.project / ".env").write_text("JWT_SECRET_KEY=short\n")
    checks = [
        {"id": "security.compose_plaintext_secrets"},
        {"id": "security.jwt_secret", "params": {"services": ["api"]}},
    ]
    run, done = run_json(tmp_path, host_config(tmp_path, hosts, {"security": checks}))
    v = verdicts(run)
    assert v[("security.compose_plaintext_secrets", "host1")][0] == "PASS"
    status, summary = v[("security.compose_plaintext_secrets", "host2")]
    assert status == "FAIL" and "POSTGRES_PASSWORD" in summary
    assert v[("security.jwt_secret", "host1")][0] == "PASS", v[("security.jwt_secret", "host1")]
    assert v[("security.jwt_secret", "host2")][0] == "FAIL"
    text = json.dumps(run) + done.stdout + done.stderr
    assert "Xq7-literal-Pw-91zz" not in text  # pragma: allowlist secret
    assert "Vt9qL2xR7mB4nW8kZ3pH6sJ1dF5gC0yA" not in text  # pragma: allowlist secret
