"""The go/no-go decision and the seven approval gates.

- NO-GO (exit 1): a non-waived FAIL at or above `fail_on`.
- INCOMPLETE (exit 3): nothing blocking failed, but a check at or above `fail_on` could not
  be evaluated (ERROR, timeout, unreachable target, deadline). It is not a go.
- CONDITIONAL (exit 0, or 1 with --strict): only warnings, lower-severity failures or
  errors, or gates still awaiting a required sign-off.
- GO (exit 0): everything else. Waived failures are listed in the reasons.
An interrupted run exits 130 whatever the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from golive.models import CheckResult, Decision, GateResult, Severity, SignOff, Status, Verdict

EXIT_GO = 0
EXIT_NO_GO = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class GateSpec:
    """Which sections and checks an approval gate covers."""

    id: str
    title: str
    sections: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()


#: The checklist's seven approval gates.
DEFAULT_GATES: tuple[GateSpec, ...] = (
    GateSpec(
        "technical",
        "Technical validation",
        ("testing", "database", "integrity", "performance", "final"),
    ),
    GateSpec("security", "Security clearance", ("security", "audit")),
    GateSpec("infrastructure", "Infrastructure ready", ("infrastructure", "capacity")),
    GateSpec("monitoring", "Monitoring active", ("monitoring",)),
    GateSpec(
        "backup",
        "Backup systems",
        checks=("database.backups", "infrastructure.backup_storage", "operations.cron"),
    ),
    GateSpec("operations", "Operations ready", ("operations",)),
    GateSpec(
        "rollback",
        "Rollback plan",
        checks=("operations.runbooks", "operations.scripts", "database.backups"),
    ),
)


def gate_results(
    results: Sequence[CheckResult],
    gates: Sequence[GateSpec] = DEFAULT_GATES,
    signoffs: Sequence[SignOff] = (),
    *,
    require_signoff: bool = False,
) -> list[GateResult]:
    """Each gate's automated status (worst of its checks) and its sign-offs."""
    out = []
    for g in gates:
        mine = [r for r in results if r.section in g.sections or r.id in g.checks]
        evaluated = [r for r in mine if r.status is not Status.SKIP]
        if evaluated:
            status = max((r.status for r in evaluated), key=lambda s: s.rank)
        else:
            status = Status.SKIP
        signed = [s for s in signoffs if s.gate == g.id]
        out.append(
            GateResult(
                id=g.id,
                title=g.title,
                status=status,
                checks=list(dict.fromkeys(r.id for r in mine)),
                signoffs=signed,
                awaiting_signoff=require_signoff and not signed,
            )
        )
    return out


def gates_from_config(config_gates: Mapping[str, object] | None) -> tuple[GateSpec, ...]:
    """Gates from golive.yaml's `gates:` (title, sections, checks), else the defaults."""
    if not config_gates:
        return DEFAULT_GATES
    out = []
    for gid, g in config_gates.items():
        out.append(
            GateSpec(
                gid,
                getattr(g, "title", gid),
                tuple(getattr(g, "sections", ())),
                tuple(getattr(g, "checks", ())),
            )
        )
    return tuple(out)


def decide(
    results: Sequence[CheckResult],
    fail_on: Severity = Severity.HIGH,
    *,
    strict: bool = False,
    interrupted: bool = False,
    gates: Sequence[GateResult] = (),
) -> Decision:
    """Apply the decision rules to a run's results."""
    blocking = [r for r in results if r.status is Status.FAIL and r.severity.at_least(fail_on)]
    unevaluated = [
        r
        for r in results
        if r.severity.at_least(fail_on)
        and (r.status is Status.ERROR or (r.status is Status.SKIP and r.incomplete))
    ]
    minor = [
        r
        for r in results
        if r.status in (Status.FAIL, Status.ERROR) and not r.severity.at_least(fail_on)
    ]
    warnings = [r for r in results if r.status is Status.WARN]
    waived = [r for r in results if r.status is Status.WAIVED]
    awaiting = [g for g in gates if g.awaiting_signoff]
    reasons: list[str] = []

    if blocking:
        verdict, code = Verdict.NO_GO, EXIT_NO_GO
        reasons.append(f"{len(blocking)} check(s) at or above {fail_on.value} severity failed")
        block_ids = [r.key for r in _ordered(blocking)] + [r.key for r in _ordered(unevaluated)]
    elif unevaluated:
        verdict, code = Verdict.INCOMPLETE, EXIT_INCOMPLETE
        reasons.append(
            f"{len(unevaluated)} required check(s) could not be evaluated; readiness is not proven"
        )
        block_ids = [r.key for r in _ordered(unevaluated)]
    elif minor or warnings or awaiting:
        verdict = Verdict.CONDITIONAL
        code = EXIT_NO_GO if strict else EXIT_GO
        if minor:
            reasons.append(
                f"{len(minor)} check(s) below {fail_on.value} severity failed or errored"
            )
        if warnings:
            reasons.append(f"{len(warnings)} warning(s)")
        if awaiting:
            names = ", ".join(g.title for g in awaiting)
            reasons.append(f"awaiting sign-off: {names}")
        block_ids = [r.key for r in _ordered(minor)]
    else:
        verdict, code = Verdict.GO, EXIT_GO
        reasons.append("every evaluated check passed")
        block_ids = []
    if waived:
        reasons.append(f"{len(waived)} failure(s) waived: {', '.join(r.key for r in waived)}")
    if interrupted:
        reasons.insert(0, "the run was interrupted; results are partial")
        code = EXIT_INTERRUPTED
    return Decision(verdict=verdict, reasons=reasons, blocking=block_ids, exit_code=code)


def _ordered(results: list[CheckResult]) -> list[CheckResult]:
    return sorted(results, key=lambda r: (-r.severity.rank, r.id, r.host or ""))
