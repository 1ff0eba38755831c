"""JUnit XML report for CI (Jenkins, GitLab): one testsuite per checklist section.

- FAIL -> ``<failure>`` (message: the summary; type: the severity; text: title, severity,
  summary, how to fix, evidence and findings);
- ERROR -> ``<error>`` (the check could not be evaluated);
- SKIP -> ``<skipped>`` with the reason; WAIVED -> ``<skipped>`` naming the waiver;
- PASS and WARN pass; a warning is written to ``<system-out>``.

Each testsuite carries the run's metadata and decision as ``<properties>``. The output is
valid against ``junit.xsd`` (shipped beside this module), which is stricter than the
readers of Jenkins and GitLab.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from xml.etree import ElementTree as ET

from golive.models import CheckResult, Run, Status

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
MAX_EVIDENCE = 4000  # characters of evidence per test case


def _clean(text: object) -> str:
    """Text that XML 1.0 can carry (control characters become U+FFFD)."""
    return _XML_INVALID.sub("\ufffd", str(text))


def _seconds(value: float) -> str:
    return f"{max(0.0, float(value)):.3f}"


def _timestamp(iso: str) -> str | None:
    try:
        t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    return t.isoformat(timespec="seconds")


def _properties(run: Run, section: str) -> list[tuple[str, str]]:
    d = run.decision
    props = [
        ("golive.run_id", run.run_id),
        ("golive.version", run.golive_version),
        ("golive.project", run.project),
        ("golive.environment", run.environment),
        ("golive.decision", d.verdict.value),
        ("golive.decision.reasons", "; ".join(d.reasons)),
        ("golive.decision.blocking", ", ".join(d.blocking)),
        ("golive.exit_code", str(d.exit_code)),
        ("golive.started_at", run.started_at),
        ("golive.finished_at", run.finished_at),
        ("golive.config_digest", run.config_digest),
        ("golive.fail_on", str(run.settings.get("fail_on", ""))),
        ("golive.section", section),
        ("golive.section.title", run.sections.get(section, section)),
    ]
    for g in run.gates:
        signed = ", ".join(
            f"{s.by} at {s.at}" + ("" if s.verified else " (unverified)") for s in g.signoffs
        )
        state = g.status.value + (f"; signed by {signed}" if signed else "")
        if g.awaiting_signoff:
            state += f"; awaiting sign-off ({g.needed} more of {g.required})"
        props.append((f"golive.gate.{g.id}", state))
    if run.interrupted:
        props.append(("golive.interrupted", "true"))
    if run.wait is not None:
        props.append(("golive.wait.rounds", str(run.wait.rounds)))
        props.append(("golive.wait", run.wait.describe()))
    return props


def _evidence_text(evidence: Mapping[str, Any]) -> str:
    lines = []
    for k, v in evidence.items():
        text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
        lines.append(f"  {k}: {text}")
    out = "\n".join(lines)
    if len(out) > MAX_EVIDENCE:
        out = out[:MAX_EVIDENCE] + "\n  ... (the JSON report has the complete evidence)"
    return out


def _details(r: CheckResult) -> str:
    parts = [
        f"Check: {r.id} - {r.title}",
        f"Status: {r.status.value}   Severity: {r.severity.value}",
        f"Summary: {r.summary}",
    ]
    if r.remediation:
        parts.append(f"How to fix: {r.remediation}")
    if r.waiver is not None:
        parts.append(
            f"Waiver: {r.waiver.reason} "
            f"(approved by {r.waiver.approved_by} until {r.waiver.expires})"
        )
    if r.note:
        parts.append(f"Note: {r.note}")
    if r.findings:
        parts.append("Findings:")
        parts += [
            f"  {f.path}{':' + str(f.line) if f.line else ''} {f.message}" for f in r.findings[:100]
        ]
    if r.evidence:
        parts.append("Evidence:")
        parts.append(_evidence_text(r.evidence))
    if r.detail:
        parts.append(r.detail)
    return "\n".join(parts)


def _testcase(parent: ET.Element, r: CheckResult) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        {
            "name": _clean(r.id),
            "classname": _clean(f"golive.{r.section}"),
            "time": _seconds(r.duration),
        },
    )
    if r.status is Status.FAIL:
        el = ET.SubElement(
            case, "failure", {"message": _clean(r.summary), "type": r.severity.value}
        )
        el.text = _clean(_details(r))
    elif r.status is Status.ERROR:
        el = ET.SubElement(case, "error", {"message": _clean(r.summary), "type": "ERROR"})
        el.text = _clean(_details(r))
    elif r.status is Status.SKIP:
        ET.SubElement(case, "skipped", {"message": _clean(r.summary)})
    elif r.status is Status.WAIVED:
        w = r.waiver
        msg = f"waived: {r.summary}"
        if w is not None:
            msg = f"waived by {w.approved_by} until {w.expires} ({w.reason}): {r.summary}"
        ET.SubElement(case, "skipped", {"message": _clean(msg), "type": "waived"})
    out = ET.SubElement(case, "system-out")
    out.text = _clean(_details(r) if r.status is not Status.PASS else f"{r.title}\n{r.summary}")


def render(run: Run) -> str:
    """Render a run as JUnit XML (UTF-8, with an XML declaration)."""
    totals = {"tests": 0, "failures": 0, "errors": 0}
    root = ET.Element("testsuites", {"name": _clean(f"golive {run.project}/{run.environment}")})
    timestamp = _timestamp(run.started_at)
    for i, (section, results) in enumerate(run.by_section()):
        failures = sum(r.status is Status.FAIL for r in results)
        errors = sum(r.status is Status.ERROR for r in results)
        skipped = sum(r.status in (Status.SKIP, Status.WAIVED) for r in results)
        attrs = {
            "name": _clean(section),
            "tests": str(len(results)),
            "failures": str(failures),
            "errors": str(errors),
            "skipped": str(skipped),
            "time": _seconds(sum(r.duration for r in results)),
            "id": str(i),
            "package": "golive",
        }
        if timestamp:
            attrs["timestamp"] = timestamp
        suite = ET.SubElement(root, "testsuite", attrs)
        props = ET.SubElement(suite, "properties")
        for name, value in _properties(run, section):
            ET.SubElement(props, "property", {"name": _clean(name), "value": _clean(value)})
        for r in results:
            _testcase(suite, r)
        totals["tests"] += len(results)
        totals["failures"] += failures
        totals["errors"] += errors
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", _seconds(run.duration))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
