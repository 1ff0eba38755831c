"""The approval ledger: sign-offs bound to a run's digest, hash-chained, tamper-evident."""

from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from golive.reports.json import from_dict, load, render

from golive.approvals import (
    GENESIS,
    LedgerError,
    append,
    apply_signoffs,
    head_path,
    run_digest,
    signoffs_for,
    signoffs_in,
    verify,
)
from golive.models import SignOff, Status, Verdict
from golive.testing import load_dict
from tests.reports.runs import make_run, result, sample_run

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=timezone.utc)


def passing_run(require_signoff: bool = True):
    """A run where every check passes; with require_signoff it awaits the gates' sign-offs."""
    results = [
        result("security.jwt_secret", Status.PASS, "The JWT secret is strong."),
        result("database.backups", Status.PASS, "Yesterday's backup is readable."),
        result("monitoring.rules", Status.PASS, "12 alert rules loaded."),
        result("operations.runbooks", Status.PASS, "5 runbooks found."),
        result("infrastructure.disk", Status.PASS, "Every data path has 40 % free."),
    ]
    return make_run(results, require_signoff=require_signoff)


def sign(path: Path, run, gates, by: str = "Alice Approver") -> None:
    for g in gates:
        append(path, run, g, by, f"reviewed {g}", now=NOW)


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


# --- digest -------------------------------------------------------------------------------


def test_run_digest_is_stable_through_a_saved_json_and_ignores_gates_and_decision() -> None:
    run = sample_run()
    saved = from_dict(json.loads(render(run)))
    assert run_digest(saved) == run_digest(run)
    assert run_digest(run).startswith("sha256:") and len(run_digest(run)) == 71
    signed = apply_signoffs(run, [SignOff("security", "Bob", "2026-05-04T12:00:00+00:00")])
    assert signed.gates != run.gates
    assert run_digest(signed) == run_digest(run)


def test_run_digest_changes_when_any_evidence_changes() -> None:
    run = sample_run()
    changed = replace(
        run,
        results=[replace(run.results[0], summary=run.results[0].summary + "!"), *run.results[1:]],
    )
    assert run_digest(changed) != run_digest(run)
    assert run_digest(replace(run, run_id="other")) != run_digest(run)


# --- appending and verifying --------------------------------------------------------------


def test_append_chains_entries_and_records_the_head(tmp_path: Path) -> None:
    ledger = tmp_path / "approvals.jsonl"
    run = passing_run()
    sign(ledger, run, ["security", "monitoring"])
    records = [json.loads(line) for line in lines(ledger)]
    assert [r["seq"] for r in records] == [1, 2]
    assert records[0]["prev"] == GENESIS
    assert records[1]["prev"] == records[0]["hash"]
    assert records[0]["run_digest"] == run_digest(run)
    assert records[0]["gate_status"] == "PASS"
    assert records[0]["by"] == "Alice Approver" and records[0]["note"] == "reviewed security"
    assert records[0]["at"] == "2026-05-04T12:00:00+00:00"
    head = json.loads(head_path(ledger).read_text())
    assert head == {"seq": 2, "hash": records[1]["hash"]}
    result = verify(ledger)
    assert result.ok, result.problems
    assert result.head == records[1]["hash"]
    assert [e.gate for e in result.entries] == ["security", "monitoring"]


def test_an_edited_entry_is_detected_at_its_line(tmp_path: Path) -> None:
    ledger = tmp_path / "a.jsonl"
    sign(ledger, passing_run(), ["security", "monitoring", "backup"])
    text = lines(ledger)
    text[1] = text[1].replace("Alice Approver", "Mallory")
    ledger.write_text("".join(text), encoding="utf-8")
    result = verify(ledger)
    assert not result.ok
    assert result.problems == [
        f"{ledger}:2: entry 2 (gate 'monitoring' by 'Mallory') was edited: "
        "its content no longer matches its hash"
    ]
    assert len(result.entries) == 1


