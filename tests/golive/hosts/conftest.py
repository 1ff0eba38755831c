"""Real SSH hosts for the host tests: `demo.stack.sshhosts` (sshd on 127.0.0.1, one mount
namespace per host, key authentication, pinned host keys).

Each host sees its own copy of a small deployed project at the same path (`mount_at`) and
its own root crontab. Tests plant different states on different hosts by changing a host's
copy (``host.project``) or crontab (``host.crontabs / "root"``) directly; `reset` puts both
back after each test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import _missing

CRONTAB = (
    "0 3 * * * /usr/local/bin/daily_backup.sh >> /var/log/backup.log 2>&1\n"
    "*/5 * * * * /usr/local/bin/health_check.sh\n"
)
RUNBOOKS = ["DISASTER_RECOVERY", "INCIDENT_RESPONSE", "PRODUCTION_RUNBOOK"]


def make_project(root: Path) -> None:
    """A deployed project: compose file, .env (0600), complete and current runbooks."""
    (root / "ops").mkdir(parents=True, exist_ok=True)
    (root / "ops" / "docker-compose.yml").write_text(
        "services:\n  api:\n    image: example/api:1.0\n    environment:\n"
        "      JWT_SECRET_KEY: ${JWT_SECRET_KEY}\n"
    )
    os.chmod(root / "ops" / "docker-compose.yml", 0o644)
    env = root / ".env"
    env.write_text("JWT_SECRET_KEY=Vt9qL2xR7mB4nW8kZ3pH6sJ1dF5gC0yA\n")
    os.chmod(env, 0o600)
    words = " ".join(f"step{i} check the service and record what was done" for i in range(40))
    for name in RUNBOOKS:
        (root / "ops" / f"{name}.md").write_text(
            f"# {name}\n\nLast updated: {date.today().isoformat()}\n\n{words}\n"
        )
    os.chmod(root, 0o755)
    os.chmod(root / "ops", 0o755)


@pytest.fixture(scope="session")
def ssh_hosts() -> Iterator[Any]:
    """Two running SSH hosts (host1, host2; roles app and app+db)."""
    try:
        from demo.stack import procs, sshhosts
    except ImportError as exc:
        _missing(f"demo extra ({exc.name})")
    missing = sshhosts.missing_binaries()
    if missing:
        _missing(", ".join(missing))
    base = Path(tempfile.mkdtemp(prefix="golive-hosts-"))
    src = base / "src"
    make_project(src)
    try:
        hosts = sshhosts.start(
            base / "hosts",
            2,
            project_src=src,
            mount_at=base / "deployed",
            crontab=CRONTAB,
            roles=[["app"], ["app", "db"]],
        )
    except procs.ServiceFailed as exc:
        pytest.fail(f"{exc}\n--- log tail ---\n{exc.tail}", pytrace=False)
    try:
        yield hosts
    finally:
        hosts.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def hosts(ssh_hosts: Any) -> Iterator[Any]:
    """The session's SSH hosts, each back to the clean project and crontab afterwards."""
    yield ssh_hosts
    for h in ssh_hosts.hosts:
        # empty the copy, not replace it: the host's bind mount holds this very directory
        for child in h.project.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        make_project(h.project)
        tab = h.crontabs / "root"
        tab.write_text(CRONTAB)
        os.chmod(tab, 0o600)


def host_config(
    tmp_path: Path,
    hosts: Any,
    checks: dict[str, list[dict[str, Any]]],
    *,
    host_entries: list[dict[str, Any]] | None = None,
    targets_extra: dict[str, Any] | None = None,
    **extra: Any,
) -> str:
    """A golive.yaml for the hosts' deployed project, with the given sections."""
    data: dict[str, Any] = {
        "version": 1,
        "targets": {
            "project": {
                "root": str(hosts.mount_at),
                "compose_files": ["ops/docker-compose.yml"],
                "env_files": [".env"],
            },
            "hosts": host_entries if host_entries is not None else hosts.golive_block(),
            **(targets_extra or {}),
        },
        "defaults": {"timeout": "20s"},
        "sections": {name: {"checks": c} for name, c in checks.items()},
        **extra,
    }
    path = tmp_path / "golive.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


CRON = {
    "id": "operations.cron",
    "params": {"files": [], "dirs": [], "check_daemon": False},
}
PERMS = {"id": "security.file_permissions", "params": {"extra_paths": []}}
RUNBOOK_CHECK = {
    "id": "operations.runbooks",
    "params": {"documents": [f"ops/{n}.md" for n in RUNBOOKS], "min_words": 50},
}
