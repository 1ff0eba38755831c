"""Ordinaut's own files, adapted only where a host without containers needs it.

- The release tree is copied into the state directory (the source may be read-only) and
  ``ops/.env`` is made from ``ops/.env.example``, as its ops/README.md tells operators.
- Each process gets its service's ``environment:`` block of ``ops/docker-compose.yml``,
  interpolated as Compose would (``ops/.env``, then defaults), with the compose service
  names rewritten to the loopback ports of the servers started here.
- Prometheus gets ``ops/prometheus/prometheus.yml`` and its ``alert_rules.yml``: the
  ``consul_sd_configs`` job is dropped (Debian's Prometheus is built without Consul
  discovery and would reject the whole file); every other target is rewritten to
  127.0.0.1: the API and Alertmanager to their ports, Prometheus to itself, and the
  targets that nothing here serves (worker and scheduler metrics ports, which 2.2.2's
  processes never open, and the three exporters, which its compose files do not start)
  to loopback ports where nothing listens. They stay in the file as the real ``down``
  targets they are in a stock deployment, so that golive can report them.
- Alertmanager gets ``ops/alertmanager/alertmanager.yml`` with every destination off
  this host moved to loopback: Slack and PagerDuty to the webhook sink, which records
  what it receives, and SMTP to ``127.0.0.1`` (nothing listens: mails fail locally).
"""

from __future__ import annotations

import copy
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import yaml

from golive.interpolate import interpolate, parse_env_file

COMPOSE_FILE = "ops/docker-compose.yml"
ENV_EXAMPLE = "ops/.env.example"
ENV_FILE = "ops/.env"
PROMETHEUS_FILE = "ops/prometheus/prometheus.yml"
RULES_FILE = "ops/prometheus/alert_rules.yml"
ALERTMANAGER_FILE = "ops/alertmanager/alertmanager.yml"
MIGRATION = "migrations/version_0001.sql"


def copy_tree(source: Path, dest: Path) -> Path:
    """Copy the release to ``dest`` (writable, without caches) and create ``ops/.env``."""
    shutil.copytree(
        source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=True
    )
    for root, dirs, files in os.walk(dest):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, stat.S_IMODE(mode) | stat.S_IWUSR | stat.S_IRUSR)
    os.chmod(dest, 0o755)
    example = dest / ENV_EXAMPLE
    if example.is_file():
        shutil.copyfile(example, dest / ENV_FILE)
    return dest


def _compose(tree: Path) -> dict[str, Any]:
    data = yaml.safe_load((tree / COMPOSE_FILE).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ValueError(f"{tree / COMPOSE_FILE}: no services")
    return data


def compose_password(tree: Path) -> str:
    """``POSTGRES_PASSWORD`` of the compose file's postgres service (interpolated)."""
    env = service_env(tree, "postgres", {})
    password = env.get("POSTGRES_PASSWORD")
    if not password:
        raise ValueError(f"{tree / COMPOSE_FILE}: services.postgres has no POSTGRES_PASSWORD")
    return password


def service_env(tree: Path, service: str, hosts: dict[str, str]) -> dict[str, str]:
    """The ``environment:`` of ``service``, interpolated, compose hosts rewritten.

    ``hosts`` maps ``name:port`` as the compose network knows it to ``127.0.0.1:PORT``.
    """
    services = _compose(tree)["services"]
    block = (services.get(service) or {}).get("environment") or {}
    if isinstance(block, list):  # ["KEY=value", ...]
        block = dict(item.split("=", 1) if "=" in item else (item, "") for item in block)
    variables: dict[str, str] = {}
    env_file = tree / ENV_FILE
    if env_file.is_file():
        variables.update(parse_env_file(env_file.read_text()))
    out: dict[str, str] = {}
    for name, value in block.items():
        text = "" if value is None else str(value)
        text = interpolate(text, variables).text
        for compose_host, local in hosts.items():
            text = text.replace(f"@{compose_host}", f"@{local}").replace(
                f"//{compose_host}", f"//{local}"
            )
        out[str(name)] = text
    return out


def prometheus_config(
    tree: Path,
    own_port: int,
    addresses: dict[str, str],
    unserved: dict[str, str],
) -> dict[str, Any]:
    """Upstream's prometheus.yml for this host (see the module docstring).

    ``addresses`` maps compose ``host:port`` targets to served loopback addresses;
    ``unserved`` maps the others to loopback addresses where nothing listens.
    """
    config = copy.deepcopy(yaml.safe_load((tree / PROMETHEUS_FILE).read_text()))
    mapping = {"localhost:9090": f"127.0.0.1:{own_port}", **addresses, **unserved}
    jobs = []
    for job in config.get("scrape_configs") or []:
        if "consul_sd_configs" in job:
            continue
        for static in job.get("static_configs") or []:
            static["targets"] = [_mapped(t, mapping) for t in static.get("targets") or []]
        jobs.append(job)
    config["scrape_configs"] = jobs
    for manager in (config.get("alerting") or {}).get("alertmanagers") or []:
        for static in manager.get("static_configs") or []:
            static["targets"] = [_mapped(t, mapping) for t in static.get("targets") or []]
    config["rule_files"] = [
        str((tree / PROMETHEUS_FILE).parent / rule) for rule in config.get("rule_files") or []
    ]
    return dict(config)


def _mapped(target: str, mapping: dict[str, str]) -> str:
    if target not in mapping:
        raise ValueError(f"{PROMETHEUS_FILE}: no loopback address for target {target!r}")
    return mapping[target]


def compose_targets(tree: Path) -> list[str]:
    """Every static scrape and alerting target of upstream's prometheus.yml."""
    config = yaml.safe_load((tree / PROMETHEUS_FILE).read_text())
    found: list[str] = []
    for job in config.get("scrape_configs") or []:
        for static in job.get("static_configs") or []:
            found.extend(static.get("targets") or [])
    for manager in (config.get("alerting") or {}).get("alertmanagers") or []:
        for static in manager.get("static_configs") or []:
            found.extend(static.get("targets") or [])
    return found


def alertmanager_config(tree: Path, sink_port: int) -> dict[str, Any]:
    """Upstream's alertmanager.yml with every off-host destination moved to loopback."""
    config = copy.deepcopy(yaml.safe_load((tree / ALERTMANAGER_FILE).read_text()))
    sink = f"http://127.0.0.1:{sink_port}"
    glob = config.setdefault("global", {})
    if "smtp_smarthost" in glob:
        port = str(glob["smtp_smarthost"]).rsplit(":", 1)[-1]
        glob["smtp_smarthost"] = f"127.0.0.1:{port}"
    glob["slack_api_url"] = f"{sink}/slack"
    glob["pagerduty_url"] = f"{sink}/pagerduty"
    glob["opsgenie_api_url"] = f"{sink}/opsgenie/"
    glob["victorops_api_url"] = f"{sink}/victorops/"
    glob["wechat_api_url"] = f"{sink}/wechat/"
    glob["telegram_api_url"] = f"{sink}"
    for receiver in config.get("receivers") or []:
        for kind, entries in receiver.items():
            if not kind.endswith("_configs"):
                continue
            for entry in entries or []:
                if kind == "webhook_configs":
                    entry["url"] = f"{sink}/webhook/{receiver.get('name', '')}"
                elif kind == "email_configs" and "smarthost" in entry:
                    entry["smarthost"] = glob.get("smtp_smarthost", "127.0.0.1:25")
                elif kind != "email_configs":
                    for field in ("api_url", "url"):
                        entry.pop(field, None)
    return dict(config)
