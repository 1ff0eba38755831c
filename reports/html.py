"""HTML report: one self-contained, printable, accessible file for the people who approve go-live.

`render(run)` is pure: the run model in, the page out. The page is a Jinja2 template
(``templates/report.html.j2``) with autoescaping on; every value from the run reaches it as
data, never as markup, and links are only in-page anchors. The inline stylesheet and script
are allowed by a Content-Security-Policy that names their hashes, so a payload smuggled into
evidence could not run even if it escaped escaping. The page works with JavaScript off (the
filters are an enhancement) and prints cleanly (print stylesheet; evidence expands).

Layout: the decision and why (blocking checks first), the approval gates with their
sign-offs, the change since a previous run, the results by section (status, severity,
summary, remediation, waiver, findings, baseline chart, evidence tables), run metadata.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from golive.reports.charts import Chart, baseline_chart
from golive.reports.charts import fmt as fmt_number
from golive.reports.compare import Comparison, compare

from golive.models import CheckResult, Run, Status, Verdict

MAX_ROWS = 50  # evidence rows shown per table; the JSON report has them all
MAX_COLUMNS = 12
MAX_ITEMS = 40  # evidence entries per result
MAX_TEXT = 600  # characters per cell

STATUS_ORDER = (Status.FAIL, Status.ERROR, Status.WARN, Status.WAIVED, Status.SKIP, Status.PASS)
STATUS_LABEL = {
    Status.PASS: "Pass",
    Status.WARN: "Warning",
    Status.FAIL: "Fail",
    Status.ERROR: "Error",
    Status.SKIP: "Skipped",
    Status.WAIVED: "Waived",
}
_FIX_SHOWN = frozenset({Status.FAIL, Status.ERROR, Status.WARN, Status.WAIVED})
VERDICT_TEXT = {
    Verdict.GO: "Ready to go live.",
    Verdict.CONDITIONAL: "Go live only with the conditions below accepted.",
    Verdict.NO_GO: "Not ready to go live.",
    Verdict.INCOMPLETE: "Readiness is not proven: required checks could not be evaluated.",
}


@dataclass(frozen=True)
class Table:
    """An evidence table (from a list of dicts)."""

    caption: str
    columns: list[str]
    rows: list[list[str]]
    more: int = 0


@dataclass(frozen=True)
class Pairs:
    """Evidence as name/value rows (from scalars or a dict)."""

    caption: str
    rows: list[tuple[str, str]]
    more: int = 0


@dataclass(frozen=True)
class ResultView:
    """One result as the template shows it (with the strings it repeats precomputed)."""

    r: CheckResult
    anchor: str
    blocks: list[Table | Pairs]
    chart: Chart | None
    status: str  # "FAIL"
    st: str  # "fail", for CSS classes
    severity: str
    duration: str
    show_fix: bool


@dataclass(frozen=True)
class SectionView:
    """A section: its title and results, and how many of each status."""

    id: str
    anchor: str
    title: str
    results: list[ResultView]
    counts: list[tuple[str, int]]
    worst: str


@dataclass
class View:
    """Everything the template needs, computed from the run."""

    run: Run
    verdict: str
    verdict_class: str
    verdict_text: str
    blocking: list[ResultView]
    conditions: list[ResultView]
    sections: list[SectionView]
    counts: list[tuple[str, str, int]]
    meta: list[tuple[str, str]]
    targets: list[tuple[str, str]]
    comparison: Comparison | None
    blocking_title: str = "Blocking checks"
    anchors: dict[str, str] = field(default_factory=dict)
    total: int = 0
    signed: bool = False  # only verified SSH signatures count toward the gates


def render(run: Run, *, previous: Run | None = None) -> str:
    """Render a run (and, optionally, its change since `previous`) as one HTML page."""
    view = build_view(run, previous)
    env = _environment()
    css = env.get_template("report.css").render()
    js = env.get_template("report.js").render()
    csp = (
        "default-src 'none'; img-src data:; base-uri 'none'; form-action 'none'; "
        f"style-src '{_sha256(css)}'; script-src '{_sha256(js)}'"
    )
    from markupsafe import Markup

    page: str = env.get_template("report.html.j2").render(
        v=view,
        css=Markup(css),
        js=Markup(js),
        csp=csp,
        when=when,
    )
    return page


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("golive.templates", ""),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def when(iso: str) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM:SS UTC' (or unchanged when it is not one)."""
    try:
        t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return iso
    if t.utcoffset() is not None and t.utcoffset().total_seconds() == 0:  # type: ignore[union-attr]
        return t.strftime("%Y-%m-%d %H:%M:%S UTC")
    return t.isoformat(sep=" ")


