"""golive/decision.py: the decision table, exit codes and gates."""

from __future__ import annotations

import pytest

from golive.decision import DEFAULT_GATES, decide, gate_results
from golive.models import CheckResult, Severity, SignOff, Status, Verdict


def result(
    id: str, status: Status, severity: Severity = Severity.HIGH, incomplete: bool = False
) -> CheckResult:
    return CheckResult(
        id=id,
        section=id.split(".")[0],
        title=id,
        severity=severity,
        status=status,
        summary="s",
        incomplete=incomplete,
    )


P, W, F, E, S, V = Status.PASS, Status.WARN, Status.FAIL, Status.ERROR, Status.SKIP, Status.WAIVED
H, L = Severity.HIGH, Severity.LOW


@pytest.mark.parametrize(
    ("results", "verdict", "code", "strict_code"),
    [
        ([result("a.x", P)], Verdict.GO, 0, 0),
        ([result("a.x", P), result("a.y", S)], Verdict.GO, 0, 0),
        ([result("a.x", V)], Verdict.GO, 0, 0),
        ([result("a.x", W)], Verdict.CONDITIONAL, 0, 1),
        ([result("a.x", F, L)], Verdict.CONDITIONAL, 0, 1),
        ([result("a.x", E, L)], Verdict.CONDITIONAL, 0, 1),
        ([result("a.x", F, H)], Verdict.NO_GO, 1, 1),
        ([result("a.x", F, Severity.CRITICAL), result("a.y", E)], Verdict.NO_GO, 1, 1),
        ([result("a.x", E, H)], Verdict.INCOMPLETE, 3, 3),
        ([result("a.x", S, H, incomplete=True)], Verdict.INCOMPLETE, 3, 3),
        ([result("a.x", S, L, incomplete=True), result("a.y", W)], Verdict.CONDITIONAL, 0, 1),
    ],
)
def test_decision_table(
    results: list[CheckResult], verdict: Verdict, code: int, strict_code: int
) -> None:
    d = decide(results, Severity.HIGH)
    assert (d.verdict, d.exit_code) == (verdict, code)
    assert decide(results, Severity.HIGH, strict=True).exit_code == strict_code


def test_fail_on_moves_the_threshold() -> None:
    rs = [result("a.x", F, Severity.MEDIUM)]
    assert decide(rs, Severity.HIGH).verdict is Verdict.CONDITIONAL
    assert decide(rs, Severity.MEDIUM).verdict is Verdict.NO_GO


def test_blocking_lists_most_severe_first() -> None:
    rs = [result("a.b", F, H), result("a.a", F, Severity.CRITICAL), result("a.c", E, H)]
    d = decide(rs, Severity.HIGH)
    assert list(d.blocking) == ["a.a", "a.b", "a.c"]


def test_interrupted_exits_130() -> None:
    d = decide([result("a.x", P)], interrupted=True)
    assert d.exit_code == 130
    assert d.reasons[0] == "the run was interrupted; results are partial"


def test_gates_roll_up_and_await_signoff() -> None:
    rs = [result("security.a", P), result("security.b", W), result("database.backups", F)]
    gates = {
        g.id: g
        for g in gate_results(
            rs,
            DEFAULT_GATES,
            require_signoff=True,
            signoffs=[SignOff("security", "alice", "2026-01-01")],
        )
    }
    assert len(gates) == 7
    assert gates["security"].status is W and not gates["security"].awaiting_signoff
    assert gates["backup"].status is F and gates["rollback"].status is F
    assert gates["monitoring"].status is S and gates["monitoring"].awaiting_signoff
    d = decide([result("security.a", P)], gates=list(gates.values()))
    assert d.verdict is Verdict.CONDITIONAL
    assert any(r.startswith("awaiting sign-off: Technical validation") for r in d.reasons)
