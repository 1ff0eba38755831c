"""SARIF report: valid against the OASIS SARIF 2.1.0 schema, one result per located finding.

The schema (tests/reports/schemas/sarif-schema-2.1.0.json) is the OASIS text of
Schemata/sarif-schema-2.1.0.json (errata01) from oasis-tcs/sarif-spec, unmodified
(sha256 c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from golive.reports.sarif import render, to_sarif

from golive.models import Finding, Severity, Status
from tests.reports.runs import HOSTILE, hostile_run, make_run, result, sample_run

SCHEMA_FILE = Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == (
        "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
    )
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)  # type: ignore[no-any-return]


URI_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def errors(validator: Any, doc: Any) -> list[str]:
    """Schema errors, plus the `uri-reference` and `date-time` formats that jsonschema checks
    only when optional packages are installed."""
    out = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    for run in doc.get("runs") or []:
        for r in run.get("results", []):
            for loc in r.get("locations", []):
                uri = loc["physicalLocation"]["artifactLocation"]["uri"]
                if not URI_CHARS.match(uri):
                    out.append(f"not an RFC 3986 URI reference: {uri!r}")
        for inv in run.get("invocations", []):
            for key in ("startTimeUtc", "endTimeUtc"):
                if key in inv and not UTC.match(inv[key]):
                    out.append(f"{key} is not a UTC date-time: {inv[key]!r}")
    return out


def test_sample_run_is_valid_sarif(validator: Any) -> None:
    doc = json.loads(render(sample_run()))
    assert errors(validator, doc) == []
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    assert run["tool"]["driver"]["name"] == "golive"
    assert run["invocations"][0]["startTimeUtc"] == "2026-05-04T10:00:00Z"
    assert run["invocations"][0]["properties"]["decision"] == "NO-GO"


def test_hostile_run_is_valid_sarif(validator: Any) -> None:
    doc = json.loads(render(hostile_run()))
    assert errors(validator, doc) == []
    texts = [r["message"]["text"] for r in doc["runs"][0]["results"]]
    assert texts and all(t == HOSTILE for t in texts)


def test_the_schema_rejects_broken_logs(validator: Any) -> None:
    doc = to_sarif(sample_run())
    bad_level = json.loads(json.dumps(doc))
    bad_level["runs"][0]["results"][0]["level"] = "fatal"
    assert errors(validator, bad_level)
    bad_region = json.loads(json.dumps(doc))
    bad_region["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"][
        "startLine"
    ] = 0
    assert errors(validator, bad_region)
    no_version = {k: v for k, v in doc.items() if k != "version"}
    assert errors(validator, no_version)


def test_each_located_finding_is_a_result_with_rule_level_and_location() -> None:
    doc = to_sarif(sample_run())
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["security.jwt_secret", "security.file_permissions"]
    jwt = rules[0]
    assert jwt["shortDescription"]["text"] == "Jwt secret is healthy"
    assert jwt["help"]["text"] == "Fix security.jwt_secret and run golive again."
    assert jwt["properties"]["security-severity"] == "9.5"
    assert jwt["defaultConfiguration"]["level"] == "error"
    results = run["results"]
    assert len(results) == 3
    first = results[0]
    assert first["ruleId"] == "security.jwt_secret" and first["ruleIndex"] == 0
    assert first["level"] == "error" and first["kind"] == "fail"
    assert first["message"]["text"] == "JWT_SECRET_KEY has an insecure default"
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "ops/docker-compose.yml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 14},
    }
    assert first["properties"]["findingRule"] == "default-secret"
    # a waived check's findings are suppressed with the waiver as justification
    waived = results[1]
    assert waived["ruleIndex"] == 1 and waived["level"] == "warning"
    assert waived["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "Fixed by the release image; the host copy is not used "
            "(approved by Dana Ops until 2099-01-01)",
        }
    ]
    assert "region" not in waived["locations"][0]["physicalLocation"]
    # an absolute path outside the (relative) project root becomes a file URI
    assert results[2]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "file:///srv/app/ops/restore.sh"
    }
    assert len({r["partialFingerprints"]["goliveFinding/v1"] for r in results}) == 3


def test_paths_under_an_absolute_project_root_are_relative_to_it(validator: Any) -> None:
    r = result(
        "security.secrets_scan",
        Status.FAIL,
        "1 secret found.",
        Severity.CRITICAL,
        findings=[
            Finding("/srv/app/config/settings.py", "AWS access key", 7),
            Finding("docs/with space#and%.md", "private key", 1),
        ],
    )
    run = replace(make_run([r]), targets={"project": "/srv/app"})
    doc = to_sarif(run)
    assert errors(validator, doc) == []
    locs = [
        x["locations"][0]["physicalLocation"]["artifactLocation"] for x in doc["runs"][0]["results"]
    ]
    assert locs == [
        {"uri": "config/settings.py", "uriBaseId": "%SRCROOT%"},
        {"uri": "docs/with%20space%23and%25.md", "uriBaseId": "%SRCROOT%"},
    ]
    assert doc["runs"][0]["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///srv/app/"}}


def test_levels_follow_status_and_severity() -> None:
    def level(status: Status, severity: Severity) -> tuple[str, str]:
        r = result("security.x", status, "s", severity, findings=[Finding("a.txt", "m", 1)])
        out = to_sarif(make_run([r]))["runs"][0]["results"][0]
        return out["level"], out["kind"]

    assert level(Status.FAIL, Severity.CRITICAL) == ("error", "fail")
    assert level(Status.FAIL, Severity.MEDIUM) == ("warning", "fail")
    assert level(Status.FAIL, Severity.LOW) == ("note", "fail")
    assert level(Status.WARN, Severity.CRITICAL) == ("warning", "fail")
    assert level(Status.ERROR, Severity.LOW) == ("error", "fail")
    assert level(Status.PASS, Severity.HIGH) == ("none", "pass")


def test_a_run_without_findings_is_an_empty_valid_log(validator: Any) -> None:
    doc = to_sarif(make_run([result("database.version", Status.PASS, "PostgreSQL 15.")]))
    assert errors(validator, doc) == []
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["tool"]["driver"]["rules"] == []