# ---------------------------------------------------------------------------------------------
# the view


def build_view(run: Run, previous: Run | None = None) -> View:
    """The template's view of a run: grouped, ordered, truncated where it must be."""
    anchors = _anchors(run.results)
    views = {id(r): _result_view(r, anchors[r.id]) for r in run.results}
    by_id = {r.id: r for r in run.results}
    blocking = [views[id(by_id[c])] for c in run.decision.blocking if c in by_id]
    blocking_ids = set(run.decision.blocking)
    conditions = [
        views[id(r)]
        for r in sorted(run.results, key=lambda r: (-r.severity.rank, r.id))
        if r.id not in blocking_ids
        and r.status in (Status.WARN, Status.FAIL, Status.ERROR, Status.WAIVED)
    ]
    sections = []
    for i, (name, results) in enumerate(run.by_section()):
        counts = _counts(results)
        worst = max((r.status for r in results), key=lambda s: s.rank).value
        sections.append(
            SectionView(
                id=name,
                anchor=f"section-{i + 1}",
                title=run.sections.get(name) or name,
                results=[views[id(r)] for r in results],
                counts=[(s, n) for s, n in counts.items() if n],
                worst=worst,
            )
        )
    all_counts = _counts(run.results)
    verdict = run.decision.verdict
    return View(
        run=run,
        verdict=verdict.value,
        verdict_class=verdict.name.lower().replace("_", "-"),
        verdict_text=VERDICT_TEXT.get(verdict, ""),
        blocking=blocking,
        conditions=conditions,
        sections=sections,
        counts=[(s.value, STATUS_LABEL[s], all_counts[s.value]) for s in STATUS_ORDER],
        meta=_meta(run),
        targets=sorted((str(k), str(v)) for k, v in run.targets.items()),
        comparison=compare(run, previous) if previous is not None else None,
        blocking_title="Needs attention" if verdict is Verdict.CONDITIONAL else "Blocking checks",
        anchors=anchors,
        total=len(run.results),
        signed=_signed(run),
    )


def _counts(results: Sequence[CheckResult]) -> dict[str, int]:
    out = {s.value: 0 for s in STATUS_ORDER}
    for r in results:
        out[r.status.value] += 1
    return out


def _anchors(results: Sequence[CheckResult]) -> dict[str, str]:
    out: dict[str, str] = {}
    used: set[str] = set()
    for r in results:
        base = "check-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", r.id).strip("-") or "x")
        anchor, n = base, 1
        while anchor in used:
            n += 1
            anchor = f"{base}-{n}"
        used.add(anchor)
        out.setdefault(r.id, anchor)
    return out


def _meta(run: Run) -> list[tuple[str, str]]:
    s = run.settings
    selection = s.get("selection") if isinstance(s.get("selection"), Mapping) else {}
    chosen = "; ".join(
        f"{k}: {', '.join(str(x) for x in v)}" for k, v in (selection or {}).items() if v
    )
    rows = [
        ("Run id", run.run_id),
        ("Started", when(run.started_at)),
        ("Finished", when(run.finished_at)),
        ("Duration", f"{run.duration:.1f} s"),
        ("Project / environment", f"{run.project} / {run.environment}"),
        ("golive version", run.golive_version),
        ("Configuration digest", run.config_digest),
        ("Run digest (what a sign-off approves)", run.digest or "not recorded"),
        ("Configuration files", ", ".join(run.config_files) or "none"),
        ("Blocking severity (fail_on)", str(s.get("fail_on", "high"))),
        ("Strict", "yes" if s.get("strict") else "no"),
        ("Checks that write allowed", "yes" if s.get("allow_writes") else "no"),
        ("Sign-off required", "yes" if s.get("require_signoff") else "no"),
        ("Sign-offs", _signoff_mode(s)),
        ("Selection", chosen or "the whole checklist"),
        ("Report schema", run.schema_version),
    ]
    if run.interrupted:
        rows.insert(4, ("Interrupted", "yes: results are partial"))
    if run.wait is not None:
        rows.insert(4, ("Waited (--wait)", run.wait.describe()))
        rows.insert(5, ("Changes while waiting", "; ".join(run.wait.changed_rounds()) or "none"))
    return rows


