"""SARIF 2.1.0 report: the findings that have a file location (secrets, permissions, compose).

One SARIF run; one rule per check that produced findings (title, remediation, severity as
``security-severity`` for GitHub code scanning); one result per finding. Levels follow the
check's status and severity: a FAIL of a critical/high check is ``error``, medium ``warning``,
low/info ``note``; WARN is ``warning``; findings of a passing check are ``kind: pass``; a
WAIVED check's findings carry an accepted external suppression with the waiver's reason.

Relative paths are relative to the project root (``%SRCROOT%``, resolved through
``originalUriBaseIds`` when the run knows an absolute root); absolute paths under the root are
made relative to it, others become ``file://`` URIs. The output validates against the OASIS
SARIF 2.1.0 JSON schema.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from golive.models import CheckResult, Finding, Run, Severity, Status

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
ROOT_ID = "%SRCROOT%"
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _utc(iso: str) -> str | None:
    try:
        t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _root(run: Run) -> str | None:
    root = run.targets.get("project")
    if isinstance(root, str) and root.startswith("/"):
        return posixpath.normpath(root)
    return None


def _location(path: str, root: str | None) -> dict[str, Any]:
    p = path.replace("\\", "/")
    if p.startswith("/"):
        norm = posixpath.normpath(p)
        if root and (norm == root or norm.startswith(root.rstrip("/") + "/")):
            rel = posixpath.relpath(norm, root)
            return {"uri": quote(rel, safe="/"), "uriBaseId": ROOT_ID}
        return {"uri": PurePosixPath(norm).as_uri()}
    rel = posixpath.normpath(p) if p else "."
    return {"uri": quote(rel, safe="/"), "uriBaseId": ROOT_ID}


def _level_kind(r: CheckResult) -> tuple[str, str]:
    if r.status in (Status.FAIL, Status.WAIVED):
        return LEVEL[r.severity], "fail"
    if r.status is Status.ERROR:
        return "error", "fail"
    if r.status is Status.WARN:
        return "warning", "fail"
    if r.status is Status.PASS:
        return "none", "pass"
    return "none", "notApplicable"


def _fingerprint(r: CheckResult, f: Finding) -> str:
    data = "\x1f".join([r.key, f.path, str(f.line or ""), f.rule or "", f.message])
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _rule(r: CheckResult) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": r.id,
        "name": r.id.split(".", 1)[-1],
        "shortDescription": {"text": r.title or r.id},
        "fullDescription": {
            "text": f"{r.title or r.id} (golive check {r.id}, section {r.section})."
        },
        "defaultConfiguration": {"level": LEVEL[r.severity]},
        "properties": {
            "tags": ["golive", r.section, r.severity.value],
            "security-severity": SECURITY_SEVERITY[r.severity],
        },
    }
    if r.remediation:
        rule["help"] = {"text": r.remediation}
    return rule


def _result(r: CheckResult, f: Finding, index: int, root: str | None) -> dict[str, Any]:
    level, kind = _level_kind(r)
    physical: dict[str, Any] = {"artifactLocation": _location(f.path, root)}
    if isinstance(f.line, int) and f.line >= 1:
        physical["region"] = {"startLine": f.line}
    out: dict[str, Any] = {
        "ruleId": r.id,
        "ruleIndex": index,
        "kind": kind,
        "level": level,
        "message": {
            "text": (f"on host {r.host}: " if r.host else "") + (f.message or r.summary or r.id)
        },
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {"goliveFinding/v1": _fingerprint(r, f)},
        "properties": {
            "status": r.status.value,
            "severity": r.severity.value,
            "checkSummary": r.summary,
        },
    }
    if f.rule:
        out["properties"]["findingRule"] = f.rule
    if r.host:
        out["properties"]["host"] = r.host
    if r.status is Status.WAIVED:
        w = r.waiver
        why = (
            f"{w.reason} (approved by {w.approved_by} until {w.expires})"
            if w is not None
            else "waived in golive.yaml"
        )
        out["suppressions"] = [{"kind": "external", "status": "accepted", "justification": why}]
    return out


def to_sarif(run: Run) -> dict[str, Any]:
    """The SARIF log of a run as JSON-ready data."""
    root = _root(run)
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    for r in run.results:
        if not r.findings:
            continue
        if r.id not in index:
            index[r.id] = len(rules)
            rules.append(_rule(r))
        results += [_result(r, f, index[r.id], root) for f in r.findings]
    invocation: dict[str, Any] = {
        "executionSuccessful": not run.interrupted,
        "properties": {
            "decision": run.decision.verdict.value,
            "exitCode": run.decision.exit_code,
            "reasons": list(run.decision.reasons),
        },
    }
    for key, value in (("startTimeUtc", run.started_at), ("endTimeUtc", run.finished_at)):
        stamp = _utc(value)
        if stamp:
            invocation[key] = stamp
    sarif_run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "golive",
                "version": run.golive_version,
                "rules": rules,
            }
        },
        "automationDetails": {"id": f"golive/{run.project}/{run.environment}/{run.run_id}"},
        "invocations": [invocation],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {
            "project": run.project,
            "environment": run.environment,
            "configDigest": run.config_digest,
            "runId": run.run_id,
        },
    }
    if root:
        base = PurePosixPath(root).as_uri()
        sarif_run["originalUriBaseIds"] = {
            ROOT_ID: {"uri": base if base.endswith("/") else base + "/"}
        }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [sarif_run]}


def render(run: Run) -> str:
    """Render a run as a SARIF 2.1.0 log (indented JSON)."""
    return json.dumps(to_sarif(run), indent=2, ensure_ascii=False) + "\n"
