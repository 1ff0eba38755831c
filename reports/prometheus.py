"""Prometheus text exposition format, for node-exporter's textfile collector.

    golive run --output prometheus:/var/lib/node_exporter/textfile/golive.prom

Metrics (all gauges):

- ``golive_check_status{id,section,severity}``: the check's status as a number that grows
  with badness: 0 PASS, 1 SKIP, 2 WAIVED, 3 WARN, 4 ERROR, 5 FAIL (alert on ``>= 4``);
- ``golive_check_duration_seconds{id,section,severity}``;
- ``golive_checks{status}``: how many checks have each status;
- ``golive_decision{verdict}``: 0 GO, 1 CONDITIONAL, 2 INCOMPLETE, 3 NO-GO;
- ``golive_gate_status{gate}`` (same scale as checks) and ``golive_gate_signed_off{gate}``;
- ``golive_run_timestamp_seconds``: when the run finished (Unix time);
- ``golive_run_duration_seconds``, ``golive_run_interrupted``;
- ``golive_run_rounds``: rounds the run took (1 without ``--wait``);
- ``golive_run_info{run_id,project,environment,golive_version,config_digest}`` = 1.

node-exporter adds its own instance labels; the file is rewritten whole by each run, so a
verdict label that changes leaves no stale series behind. Validated with ``promtool check metrics``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from golive.models import CheckResult, Run, Status, Verdict

STATUS_VALUE = {s: s.rank for s in Status}
VERDICT_VALUE = {Verdict.GO: 0, Verdict.CONDITIONAL: 1, Verdict.INCOMPLETE: 2, Verdict.NO_GO: 3}


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, object]]) -> str:
    inner = ",".join(f'{k}="{_label(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _timestamp(iso: str) -> float | None:
    try:
        t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self,
        name: str,
        help_text: str,
        samples: Iterable[tuple[Iterable[tuple[str, object]], float]],
    ) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} gauge")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {_number(value)}")


def render(run: Run) -> str:
    """Render a run as Prometheus text exposition format."""
    w = _Writer()
    status_help = (
        "Status of a golive check: 0 PASS, 1 SKIP, 2 WAIVED, 3 WARN, 4 ERROR, 5 FAIL "
        "(higher is worse)."
    )
    unique: dict[str, CheckResult] = {}
    for r in run.results:  # a series may appear once; ids are unique in a valid run
        unique.setdefault(r.id, r)
    results = list(unique.values())

    def key(r: CheckResult) -> list[tuple[str, object]]:
        return [("id", r.id), ("section", r.section), ("severity", r.severity.value)]

    w.family(
        "golive_check_status", status_help, ((key(r), STATUS_VALUE[r.status]) for r in results)
    )
    w.family(
        "golive_check_duration_seconds",
        "How long the golive check took.",
        ((key(r), r.duration) for r in results),
    )
    counts = run.counts()
    w.family(
        "golive_checks",
        "Number of golive checks with each status in the last run.",
        (([("status", s.value)], counts[s.value]) for s in Status),
    )
    verdict = run.decision.verdict
    w.family(
        "golive_decision",
        "The go/no-go decision: 0 GO, 1 CONDITIONAL, 2 INCOMPLETE, 3 NO-GO.",
        [([("verdict", verdict.value)], VERDICT_VALUE[verdict])],
    )
    if run.gates:
        w.family(
            "golive_gate_status",
            "Automated status of an approval gate (same scale as golive_check_status).",
            (([("gate", g.id)], STATUS_VALUE[g.status]) for g in run.gates),
        )
        approvals = run.settings.get("approvals")
        signed = (isinstance(approvals, Mapping) and bool(approvals.get("signed"))) or any(
            s.verified for g in run.gates for s in g.signoffs
        )
        w.family(
            "golive_gate_signed_off",
            "1 when the approval gate has a sign-off that counts (a verified SSH signature "
            "where allowed signers are configured, else any recorded name).",
            (
                ([("gate", g.id)], 1 if (g.verified_signers if signed else g.signoffs) else 0)
                for g in run.gates
            ),
        )
        w.family(
            "golive_gate_verified_signers",
            "Distinct signers whose SSH signatures of the gate were verified.",
            (([("gate", g.id)], len(g.verified_signers)) for g in run.gates),
        )
        w.family(
            "golive_gate_signatures_needed",
            "How many more sign-offs the approval gate needs (0: none).",
            (([("gate", g.id)], g.needed) for g in run.gates),
        )
    finished = _timestamp(run.finished_at)
    if finished is not None:
        w.family(
            "golive_run_timestamp_seconds",
            "Unix time at which the last golive run finished.",
            [((), finished)],
        )
    w.family(
        "golive_run_duration_seconds", "How long the last golive run took.", [((), run.duration)]
    )
    w.family(
        "golive_run_interrupted",
        "1 when the last golive run was interrupted (partial results).",
        [((), 1 if run.interrupted else 0)],
    )
    w.family(
        "golive_run_rounds",
        "Rounds the last golive run took (golive run --wait re-runs what is not passing).",
        [((), run.wait.rounds if run.wait is not None else 1)],
    )
    w.family(
        "golive_run_info",
        "Metadata of the last golive run (always 1).",
        [
            (
                [
                    ("run_id", run.run_id),
                    ("project", run.project),
                    ("environment", run.environment),
                    ("golive_version", run.golive_version),
                    ("config_digest", run.config_digest),
                ],
                1,
            )
        ],
    )
    return "\n".join(w.lines) + "\n"
