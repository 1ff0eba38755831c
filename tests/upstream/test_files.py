"""demo.upstream's adaptation of Ordinaut's files: loopback only, nothing else changed (no server
needed: these read the release tree; outside tests/demo, whose fixtures start the demo stack)."""

from __future__ import annotations

import ipaddress
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from demo.upstream import find_source, tree
from demo.upstream.lifecycle import UNSERVED
from demo.upstream.pyenv import EXTRA_PINS, env_dir, key


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = find_source()
    if source is None:
        pytest.skip("Ordinaut's release tree not found")
    return tree.copy_tree(source, tmp_path_factory.mktemp("up") / "ordinaut")


def _loopback(hostport: str) -> bool:
    host = hostport.rsplit(":", 1)[0]
    return ipaddress.ip_address(host).is_loopback


def test_copy_is_writable_and_has_ops_env(release: Path) -> None:
    assert (release / "ops" / ".env").read_text() == (release / "ops/.env.example").read_text()
    (release / "ops" / "probe.txt").write_text("x")  # the copy is writable


def test_compose_environment_points_at_loopback(release: Path) -> None:
    hosts = {"postgres:5432": "127.0.0.1:5555", "redis:6379": "127.0.0.1:6666"}
    env = tree.service_env(release, "api", hosts)
    assert env["DATABASE_URL"] == (
        "postgresql+psycopg://orchestrator:orchestrator_pw@127.0.0.1:5555/orchestrator"
    )
    assert env["REDIS_URL"] == "redis://127.0.0.1:6666/0"
    # compose's defaults apply (ops/.env does not set them): the stock, weak values
    assert env["JWT_SECRET_KEY"] == "dev-secret-key-change-in-production"
    assert env["MAX_REQUESTS_PER_MINUTE"] == "60"
    assert tree.compose_password(release) == "orchestrator_pw"


def test_prometheus_config_is_upstreams_on_loopback(release: Path) -> None:
    unserved = {t: f"127.0.0.1:{20000 + i}" for i, t in enumerate(UNSERVED)}
    served = {"api:8080": "127.0.0.1:8081", "alertmanager:9093": "127.0.0.1:9094"}
    config = tree.prometheus_config(release, 9091, served, unserved)
    original = yaml.safe_load((release / tree.PROMETHEUS_FILE).read_text())
    jobs = [j["job_name"] for j in config["scrape_configs"]]
    assert jobs == [
        j["job_name"] for j in original["scrape_configs"] if "consul_sd_configs" not in j
    ]
    assert "orchestrator-workers-discovery" not in jobs
    targets = [
        t for j in config["scrape_configs"] for s in j["static_configs"] for t in s["targets"]
    ]
    assert all(_loopback(t) for t in targets) and "127.0.0.1:9091" in targets
    assert config["global"] == original["global"]  # intervals and labels as shipped
    assert Path(config["rule_files"][0]) == release / tree.RULES_FILE


def test_alertmanager_config_sends_nothing_off_host(release: Path) -> None:
    config = tree.alertmanager_config(release, 7777)
    original = yaml.safe_load((release / tree.ALERTMANAGER_FILE).read_text())
    assert (
        config["route"] == original["route"]
        and config["inhibit_rules"] == original["inhibit_rules"]
    )
    urls: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, str) and (k.endswith("url") or k.endswith("smarthost")):
                    urls.append(v)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(config)
    assert urls
    for url in urls:
        host = urlsplit(url).hostname if "//" in url else url.rsplit(":", 1)[0]
        assert host and ipaddress.ip_address(host).is_loopback, url
    assert not re.search(r"slack\.com|pagerduty\.com", yaml.safe_dump(config))


def test_environment_key_follows_requirements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("fastapi==0.112.2\n")
    first = key(req)
    assert key(req) == first
    req.write_text("fastapi==0.112.3\n")
    assert key(req) != first
    assert EXTRA_PINS == ("bcrypt<5",)
    monkeypatch.setenv("GOLIVE_UPSTREAM_CACHE", str(tmp_path / "cache"))
    assert env_dir(req).parent == tmp_path / "cache"
    assert shutil.which("python3")


def test_doc_table_is_refreshed_in_place(tmp_path: Path) -> None:
    from demo.upstream.doc import BEGIN, END, refresh

    report = {
        "run_id": "r1",
        "golive_version": "0.1.0",
        "started_at": "2026-01-01T00:00:00+00:00",
        "duration": 81.6,
        "settings": {"allow_writes": True},
        "decision": {"verdict": "NO-GO", "exit_code": 1, "reasons": ["1 failed"]},
        "results": [
            {"id": "a.b", "severity": "high", "status": "FAIL", "summary": "x | y\nz"},
            {"id": "a.c", "severity": "low", "status": "PASS", "summary": "ok"},
        ],
        "side_effects": [{"target": "database", "what": "1 audit_log row"}],
    }
    src = tmp_path / "run.json"
    src.write_text(__import__("json").dumps(report))
    doc = tmp_path / "doc.md"
    doc.write_text(f"intro\n\n{BEGIN}\nold table\n{END}\n\n## Hand cross-checks\nkept\n")
    refresh(src, doc)
    first = doc.read_text()
    assert first.startswith("intro\n") and first.endswith("## Hand cross-checks\nkept\n")
    assert "old table" not in first and "**Decision: NO-GO**" in first
    assert "| 1 | `a.b` | high | **FAIL** | x \\| y z |" in first
    assert "whole run: 82 s wall time; 1 FAIL, 1 PASS" in first
    assert "- database: 1 audit_log row" in first
    refresh(src, doc)
    assert doc.read_text() == first
