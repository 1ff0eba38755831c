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
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class SignoffPolicy:
    """How many sign-offs each gate needs, and whether only verified signatures count.

    `require_signoff` asks one sign-off of every gate; `minimum` raises that per gate (the
    two-person rule is `{"security": 2}`). With `signed`, only sign-offs whose SSH signature
    was verified against the allowed signers count; without, any recorded name counts.
    """

    require_signoff: bool = False
    signed: bool = False
    minimum: Mapping[str, int] = field(default_factory=dict)

    def required(self, gate: str) -> int:
        """How many distinct signers `gate` needs (0: none)."""
        return max(self.minimum.get(gate, 0), 1 if self.require_signoff else 0)

    def settings(self) -> dict[str, Any]:
        """The policy as a run records it in its settings."""
        return {"signed": self.signed, "min": dict(self.minimum)}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SignoffPolicy:
        """The policy a saved run recorded (runs from before signatures have none)."""
        raw = settings.get("approvals")
        raw = raw if isinstance(raw, Mapping) else {}
        minimum = raw.get("min")
        return cls(
            require_signoff=bool(settings.get("require_signoff", False)),
            signed=bool(raw.get("signed", False)),
            minimum={
                str(k): int(v)
                for k, v in (minimum.items() if isinstance(minimum, Mapping) else ())
                if isinstance(v, int)
            },
        )


def gate_results(
    results: Sequence[CheckResult],
    gates: Sequence[GateSpec] = DEFAULT_GATES,
    signoffs: Sequence[SignOff] = (),
    *,
    require_signoff: bool = False,
    policy: SignoffPolicy | None = None,
) -> list[GateResult]:
    """Each gate's automated status (worst of its checks), its sign-offs and what it needs.

    Only distinct signers count toward a gate's minimum, and with a signed policy only those
    whose signatures were verified.
    """
    if policy is None:
        policy = SignoffPolicy(require_signoff=require_signoff)
    out = []
    for g in gates:
        mine = [r for r in results if r.section in g.sections or r.id in g.checks]
        evaluated = [r for r in mine if r.status is not Status.SKIP]
        if evaluated:
            status = max((r.status for r in evaluated), key=lambda s: s.rank)
        else:
            status = Status.SKIP
        signed = [s for s in signoffs if s.gate == g.id]
        counted = list(dict.fromkeys(s.by for s in signed if s.verified or not policy.signed))
        required = policy.required(g.id)
        needed = max(0, required - len(counted))
        out.append(
            GateResult(
                id=g.id,
                title=g.title,
                status=status,
                checks=[r.id for r in mine],
                signoffs=signed,
                awaiting_signoff=needed > 0,
                required=required,
                verified_signers=list(dict.fromkeys(s.by for s in signed if s.verified)),
                needed=needed,
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
        block_ids = [r.id for r in _ordered(blocking)] + [r.id for r in _ordered(unevaluated)]
    elif unevaluated:
        verdict, code = Verdict.INCOMPLETE, EXIT_INCOMPLETE
        reasons.append(
            f"{len(unevaluated)} required check(s) could not be evaluated; readiness is not proven"
        )
        block_ids = [r.id for r in _ordered(unevaluated)]
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
            names = ", ".join(
                g.title + (f" ({g.needed} more of {g.required} signers)" if g.required > 1 else "")
                for g in awaiting
            )
            reasons.append(f"awaiting sign-off: {names}")
        block_ids = [r.id for r in _ordered(minor)]
    else:
        verdict, code = Verdict.GO, EXIT_GO
        reasons.append("every evaluated check passed")
        block_ids = []
    if waived:
        reasons.append(f"{len(waived)} failure(s) waived: {', '.join(r.id for r in waived)}")
    if interrupted:
        reasons.insert(0, "the run was interrupted; results are partial")
        code = EXIT_INTERRUPTED
    return Decision(verdict=verdict, reasons=reasons, blocking=block_ids, exit_code=code)


def _ordered(results: list[CheckResult]) -> list[CheckResult]:
    return sorted(results, key=lambda r: (-r.severity.rank, r.id))
