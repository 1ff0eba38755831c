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
    head_path,
    run_digest,
    verify,
)
from golive.models import SignOff, Status, Verdict
from golive.signoffs import apply_signoffs, signoffs_for, signoffs_in
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
    from golive.signoffs import gate_status_warning

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


# --- signed sign-offs with real SSH keys (ssh-keygen) -----------------------------------------


@pytest.fixture
def team(tmp_path: Path):
    """Alice (ed25519) and Bob (RSA) are trusted; Mallory (ed25519) has a key nobody trusts."""
    from tests.golive.sshkeys import Keys

    keys = Keys(tmp_path / "keys")
    alice = keys.make("alice@example.com", "ed25519")
    bob = keys.make("bob@example.com", "rsa")
    mallory = keys.make("mallory@example.com", "ed25519")
    allowed = keys.allowed(alice, bob)
    return keys, alice, bob, mallory, allowed


def rules_for(allowed: Path, **gates: tuple[list[str], int]):
    from golive.signers import SignerRules

    return SignerRules(
        allowed_signers=str(allowed),
        signers={g: tuple(s) for g, (s, _) in gates.items() if s},
        minimum={g: n for g, (_, n) in gates.items()},
    )


def two_person(run, ledger: Path, rules):
    """The run's gates after the ledger's sign-offs, under the rules' policy."""
    from golive.signers import policy

    required = bool(run.settings.get("require_signoff"))
    return apply_signoffs(run, signoffs_in(ledger, run, rules), policy(rules, required))


def rewrite(ledger: Path, records: list[dict]) -> None:
    """Write records back with every hash, link and the head recomputed (a careful forger)."""
    from golive.approvals import _write_head, entry_hash

    prev = GENESIS
    for r in records:
        r["prev"] = prev
        r["hash"] = entry_hash(r)
        prev = r["hash"]
    ledger.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    _write_head(ledger, records[-1]["seq"], records[-1]["hash"])


def test_ed25519_and_rsa_signatures_verify_and_name_the_signer_from_the_allowed_file(
    tmp_path: Path, team
) -> None:
    _, alice, bob, _, allowed = team
    ledger = tmp_path / "a.jsonl"
    run = passing_run()
    rules = rules_for(allowed, security=([alice.principal, bob.principal], 2))
    a = append(ledger, run, "security", "", "pen test read", key=str(alice.path), rules=rules)
    b = append(ledger, run, "security", key=str(bob.path), rules=rules, now=NOW)
    assert (a.by, a.principal, b.by) == (alice.principal, alice.principal, bob.principal)
    record = json.loads(lines(ledger)[0])
    assert record["v"] == 2 and record["sig"].startswith("-----BEGIN SSH SIGNATURE-----")
    result = verify(ledger, rules=rules)
    assert result.ok, result.problems
    assert result.signatures_checked and all(c.verified for c in result.checks.values())
    signoffs = signoffs_in(ledger, run, rules)
    assert [(s.by, s.verified) for s in signoffs] == [
        (alice.principal, True),
        (bob.principal, True),
    ]
    assert all(s.key.startswith("SHA256:") and not s.problem for s in signoffs)


def test_the_two_person_rule_holds_with_one_and_with_two_signers(tmp_path: Path, team) -> None:
    _, alice, bob, _, allowed = team
    ledger = tmp_path / "a.jsonl"
    run = passing_run(require_signoff=False)
    rules = rules_for(allowed, security=([alice.principal, bob.principal], 2))
    assert two_person(run, ledger, rules).decision.verdict is Verdict.CONDITIONAL

    append(ledger, run, "security", key=str(alice.path), rules=rules)
    one = two_person(run, ledger, rules)
    gate = next(g for g in one.gates if g.id == "security")
    assert (gate.required, gate.needed, list(gate.verified_signers)) == (2, 1, [alice.principal])
    assert gate.awaiting_signoff and one.decision.verdict is Verdict.CONDITIONAL
    assert "awaiting sign-off: Security clearance (1 more of 2 signers)" in one.decision.reasons

    # the same person twice is still one person: golive refuses the second signature
    from golive.signers import ApprovalRefused

    with pytest.raises(ApprovalRefused, match=r"alice@example.com already signed gate 'security'"):
        append(ledger, run, "security", key=str(alice.path), rules=rules)

    append(ledger, run, "security", key=str(bob.path), rules=rules)
    two = two_person(run, ledger, rules)
    gate = next(g for g in two.gates if g.id == "security")
    assert (gate.needed, list(gate.verified_signers)) == (0, [alice.principal, bob.principal])
    assert two.decision.verdict is Verdict.GO