def test_an_edited_entry_with_a_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    from golive.approvals import entry_hash

    ledger = tmp_path / "a.jsonl"
    sign(ledger, passing_run(), ["security", "monitoring", "backup"])
    text = lines(ledger)
    record = json.loads(text[0])
    record["gate_status"] = "PASS"
    record["note"] = "rewritten"
    record["hash"] = entry_hash(record)
    text[0] = json.dumps(record) + "\n"
    ledger.write_text("".join(text), encoding="utf-8")
    problems = verify(ledger).problems
    assert len(problems) == 1
    assert problems[0].startswith(
        f"{ledger}:2: entry 2 (gate 'monitoring' by 'Alice Approver') does not follow entry 1"
    )


def test_a_removed_middle_entry_is_detected(tmp_path: Path) -> None:
    ledger = tmp_path / "a.jsonl"
    sign(ledger, passing_run(), ["security", "monitoring", "backup", "rollback"])
    text = lines(ledger)
    del text[1]
    ledger.write_text("".join(text), encoding="utf-8")
    assert verify(ledger).problems == [
        f"{ledger}:2: entry 2 is missing before entry 3 (gate 'backup' by 'Alice Approver'): entries were removed"
    ]


def test_removing_the_last_entries_is_detected_through_the_head(tmp_path: Path) -> None:
    ledger = tmp_path / "a.jsonl"
    sign(ledger, passing_run(), ["security", "monitoring", "backup"])
    ledger.write_text("".join(lines(ledger)[:1]), encoding="utf-8")
    assert verify(ledger).problems == [
        f"{ledger}: the ledger ends at entry 1 but its head records entry 3: 2 entries were removed from the end"
    ]


def test_a_deleted_head_or_ledger_is_reported(tmp_path: Path) -> None:
    ledger = tmp_path / "a.jsonl"
    sign(ledger, passing_run(), ["security"])
    head_path(ledger).unlink()
    assert verify(ledger).problems == [
        f"{head_path(ledger)} is missing: the removal of the last entries could not be ruled out"
    ]
    sign(tmp_path / "b.jsonl", passing_run(), ["security"])
    (tmp_path / "b.jsonl").unlink()
    problems = verify(tmp_path / "b.jsonl").problems
    assert (
        problems[0]
        == f"{tmp_path / 'b.jsonl'} is missing but its head file exists: the ledger was deleted"
    )


def test_entries_appended_behind_golives_back_are_detected(tmp_path: Path) -> None:
    from golive.approvals import entry_hash

    ledger = tmp_path / "a.jsonl"
    sign(ledger, passing_run(), ["security"])
    forged = json.loads(lines(ledger)[0])
    forged.update(seq=2, gate="rollback", prev=forged["hash"])
    forged["hash"] = entry_hash(forged)
    with open(ledger, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(forged) + "\n")
    assert verify(ledger).problems == [
        f"{ledger}: entry 2 was appended without golive (the head records entry 1)"
    ]


def test_reordered_or_garbled_lines_are_detected(tmp_path: Path) -> None:
    ledger = tmp_path / "a.jsonl"
    sign(ledger, passing_run(), ["security", "monitoring"])
    a, b = lines(ledger)
    ledger.write_text(b + a, encoding="utf-8")
    assert "entries 1..1 are missing" not in verify(ledger).problems[0]
    assert "entry 1 is missing before entry 2" in verify(ledger).problems[0]
    ledger.write_text(a + "{not json\n", encoding="utf-8")
    assert "not a JSON object" in verify(ledger).problems[0]
    ledger.write_text(a.replace('"v": 1', '"v": 1, "extra": true'), encoding="utf-8")
    assert "unknown field(s) extra" in verify(ledger).problems[0]


def test_expect_head_pins_the_end_of_the_ledger(tmp_path: Path) -> None:
    ledger = tmp_path / "a.jsonl"
    sign(ledger, passing_run(), ["security", "monitoring"])
    head = verify(ledger).head
    assert verify(ledger, expect_head=head).ok
    bad = verify(ledger, expect_head="sha256:" + "1" * 64)
    assert bad.problems == [
        f"{ledger}: the ledger ends at {head}, not at the expected head sha256:{'1' * 64}"
    ]


