"""The run model: statuses, severities, outcomes, results, decisions and runs.

Everything here is a frozen dataclass or an enum built from the standard library only, so
that importing it costs nothing. Renderers receive a `Run` and nothing else.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

SCHEMA_VERSION = "1.1"


class Status(str, enum.Enum):
    """The result of one check."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    ERROR = "ERROR"  # could not be evaluated
    SKIP = "SKIP"  # not run; always carries a reason
    WAIVED = "WAIVED"  # failed, but covered by an unexpired waiver

    @property
    def rank(self) -> int:
        """Badness order used for roll-ups: higher is worse."""
        return _STATUS_RANK[self]


_STATUS_RANK = {
    Status.PASS: 0,
    Status.SKIP: 1,
    Status.WAIVED: 2,
    Status.WARN: 3,
    Status.ERROR: 4,
    Status.FAIL: 5,
}


class Severity(str, enum.Enum):
    """How much a failure of the check matters for go-live."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Importance order: critical is 4, info is 0."""
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        """True when this severity is `other` or more important."""
        return self.rank >= other.rank


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class Verdict(str, enum.Enum):
    """The go/no-go decision of a run."""

    GO = "GO"
    CONDITIONAL = "CONDITIONAL"
    NO_GO = "NO-GO"
    INCOMPLETE = "INCOMPLETE"  # nothing failed, but required checks could not be evaluated


@dataclass(frozen=True)
class Finding:
    """A located finding (file and line), used by SARIF and the HTML report."""

    path: str
    message: str
    line: int | None = None
    rule: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What a check returns: a status, one sentence, and the evidence behind it."""

    status: Status
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    measurements: Mapping[str, float] = field(default_factory=dict)
    samples: Mapping[str, Sequence[float]] = field(default_factory=dict)
    findings: Sequence[Finding] = ()

    @classmethod
    def passed(cls, summary: str, **kw: Any) -> Outcome:
        """A PASS outcome."""
        return cls(Status.PASS, summary, **kw)

    @classmethod
    def warn(cls, summary: str, **kw: Any) -> Outcome:
        """A WARN outcome."""
        return cls(Status.WARN, summary, **kw)

    @classmethod
    def failed(cls, summary: str, **kw: Any) -> Outcome:
        """A FAIL outcome."""
        return cls(Status.FAIL, summary, **kw)

    @classmethod
    def error(cls, summary: str, **kw: Any) -> Outcome:
        """An ERROR outcome: the check could not evaluate its target."""
        return cls(Status.ERROR, summary, **kw)

    @classmethod
    def skip(cls, reason: str, **kw: Any) -> Outcome:
        """A SKIP outcome; the reason is the summary."""
        return cls(Status.SKIP, reason, **kw)


@dataclass(frozen=True)
class Waiver:
    """An accepted risk: a FAIL covered by it becomes WAIVED until it expires."""

    reason: str
    approved_by: str
    expires: str  # ISO date


@dataclass(frozen=True)
class CheckResult:
    """One check's result inside a run."""

    id: str
    section: str
    title: str
    severity: Severity
    status: Status
    summary: str
    remediation: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    measurements: Mapping[str, float] = field(default_factory=dict)
    samples: Mapping[str, Sequence[float]] = field(default_factory=dict)
    findings: Sequence[Finding] = ()
    tags: Sequence[str] = ()
    duration: float = 0.0
    started_at: str | None = None
    writes: bool = False
    waiver: Waiver | None = None
    note: str = ""  # e.g. "waiver expired on 2026-01-01 and was ignored"
    incomplete: bool = False  # True when the check could not be evaluated at all
    detail: str = ""  # traceback, only with --verbose

    def with_status(self, status: Status, **kw: Any) -> CheckResult:
        """A copy with another status (and other fields)."""
        return replace(self, status=status, **kw)


@dataclass(frozen=True)
class SignOff:
    """A human approval recorded for a gate.

    `verified` is True only for a signature that the allowed-signers file attributes to
    `by` (then `key` is the signing key's fingerprint); otherwise `problem` says why it
    does not count (a bare `--by` name, an unknown or revoked key, an edit after signing).
    """

    gate: str
    by: str
    at: str
    note: str = ""
    run_digest: str = ""
    verified: bool = False
    key: str = ""
    problem: str = ""


@dataclass(frozen=True)
class GateResult:
    """One approval gate: its automated status, its human sign-offs and what it still needs.

    `required` is how many distinct signers the gate needs (0: no sign-off required);
    `verified_signers` are the distinct people whose sign-offs count toward it, and
    `needed` how many more are missing (`awaiting_signoff` is `needed > 0`).
    """

    id: str
    title: str
    status: Status
    checks: Sequence[str] = ()
    signoffs: Sequence[SignOff] = ()
    awaiting_signoff: bool = False
    required: int = 0
    verified_signers: Sequence[str] = ()
    needed: int = 0


@dataclass(frozen=True)
class Decision:
    """The go/no-go decision and why."""

    verdict: Verdict
    reasons: Sequence[str] = ()
    blocking: Sequence[str] = ()  # check ids that block go-live
    exit_code: int = 0