def test_unsigned_names_do_not_count_where_signers_are_configured(tmp_path: Path, team) -> None:
    _, alice, _, _, allowed = team
    ledger = tmp_path / "a.jsonl"
    run = passing_run(require_signoff=False)
    sign(ledger, run, ["security"], by="Alice Approver")  # written before keys were configured
    rules = rules_for(allowed, security=([], 1))
    gate = next(g for g in two_person(run, ledger, rules).gates if g.id == "security")
    assert gate.needed == 1 and not gate.verified_signers
    assert gate.signoffs[0].problem == "not signed: a name typed with --by proves nothing"
    # and once signers are configured, golive refuses a bare name
    from golive.signers import ApprovalRefused

    with pytest.raises(ApprovalRefused, match=r"sign-offs must be signed: .* sign with --key"):
        append(ledger, run, "security", "Alice Approver", rules=rules)
    append(ledger, run, "security", key=str(alice.path), rules=rules)
    assert verify(ledger, rules=rules).ok  # older unsigned entries are not a failure
    gate = next(g for g in two_person(run, ledger, rules).gates if g.id == "security")
    assert gate.needed == 0


def test_a_forged_entry_signed_by_an_untrusted_key_is_caught(tmp_path: Path, team) -> None:
    from golive.approvals import signed_payload
    from golive.sshsig import sign as ssh_sign

    _, alice, _, mallory, allowed = team
    ledger = tmp_path / "a.jsonl"
    run = passing_run()
    rules = rules_for(allowed)
    append(ledger, run, "security", key=str(alice.path), rules=rules)
    # Mallory copies Alice's entry, claims it for the rollback gate, signs it with her own key
    # and recomputes the chain and the head: the chain is valid, the signature is not trusted
    records = [json.loads(line) for line in lines(ledger)]
    forged = dict(records[0], seq=2, gate="rollback", by=alice.principal)
    forged["prev"] = records[0]["hash"]
    forged["sig"] = ssh_sign(signed_payload(forged), str(mallory.path))
    rewrite(ledger, [records[0], forged])
    assert verify(ledger).ok  # the hash chain alone is fooled
    result = verify(ledger, rules=rules)
    assert len(result.problems) == 1
    assert result.problems[0].startswith(
        f"{ledger}:2: entry 2 (gate 'rollback' by 'alice@example.com'): signed by ssh-ed25519 "
        "key SHA256:"
    )
    assert result.problems[0].endswith(
        "which the allowed signers do not list (an unknown key, or a revoked signer)"
    )
    rollback = [s for s in signoffs_in(ledger, run, rules) if s.gate == "rollback"]
    assert [s.verified for s in rollback] == [False]


def test_an_entry_edited_after_signing_is_caught_even_with_recomputed_hashes(
    tmp_path: Path, team
) -> None:
    _, alice, bob, _, allowed = team
    ledger = tmp_path / "a.jsonl"
    run = sample_run()  # the security gate FAILs in this run
    rules = rules_for(allowed)
    append(ledger, run, "security", "", "accepted with INC-7", key=str(alice.path), rules=rules)
    append(ledger, run, "monitoring", key=str(bob.path), rules=rules)
    records = [json.loads(line) for line in lines(ledger)]
    records[0]["gate_status"] = "PASS"
    records[0]["note"] = "all green"
    rewrite(ledger, records)
    result = verify(ledger, rules=rules)
    assert result.problems == [
        f"{ledger}:1: entry 1 (gate 'security' by 'alice@example.com'): alice@example.com's "
        "signature does not verify: the entry was changed after it was signed"
    ]
    # entry 2's signature covers its link to entry 1, so it too no longer verifies
    assert not result.checks[2].verified
    assert "changed after it was signed" in result.checks[2].problem


