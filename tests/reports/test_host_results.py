"""Host-level results (one per check and host) in every output format."""

from __future__ import annotations

import json
import re
from importlib.resources import files

import jsonschema
from golive.reports import console, html, junit, markdown, prometheus, sarif
from golive.reports import json as json_report

from golive.models import Finding, Status
from tests.reports.runs import make_run, result


def _run() -> object:
    perms = "security.file_permissions"
    return make_run(
        [
            result(
                perms,
                Status.FAIL,
                "1 permission problem(s)",
                host="app1",
                findings=[Finding("ops/docker-compose.yml", "world-writable (mode 0666)")],
            ),
            result(perms, Status.PASS, "12 files have safe permissions", host="app2"),
            result("operations.cron", Status.SKIP, "host db1 unreachable: refused", host="db1"),
            result("database.version", Status.PASS, "PostgreSQL 15"),
        ]
    )


def test_json_names_each_host_and_matches_the_schema() -> None:
    run = _run()
    data = json.loads(json_report.render(run))  # type: ignore[arg-type]
    schema = json.loads(files("golive.reports").joinpath("run.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert [(r["id"], r["host"]) for r in data["results"]] == [
        ("security.file_permissions", "app1"),
        ("security.file_permissions", "app2"),
        ("operations.cron", "db1"),
        ("database.version", None),
    ]
    back = json_report.from_dict(data)
    assert [r.key for r in back.results][:2] == [
        "security.file_permissions@app1",
        "security.file_permissions@app2",
    ]
    assert data["decision"]["blocking"][0] == "security.file_permissions@app1"


def test_junit_sarif_markdown_prometheus() -> None:
    run = _run()
    xml = junit.render(run)  # type: ignore[arg-type]
    names = re.findall(r'<testcase name="([^"]+)"', xml)
    assert set(names) == {
        "security.file_permissions@app1",
        "security.file_permissions@app2",
        "operations.cron@db1",
        "database.version",
    }
    log = json.loads(sarif.render(run))  # type: ignore[arg-type]
    (res,) = log["runs"][0]["results"]
    assert res["properties"]["host"] == "app1"
    assert res["message"]["text"] == "on host app1: world-writable (mode 0666)"
    md = markdown.render(run)  # type: ignore[arg-type]
    assert "`security.file_permissions@app1`" in md
    prom = prometheus.render(run)  # type: ignore[arg-type]
    assert 'golive_check_status{id="security.file_permissions",host="app1"' in prom
    assert 'golive_check_status{id="security.file_permissions",host="app2"' in prom


def test_console_and_html_group_the_hosts_under_their_check() -> None:
    run = _run()
    text = console.render(run)  # type: ignore[arg-type]
    rows = [ln for ln in text.splitlines() if "│ app1 │" in ln or "│ app2 │" in ln]
    assert len(rows) == 2
    assert "security.file_permissions@app1 [high]" in text  # the banner's blocking list
    assert "security.file_permissions" in rows[0] and "security.file_permissions" not in rows[1]
    page = html.render(run)  # type: ignore[arg-type]
    assert page.count("on host <code>app1</code>") == 1
    assert page.count("on host <code>app2</code>") == 1
    anchors = re.findall(r'<article class="result[^"]*" id="([^"]+)"', page)
    assert len(anchors) == len(set(anchors)) == 4
    first, second = page.index("on host <code>app1</code>"), page.index("on host <code>app2</code>")
    assert first < second and "operations.cron" not in page[first:second]
