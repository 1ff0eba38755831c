"""Prometheus, Alertmanager and the webhook sink that receives Alertmanager's webhooks.

Prometheus scrapes the API every second and evaluates the project's
``ops/alert_rules.yml`` every second; Alertmanager (v2 API, no gossip) routes every
alert to the sink, which appends the payloads to ``STATE/webhook/received.jsonl``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from demo.stack import prereq, procs
from demo.stack.app import python_env
from demo.stack.model import Stack

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"


def _start_http(
    stack: Stack,
    name: str,
    build: Callable[[int], list[str]],
    ready_path: str,
    attempts: int = 3,
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> int:
    """Spawn ``build(port)``, wait for ``GET ready_path``; retry on another port."""
    log = stack.state_dir / "logs" / f"{name}.log"
    for attempt in range(attempts):
        chosen = port if (port and attempt == 0) else procs.free_port()
        pid = procs.spawn(build(chosen), log, env=env, cwd=stack.state_dir)
        url = f"http://127.0.0.1:{chosen}{ready_path}"
        try:
            procs.wait_until(partial(procs.http_ok, url), 30, name, alive=partial(procs.alive, pid))
        except (RuntimeError, TimeoutError) as exc:
            procs.kill_group(pid)
            if attempt == attempts - 1:
                raise procs.ServiceFailed(name, str(exc), log) from None
            continue
        stack.pids[name] = pid
        stack.ports[name] = chosen
        stack.paths[f"{name}_log"] = str(log)
        return chosen
    raise AssertionError("unreachable")


def start_webhook_sink(stack: Stack, port: int | None = None) -> None:
    """Start :mod:`demo.webhook_sink` writing to ``STATE/webhook/received.jsonl``."""
    out = stack.state_dir / "webhook" / "received.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.touch()
    _start_http(
        stack,
        "webhook_sink",
        lambda p: [sys.executable, "-m", "demo.webhook_sink", "--port", str(p), "--out", str(out)],
        "/",
        port=port,
        env=python_env(),
    )
    stack.webhook_sink = out


def alertmanager_config(sink_port: int) -> dict[str, object]:
    """Route everything to the webhook sink quickly (tests wait for deliveries)."""
    return {
        "route": {
            "receiver": "webhook-sink",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "webhook-sink",
                "webhook_configs": [
                    {"url": f"http://127.0.0.1:{sink_port}/alerts", "send_resolved": True}
                ],
            }
        ],
    }


def start_alertmanager(
    stack: Stack, port: int | None = None, config: dict[str, object] | None = None
) -> None:
    """Start Alertmanager with ``config`` (default: everything to the webhook sink);
    v2 API on loopback, no cluster."""
    try:
        binary = prereq.path(ALERTMANAGER)
    except prereq.MissingTool as exc:
        raise procs.ServiceFailed("alertmanager", str(exc)) from None
    base = stack.state_dir / "alertmanager"
    (base / "data").mkdir(parents=True, exist_ok=True)
    conf = base / "alertmanager.yml"
    if config is None:
        config = alertmanager_config(stack.ports["webhook_sink"])
    conf.write_text(yaml.safe_dump(config, sort_keys=False))
    stack.paths["alertmanager_config"] = str(conf)
    chosen = _start_http(
        stack,
        "alertmanager",
        lambda p: [
            binary,
            f"--config.file={conf}",
            f"--web.listen-address=127.0.0.1:{p}",
            f"--storage.path={base / 'data'}",
            "--cluster.listen-address=",
            "--log.level=info",
        ],
        "/-/ready",
        port=port,
    )
    stack.alertmanager_url = f"http://127.0.0.1:{chosen}"


def prometheus_config(stack: Stack, rules: Path) -> dict[str, object]:
    """Scrape the API, Prometheus and Alertmanager every second."""
    api = f"127.0.0.1:{stack.ports['api']}"
    am = f"127.0.0.1:{stack.ports['alertmanager']}"
    return {
        "global": {
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "evaluation_interval": "1s",
            "external_labels": {"stack": "golive-demo"},
        },
        "rule_files": [str(rules)],
        "alerting": {
            "alertmanagers": [{"api_version": "v2", "static_configs": [{"targets": [am]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "orchestrator-api",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [api], "labels": {"service": "api"}}],
            },
            {"job_name": "alertmanager", "static_configs": [{"targets": [am]}]},
        ],
    }


def start_prometheus(
    stack: Stack,
    rules: Path,
    port: int | None = None,
    config: Callable[[int], dict[str, object]] | None = None,
) -> None:
    """Start Prometheus with the project's alert rules and the generated config, or
    ``config(port)`` (a project's own, which may scrape Prometheus itself on ``port``)."""
    try:
        binary = prereq.path(PROMETHEUS)
    except prereq.MissingTool as exc:
        raise procs.ServiceFailed("prometheus", str(exc)) from None
    base = stack.state_dir / "prometheus"
    (base / "data").mkdir(parents=True, exist_ok=True)
    conf = base / "prometheus.yml"
    stack.paths["prometheus_config"] = str(conf)

    def build(p: int) -> list[str]:
        data = prometheus_config(stack, rules) if config is None else config(p)
        conf.write_text(yaml.safe_dump(data, sort_keys=False))
        return [
            binary,
            f"--config.file={conf}",
            f"--web.listen-address=127.0.0.1:{p}",
            f"--storage.tsdb.path={base / 'data'}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ]

    chosen = _start_http(
        stack,
        "prometheus",
        build,
        "/-/ready",
        port=port,
    )
    stack.prometheus_url = f"http://127.0.0.1:{chosen}"


def prometheus_discovery(
    stack: Stack,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """Prometheus's active Alertmanagers and active scrape targets (as its HTTP API lists
    them), or None while it does not answer."""
    import json
    import urllib.request

    def get(path: str) -> dict[str, Any]:
        with urllib.request.urlopen(stack.prometheus_url + path, timeout=2) as resp:
            data: dict[str, Any] = json.load(resp)["data"]
            return data

    try:
        managers = get("/api/v1/alertmanagers")["activeAlertmanagers"]
        targets = get("/api/v1/targets?state=active")["activeTargets"]
    except (OSError, ValueError, KeyError):
        return None
    return managers, targets


def monitoring_ready(stack: Stack) -> bool:
    """True when Prometheus has scraped every target successfully and lists its
    Alertmanager as active (until then, alerts would go nowhere)."""
    discovered = prometheus_discovery(stack)
    if discovered is None:
        return False
    managers, targets = discovered
    return bool(managers) and bool(targets) and all(t["health"] == "up" for t in targets)


def reload_prometheus(stack: Stack) -> None:
    """Rewrite Prometheus's config from the current ports and ask it to reload."""
    import urllib.request

    conf = Path(stack.paths["prometheus_config"])
    rules = stack.project_root / "ops" / "alert_rules.yml"
    conf.write_text(yaml.safe_dump(prometheus_config(stack, rules), sort_keys=False))
    req = urllib.request.Request(f"{stack.prometheus_url}/-/reload", method="POST")
    with urllib.request.urlopen(req, timeout=10):
        pass


def restart_alertmanager(stack: Stack) -> None:
    """Start Alertmanager again, on its old port when that is free."""
    old = stack.ports.get("alertmanager")
    start_alertmanager(stack, port=old)
    if stack.ports["alertmanager"] != old:
        reload_prometheus(stack)