def _signed(run: Run) -> bool:
    approvals = run.settings.get("approvals")
    recorded = isinstance(approvals, Mapping) and bool(approvals.get("signed"))
    return recorded or any(s.verified for g in run.gates for s in g.signoffs)


def _signoff_mode(settings: Mapping[str, Any]) -> str:
    approvals = settings.get("approvals")
    if isinstance(approvals, Mapping) and approvals.get("signed"):
        return "only SSH signatures by keys in the allowed signers count"
    return "names recorded with --by (no keys configured: unverified)"


def _result_view(r: CheckResult, anchor: str) -> ResultView:
    evidence = r.evidence if isinstance(r.evidence, Mapping) else {"evidence": r.evidence}
    blocks = evidence_blocks(evidence)
    if r.measurements:
        rows = [(str(k), _text(v)) for k, v in list(r.measurements.items())[:MAX_ROWS]]
        blocks.append(Pairs("Measurements", rows, max(0, len(r.measurements) - MAX_ROWS)))
    if r.samples:
        rows = [(str(k), _samples(v)) for k, v in r.samples.items()]
        blocks.append(Pairs("Samples", rows))
    status = r.status.value
    return ResultView(
        r,
        anchor,
        blocks,
        baseline_chart(r),
        status=status,
        st=status.lower(),
        severity=r.severity.value,
        duration=f"{r.duration:.2f} s",
        show_fix=bool(r.remediation) and r.status in _FIX_SHOWN,
    )


def evidence_blocks(evidence: Mapping[str, Any]) -> list[Table | Pairs]:
    """Evidence as tables: scalars together, each dict and each list of dicts on its own."""
    simple: list[tuple[str, str]] = []
    blocks: list[Table | Pairs] = []
    items = list(evidence.items())
    for key, value in items[:MAX_ITEMS]:
        name = str(key)
        if isinstance(value, list) and value and all(isinstance(x, Mapping) for x in value):
            blocks.append(_table(name, value))
        elif isinstance(value, Mapping) and value:
            rows = [(str(k), _text(v)) for k, v in list(value.items())[:MAX_ROWS]]
            blocks.append(Pairs(name, rows, max(0, len(value) - MAX_ROWS)))
        else:
            simple.append((name, _text(value)))
    if len(items) > MAX_ITEMS:
        simple.append(("…", f"{len(items) - MAX_ITEMS} more evidence entries in the JSON report"))
    if simple:
        blocks.insert(0, Pairs("", simple))
    return blocks


def _table(caption: str, rows: Sequence[Mapping[str, Any]]) -> Table:
    columns: list[str] = []
    for row in rows[:MAX_ROWS]:
        for k in row:
            if str(k) not in columns:
                columns.append(str(k))
    columns = columns[:MAX_COLUMNS]
    body = [[_text(_get(row, c)) for c in columns] for row in rows[:MAX_ROWS]]
    return Table(caption, columns, body, max(0, len(rows) - MAX_ROWS))


def _get(row: Mapping[str, Any], column: str) -> Any:
    if column in row:
        return row[column]
    for k, v in row.items():
        if str(k) == column:
            return v
    return None


def _text(value: Any) -> str:
    if value is None:
        text = "—"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = fmt_number(value)
    elif isinstance(value, (int, str)):
        text = str(value)
    elif isinstance(value, list) and all(
        isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in value
    ):
        text = ", ".join(fmt_number(x) if isinstance(x, float) else str(x) for x in value)
    else:
        text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=False)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + f"… ({len(text) - MAX_TEXT} more characters in the JSON report)"
    return text


def _samples(values: Sequence[float]) -> str:
    nums = sorted(
        float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
    )
    if not nums:
        return "no samples"

    def q(p: float) -> float:
        return nums[min(len(nums) - 1, round(p * (len(nums) - 1)))]

    return (
        f"{len(nums)} samples: min {fmt_number(nums[0])}, median {fmt_number(q(0.5))}, "
        f"p95 {fmt_number(q(0.95))}, max {fmt_number(nums[-1])}"
    )
