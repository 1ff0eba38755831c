"""What changed since a previous run (`golive report --previous RUN.json`), by check id.

A check *fails* when its status is FAIL or ERROR. Compared with the previous run, a check is
a new failure (fails now, did not fail or did not exist before), fixed (failed before, PASS or
WARN now), still failing, otherwise changed (e.g. PASS -> WARN, FAIL -> WAIVED, FAIL -> SKIP),
or unchanged. Checks that exist in only one of the runs are listed as added or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from golive.models import CheckResult, Run, Status

FAILING = frozenset({Status.FAIL, Status.ERROR})
HEALTHY = frozenset({Status.PASS, Status.WARN})


@dataclass(frozen=True)
class Change:
    """One check's status then and now (None when it did not exist in that run)."""

    id: str
    title: str
    before: Status | None
    now: Status | None
    summary: str = ""


@dataclass(frozen=True)
class Comparison:
    """The difference between a previous run and this one."""

    previous_run_id: str
    previous_started_at: str
    previous_verdict: str
    new_failures: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)
    still_failing: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    unchanged: int = 0  # checks whose status is the same in both runs

    @property
    def empty(self) -> bool:
        """True when no check changed status."""
        return not (self.new_failures or self.fixed or self.changed or self.added or self.removed)


def compare(run: Run, previous: Run) -> Comparison:
    """Compare `run` with `previous`, check by check."""
    before: dict[str, CheckResult] = {r.key: r for r in previous.results}
    out = Comparison(previous.run_id, previous.started_at, previous.decision.verdict.value)
    unchanged = 0
    for r in run.results:
        old = before.pop(r.key, None)
        change = Change(r.key, r.title, old.status if old else None, r.status, r.summary)
        if old is not None and old.status is r.status:
            unchanged += 1
        if old is None:
            out.added.append(change)
            if r.status in FAILING:
                out.new_failures.append(change)
        elif r.status in FAILING and old.status not in FAILING:
            out.new_failures.append(change)
        elif r.status in FAILING:
            out.still_failing.append(change)
        elif old.status in FAILING and r.status in HEALTHY:
            out.fixed.append(change)
        elif old.status is not r.status:
            out.changed.append(change)
    for old in before.values():
        out.removed.append(Change(old.key, old.title, old.status, None, old.summary))
    return Comparison(
        out.previous_run_id,
        out.previous_started_at,
        out.previous_verdict,
        out.new_failures,
        out.fixed,
        out.still_failing,
        out.changed,
        out.added,
        out.removed,
        unchanged,
    )
