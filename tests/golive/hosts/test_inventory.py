"""golive/hosts/inventory.py and `targets.hosts` in golive.yaml: hosts, roles, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from golive.cli import app
from golive.config import load_config
from golive.errors import ConfigError
from golive.hosts.inventory import read_inventory

runner = CliRunner()

INI = """\
# production
[app]
app1 ansible_host=10.0.0.11
app2 ansible_host=10.0.0.12 ansible_port=2222 ansible_user=deploy

[db]
db1 ansible_host=10.0.0.21 ansible_ssh_private_key_file=keys/db

[app:vars]
ansible_user=ops

[prod:children]
app
db

[all:vars]
ansible_user=root
"""

YAML = """\
all:
  vars:
    ansible_user: root
  children:
    app:
      hosts:
        app1: {ansible_host: 10.0.0.11}
    db:
      hosts:
        db1:
          ansible_port: 2200
          ansible_connection: local
"""


def test_ini_groups_become_roles_and_vars_merge_nearest_first() -> None:
    hosts, problems = read_inventory("inv.ini", INI)
    assert problems == []
    by = {h.name: h for h in hosts}
    assert by["app1"].groups == {"app", "prod"}
    assert by["app1"].vars["ansible_user"] == "ops"  # [app:vars] beats [all:vars]
    assert by["app2"].vars["ansible_user"] == "deploy"  # the host's own var wins
    assert by["db1"].vars["ansible_user"] == "root"
    assert by["db1"].groups == {"db", "prod"}


def test_yaml_inventory() -> None:
    hosts, problems = read_inventory("inv.yml", YAML)
    assert problems == []
    assert [(h.name, sorted(h.groups)) for h in hosts] == [("app1", ["app"]), ("db1", ["db"])]


def _config(tmp_path: Path, hosts_yaml: str, checks: str = "") -> Path:
    path = tmp_path / "golive.yaml"
    path.write_text(f"version: 1\ntargets:\n  hosts:\n{hosts_yaml}{checks}")
    return path


def test_inventory_in_golive_yaml(tmp_path: Path) -> None:
    (tmp_path / "inventory.ini").write_text(INI)
    path = _config(tmp_path, "    inventory: inventory.ini\n    known_hosts: kh\n")
    cfg = load_config([str(path)])
    by = {h.name: h for h in cfg.hosts}
    assert by["app2"].ssh == "ssh://deploy@10.0.0.12:2222"
    assert by["app1"].ssh == "ssh://ops@10.0.0.11:22"
    assert by["app1"].roles == ["app", "prod"]
    assert by["db1"].identity_file == str(tmp_path / "keys" / "db")
    assert by["db1"].known_hosts == str(tmp_path / "kh")  # relative to golive.yaml


def test_yaml_inventory_local_connection_is_the_local_machine(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text(YAML)
    cfg = load_config([str(_config(tmp_path, "    inventory: hosts.yml\n"))])
    assert {h.name: h.ssh for h in cfg.hosts} == {
        "app1": "ssh://root@10.0.0.11:22",
        "db1": None,
    }


@pytest.mark.parametrize(
    ("inventory", "expected"),
    [
        ("[app]\nweb[01:03] ansible_host=x\n", "inventory.ini:2: host ranges such as 'web[01:03]'"),
        ("[app]\napp1 ansible_port=nope\n", "inventory.ini:2: app1: "),
        ("[app\n", "inventory.ini:1:1: malformed section header '[app'"),
    ],
)
def test_inventory_problems_are_located(tmp_path: Path, inventory: str, expected: str) -> None:
    (tmp_path / "inventory.ini").write_text(inventory)
    path = _config(tmp_path, "    inventory: inventory.ini\n")
    result = runner.invoke(app, ["validate", "--config", str(path)])
    assert result.exit_code == 2
    assert f"{tmp_path}/{expected}" in result.output
    assert "Traceback" not in result.output


def test_missing_inventory_names_the_yaml_line(tmp_path: Path) -> None:
    path = _config(tmp_path, "    inventory: nowhere.ini\n")
    with pytest.raises(ConfigError) as err:
        load_config([str(path)])
    assert str(err.value) == (
        f"{path}:4:5: targets.hosts.inventory: inventory {tmp_path}/nowhere.ini: file not found"
    )


def test_host_list_errors(tmp_path: Path) -> None:
    hosts = (
        "    - name: a\n      ssh: ssh://root@10.0.0.1:22\n      roles: [app]\n"
        "    - name: b\n      ssh: http://10.0.0.2\n"
    )
    checks = (
        "sections:\n  operations:\n    checks:\n"
        "      - id: operations.cron\n        hosts: [apps]\n"
    )
    result = runner.invoke(app, ["validate", "--config", str(_config(tmp_path, hosts, checks))])
    assert result.exit_code == 2
    out = result.output
    assert (
        f"{tmp_path}/golive.yaml:8:7: targets.hosts[1].ssh: expected ssh://[user@]host[:port], "
        "got 'http://10.0.0.2'"
    ) in out
    assert "Input should be a valid dictionary" not in out  # no noise from the other form


def test_unknown_role_in_check_hosts(tmp_path: Path) -> None:
    hosts = "    - name: a\n      ssh: ssh://root@10.0.0.1:22\n      roles: [app]\n"
    checks = (
        "sections:\n  operations:\n    checks:\n"
        "      - id: operations.cron\n        hosts: [apps]\n"
    )
    result = runner.invoke(app, ["validate", "--config", str(_config(tmp_path, hosts, checks))])
    assert result.exit_code == 2
    assert (
        f"{tmp_path}/golive.yaml:11:17: sections.operations.checks[0].hosts[0]: no host has "
        "the role or name 'apps' (did you mean 'app'?); roles and hosts: a, app"
    ) in result.output