class WaitEnd(str, enum.Enum):
    """Why `golive run --wait` stopped re-running checks."""

    DECISION = "decision"  # GO, or CONDITIONAL without --strict: the exit code became 0
    RAN_OUT = "ran-out"  # the duration ran out first
    SETTLED = "settled"  # no further round could make the exit code 0
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM


@dataclass(frozen=True)
class StatusChange:
    """A check whose status changed from one round of `--wait` to the next."""

    id: str
    before: Status
    after: Status


@dataclass(frozen=True)
class Round:
    """One round of `golive run --wait`: the checks it ran and what changed."""

    number: int
    at: float  # seconds from the start of the run to the end of this round
    checks: Sequence[str]  # ids of the checks this round ran (round 1: all of them)
    changes: Sequence[StatusChange]
    not_passing: Sequence[str]  # ids not PASS, WAIVED or a SKIP that waiting cannot change
    verdict: Verdict

    def changes_text(self, arrow: str = "->") -> str:
        """'round 2 (t+20s): a ERROR -> PASS, b SKIP -> PASS; GO', for reports."""
        changed = ", ".join(
            f"{c.id} {c.before.value} {arrow} {c.after.value}" for c in self.changes
        )
        head = f"round {self.number} (t+{self.at:.0f}s)"
        return f"{head}: {changed or 'no change'}; {self.verdict.value}"


@dataclass(frozen=True)
class WaitSummary:
    """How `golive run --wait` went: its limits, why it stopped, and each round."""

    duration: float  # --wait, in seconds
    interval: float  # --interval, in seconds
    rounds: int
    ended: WaitEnd | None  # None only while rounds are still running
    history: Sequence[Round] = ()

    def describe(self) -> str:
        """One sentence for reports, e.g. '3 rounds (--wait 60s, --interval 1s): ...'."""
        limits = f"--wait {duration_text(self.duration)}, --interval {duration_text(self.interval)}"
        head = f"{self.rounds} round{'s' if self.rounds != 1 else ''} ({limits})"
        last = self.history[-1].verdict.value if self.history else "no decision"
        why = {
            WaitEnd.DECISION: f"{last} reached",
            WaitEnd.RAN_OUT: f"the wait ran out, still {last}",
            WaitEnd.SETTLED: f"stopped at {last}: no further round could change the decision",
            WaitEnd.INTERRUPTED: "interrupted",
            None: "still running",
        }[self.ended]
        return f"{head}: {why}"

    def changed_rounds(self, limit: int = 20) -> list[str]:
        """`changes_text` of the rounds after the first that changed something (the last
        `limit` of them)."""
        return [r.changes_text("→") for r in self.history if r.number > 1 and r.changes][-limit:]


def duration_text(value: float) -> str:
    """A duration as the command line accepts it: '90s', '5m', '1h', '1.5s'."""
    for unit, size in (("h", 3600.0), ("m", 60.0)):
        if value >= size and value % size == 0:
            return f"{value / size:g}{unit}"
    return f"{value:g}s"


@dataclass(frozen=True)
class SideEffect:
    """A record that a target keeps of golive's visit and golive does not remove: e.g. the
    audit rows an API writes when golive requests a token, or the notifications that
    Alertmanager sent for golive's test alert. They are the target's own history (often
    append-only by design), so golive lists them instead of deleting them."""

    target: str
    what: str
    check: str = ""  # the check that caused it; "" for the run itself (e.g. the token)
    records: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class Run:
    """A complete run: what was checked, against what, and the decision."""

    run_id: str
    golive_version: str
    started_at: str
    finished_at: str
    duration: float
    project: str
    environment: str
    config_digest: str
    config_files: Sequence[str]
    targets: Mapping[str, str]
    settings: Mapping[str, Any]
    results: Sequence[CheckResult]
    decision: Decision
    gates: Sequence[GateResult] = ()
    sections: Mapping[str, str] = field(default_factory=dict)  # id -> title, in order
    interrupted: bool = False
    schema_version: str = SCHEMA_VERSION
    side_effects: Sequence[SideEffect] = ()
    wait: WaitSummary | None = None  # only with --wait; omitted from JSON otherwise
    #: The run digest golive computed when it saved the run (see golive.approvals.run_digest);
    #: `golive approve` refuses a run file whose evidence no longer matches it.
    digest: str = ""

    def counts(self) -> dict[str, int]:
        """How many results have each status."""
        out = {s.value: 0 for s in Status}
        for r in self.results:
            out[r.status.value] += 1
        return out

    def by_section(self) -> list[tuple[str, list[CheckResult]]]:
        """Results grouped by section, in checklist order."""
        order = list(self.sections) + [
            r.section for r in self.results if r.section not in self.sections
        ]
        seen: dict[str, list[CheckResult]] = {}
        for name in order:
            seen.setdefault(name, [])
        for r in self.results:
            seen[r.section].append(r)
        return [(k, v) for k, v in seen.items() if v]