def test_append_refuses_unknown_gates_anonymous_signers_and_broken_ledgers(tmp_path: Path) -> None:
    ledger = tmp_path / "a.jsonl"
    run = passing_run()
    with pytest.raises(
        LedgerError, match=r"has no gate 'secrity'; its gates: technical, security, "
    ):
        append(ledger, run, "secrity", "Alice")
    with pytest.raises(LedgerError, match="--by must name the person who signs"):
        append(ledger, run, "security", "   ")
    sign(ledger, run, ["security"])
    ledger.write_text(ledger.read_text().replace("Alice", "Eve"), encoding="utf-8")
    with pytest.raises(LedgerError, match=r"failed verification: .* was edited"):
        append(ledger, run, "monitoring", "Alice")
    assert len(lines(ledger)) == 1


def _sign_many(args: tuple[str, str, int]) -> None:
    ledger, run_file, n = args
    run = load(run_file)
    for i in range(n):
        append(ledger, run, "security", f"signer {os.getpid()}-{i}")


def test_concurrent_approvers_append_in_turn(tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    run_file.write_text(render(passing_run()), encoding="utf-8")
    ledger = tmp_path / "a.jsonl"
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        pool.map(_sign_many, [(str(ledger), str(run_file), 15)] * 3)
    result = verify(ledger)
    assert result.ok, result.problems
    assert len(result.entries) == 45


# --- sign-offs in the decision ---------------------------------------------------------------


def test_require_signoff_keeps_a_clean_run_conditional_until_every_gate_is_signed(
    tmp_path: Path,
) -> None:
    ledger = tmp_path / "a.jsonl"
    run = passing_run(require_signoff=True)
    assert run.decision.verdict is Verdict.CONDITIONAL
    assert any(
        r.startswith("awaiting sign-off: Technical validation, Security clearance")
        for r in run.decision.reasons
    )

    sign(ledger, run, ["technical", "security", "infrastructure", "monitoring", "backup"])
    partly = apply_signoffs(run, signoffs_in(ledger, run))
    assert partly.decision.verdict is Verdict.CONDITIONAL
    assert "awaiting sign-off: Operations ready, Rollback plan" in partly.decision.reasons
    assert [g.id for g in partly.gates if g.awaiting_signoff] == ["operations", "rollback"]

    sign(ledger, run, ["operations", "rollback"], by="Bob")
    signed = apply_signoffs(run, signoffs_in(ledger, run))
    assert signed.decision.verdict is Verdict.GO
    assert signed.decision.exit_code == 0
    security = next(g for g in signed.gates if g.id == "security")
    assert [(s.by, s.at, s.note) for s in security.signoffs] == [
        ("Alice Approver", "2026-05-04T12:00:00+00:00", "reviewed security")
    ]


def test_signoffs_of_another_run_do_not_count(tmp_path: Path) -> None:
    ledger = tmp_path / "a.jsonl"
    first = passing_run()
    sign(
        ledger,
        first,
        [
            "technical",
            "security",
            "infrastructure",
            "monitoring",
            "backup",
            "operations",
            "rollback",
        ],
    )
    second = replace(passing_run(), run_id="20260505T100000-def456")
    assert signoffs_in(ledger, second) == []
    assert (
        apply_signoffs(second, signoffs_in(ledger, second)).decision.verdict is Verdict.CONDITIONAL
    )
    assert len(signoffs_in(ledger, first)) == 7


def test_a_signoff_does_not_turn_a_failing_gate_into_a_go(tmp_path: Path) -> None:
    from golive.approvals import gate_status_warning

    run = sample_run()  # NO-GO: security.jwt_secret fails
    ledger = tmp_path / "a.jsonl"
    sign(ledger, run, ["security"])
    signed = apply_signoffs(run, signoffs_in(ledger, run))
    assert signed.decision.verdict is Verdict.NO_GO
    assert "security.jwt_secret" in signed.decision.blocking
    assert gate_status_warning(run, "security") is not None
    assert gate_status_warning(run, "monitoring") is None


def test_signoffs_for_reads_the_configured_ledger(tmp_path: Path) -> None:
    cfg = load_dict({"approvals": {"ledger": "ledger/approvals.jsonl"}}, directory=str(tmp_path))
    assert cfg.approvals.ledger == str(tmp_path / "ledger" / "approvals.jsonl")
    run = passing_run()
    assert signoffs_for(cfg) == []  # a run being taken has no sign-offs yet
    sign(Path(cfg.approvals.ledger), run, ["security"])
    assert [s.gate for s in signoffs_for(cfg, run)] == ["security"]
