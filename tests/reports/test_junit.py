"""JUnit XML: valid against the shipped XSD (the dialect Jenkins and GitLab read), one
testsuite per section, failures with message and remediation, skips with reasons."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import xmlschema
from golive.reports.junit import render

from golive.models import Status
from tests.reports.runs import HOSTILE, hostile_run, make_run, result, sample_run, waited_run


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(files("golive.reports").joinpath("junit.xsd")))


def parse(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))


def test_sample_and_hostile_runs_are_valid(schema: Any) -> None:
    for run in (sample_run(), hostile_run()):
        text = render(run)
        assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
        schema.validate(text)


def test_the_schema_rejects_what_ci_servers_would_misread(schema: Any) -> None:
    good = render(sample_run())
    assert schema.is_valid(good)
    two_outcomes = good.replace(
        '<skipped message="alertmanager unreachable: connection refused" />',
        '<skipped message="x" /><failure message="y" />',
    )
    assert two_outcomes != good and not schema.is_valid(two_outcomes)
    assert not schema.is_valid(good.replace('<testcase name="database.connections"', "<testcase"))
    assert not schema.is_valid(good.replace('failures="2"', 'failures="two"'))
    assert not schema.is_valid(good.replace("<properties>", "<properties><bogus/>", 1))


def test_one_testsuite_per_section_with_counts_and_properties() -> None:
    run = sample_run()
    root = parse(render(run))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("10", "2", "1")
    assert root.get("name") == "golive ordinaut/production"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        "security",
        "database",
        "performance",
        "monitoring",
        "operations",
    ]
    security = suites[0]
    assert {
        k: security.get(k) for k in ("tests", "failures", "errors", "skipped", "timestamp")
    } == {
        "tests": "3",
        "failures": "1",
        "errors": "0",
        "skipped": "1",
        "timestamp": "2026-05-04T10:00:00",
    }
    props = {p.get("name"): p.get("value") for p in security.find("properties") or []}
    assert props["golive.decision"] == "NO-GO"
    assert props["golive.exit_code"] == "1"
    assert props["golive.run_id"] == "20260504T100000-abc123"
    assert props["golive.config_digest"] == "sha256:" + "ab" * 32
    assert props["golive.section.title"] == "Security validation and hardening"
    assert (
        props["golive.gate.monitoring"]
        == "SKIP; signed by Sam Approver at 2026-05-04T11:00:00+00:00"
    )
    assert props["golive.decision.blocking"] == "security.jwt_secret, database.backups"


def test_failures_errors_skips_and_waivers() -> None:
    root = parse(render(sample_run()))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert len(cases) == 10
    jwt = cases["security.jwt_secret"]
    assert jwt.get("classname") == "golive.security" and jwt.get("time") == "0.123"
    failure = jwt.find("failure")
    assert failure is not None
    assert failure.get("type") == "critical"
    assert (
        failure.get("message")
        == "JWT_SECRET_KEY falls back to the default 'dev-secret-key-change-in-production'."
    )
    assert "How to fix: Fix security.jwt_secret and run golive again." in (failure.text or "")
    assert "ops/docker-compose.yml:14 JWT_SECRET_KEY has an insecure default" in (
        failure.text or ""
    )
    error = cases["database.backups"].find("error")
    assert error is not None and error.get("message", "").startswith("PermissionError")
    skipped = cases["monitoring.alertmanager"].find("skipped")
    assert (
        skipped is not None
        and skipped.get("message") == "alertmanager unreachable: connection refused"
    )
    waived = cases["security.file_permissions"].find("skipped")
    assert waived is not None and waived.get("type") == "waived"
    assert waived.get("message") == (
        "waived by Dana Ops until 2099-01-01 (Fixed by the release image; "
        "the host copy is not used): 2 files are world-writable."
    )
    warn = cases["database.connections"]
    assert warn.find("failure") is None and warn.find("skipped") is None
    assert "Status: WARN" in (warn.findtext("system-out") or "")
    passing = cases["database.migrations"]
    assert list(passing) == [passing.find("system-out")]


def test_control_characters_and_payloads_survive_as_text(schema: Any) -> None:
    nasty = "bell\x07 nul\x00 esc\x1b ]]> " + HOSTILE
    run = make_run(
        [result("security.x", Status.FAIL, nasty, remediation=nasty, evidence={nasty: nasty})]
    )
    text = render(run)
    schema.validate(text)
    failure = parse(text).find(".//failure")
    assert failure is not None
    assert failure.get("message") == "bell\ufffd nul\ufffd esc\ufffd ]]> " + HOSTILE
    assert "<script>" not in text


def test_a_run_that_waited_has_its_rounds_as_properties(schema: Any, tmp_path: Path) -> None:
    text = render(waited_run(tmp_path))
    schema.validate(text)
    props = {p.get("name"): p.get("value") for p in parse(text).iter("property")}
    assert props["golive.wait.rounds"] == "2"
    assert props["golive.wait"] == "2 rounds (--wait 10m, --interval 0.01s): GO reached"