def test_a_signature_made_for_another_namespace_is_caught(tmp_path: Path, team) -> None:
    from golive.approvals import signed_payload
    from golive.sshsig import sign as ssh_sign

    _, alice, _, _, allowed = team
    ledger = tmp_path / "a.jsonl"
    rules = rules_for(allowed)
    append(ledger, passing_run(), "security", key=str(alice.path), rules=rules)
    records = [json.loads(line) for line in lines(ledger)]
    # Alice's key really signed these bytes, but as a git signature ("git" namespace)
    records[0]["sig"] = ssh_sign(signed_payload(records[0]), str(alice.path), "git")
    rewrite(ledger, records)
    assert verify(ledger, rules=rules).problems == [
        f"{ledger}:1: entry 1 (gate 'security' by 'alice@example.com'): signed for namespace "
        "'git', not 'golive-approval': a signature made for something else was copied in"
    ]


def test_a_revoked_signer_no_longer_counts(tmp_path: Path, team) -> None:
    keys, alice, bob, _, allowed = team
    ledger = tmp_path / "a.jsonl"
    run = passing_run(require_signoff=False)
    rules = rules_for(allowed, security=([], 2))
    append(ledger, run, "security", key=str(alice.path), rules=rules)
    append(ledger, run, "security", key=str(bob.path), rules=rules)
    assert two_person(run, ledger, rules).decision.verdict is Verdict.GO
    keys.allowed(alice)  # Bob's key is removed from the allowed signers
    after = two_person(run, ledger, rules)
    gate = next(g for g in after.gates if g.id == "security")
    assert (gate.needed, list(gate.verified_signers)) == (1, [alice.principal])
    bob_signoff = next(s for s in gate.signoffs if s.by == bob.principal)
    assert not bob_signoff.verified
    assert "which the allowed signers do not list" in bob_signoff.problem
    assert after.decision.verdict is Verdict.CONDITIONAL
    assert (
        verify(ledger, rules=rules)
        .problems[0]
        .startswith(
            f"{ledger}:2: entry 2 (gate 'security' by 'bob@example.com'): signed by ssh-rsa key"
        )
    )


def test_approve_refuses_keys_and_runs_it_should_not_sign(tmp_path: Path, team) -> None:
    from golive.signers import ApprovalRefused

    _, alice, bob, mallory, allowed = team
    ledger = tmp_path / "a.jsonl"
    run = passing_run()
    rules = rules_for(allowed, security=([alice.principal], 1))
    with pytest.raises(
        ApprovalRefused,
        match=r"key SHA256:\S+ \(.*mallory\S*\) is not in the allowed signers .*allowed_signers",
    ):
        append(ledger, run, "security", key=str(mallory.path), rules=rules)
    with pytest.raises(
        ApprovalRefused,
        match=r"bob@example.com may not sign gate 'security': "
        r"approvals.gates.security.signers lists alice@example.com",
    ):
        append(ledger, run, "security", key=str(bob.path), rules=rules)
    with pytest.raises(ApprovalRefused, match=r"--by 'Alice' is not a principal of key SHA256:"):
        append(ledger, run, "security", "Alice", key=str(alice.path), rules=rules)
    with pytest.raises(ApprovalRefused, match=r"--key needs approvals.allowed_signers"):
        append(ledger, run, "security", key=str(alice.path))
    from golive.output import render as render_output
    from golive.redact import Redactor

    saved = from_dict(json.loads(render_output(run, "json", Redactor())))  # as golive saves it
    assert saved.digest == run_digest(run)
    doctored = replace(
        saved, results=[replace(saved.results[0], status=Status.PASS, summary="fine")]
    )
    with pytest.raises(
        ApprovalRefused, match=r"evidence no longer matches the digest golive saved"
    ):
        append(ledger, doctored, "security", key=str(alice.path), rules=rules)
    assert not ledger.exists() or lines(ledger) == []
    append(ledger, saved, "security", key=str(alice.path), rules=rules)
    assert verify(ledger, rules=rules).ok


def test_an_unsigned_entry_after_a_signed_one_is_caught(tmp_path: Path, team) -> None:
    _, alice, _, _, allowed = team
    ledger = tmp_path / "a.jsonl"
    run = passing_run()
    rules = rules_for(allowed)
    append(ledger, run, "security", key=str(alice.path), rules=rules)
    sign(ledger, run, ["rollback"], by="Alice Approver")  # appended without the rules
    assert verify(ledger).ok
    assert verify(ledger, rules=rules).problems == [
        f"{ledger}:2: entry 2 (gate 'rollback' by 'Alice Approver') is not signed, but entry 1 "
        "before it is: it was added without golive, which refuses unsigned sign-offs once "
        "allowed signers are configured"
    ]
