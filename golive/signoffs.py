"""Sign-offs applied to runs: which ledger entries count for a run, and the gates and
decision they give (the ledger itself is golive.approvals, signatures golive.signers)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from golive.approvals import run_digest, signed_payload, verified_entries
from golive.models import Run, Severity, SignOff, Status

if TYPE_CHECKING:
    from golive.config import Config
    from golive.decision import SignoffPolicy
    from golive.signers import SignerRules


def ledger_path(config: Config) -> str:
    """The configured ledger (relative paths are already resolved against golive.yaml)."""
    return config.approvals.ledger


def signoffs_for(config: Config, run: Run | None = None) -> list[SignOff]:
    """The sign-offs recorded in the configured ledger for `run`, checked by its signer rules.

    A run that is still being taken (`run` is None) has none: every entry approves the
    evidence of one finished run, identified by its digest. A broken ledger raises.
    """
    if run is None:
        return []
    from golive.signers import rules_from_config

    return signoffs_in(ledger_path(config), run, rules_from_config(config))


def signoffs_in(
    ledger: str | os.PathLike[str], run: Run, rules: SignerRules | None = None
) -> list[SignOff]:
    """The sign-offs a chain-intact ledger holds for `run` (matched by the run's digest).

    With `rules`, each signed entry is verified against the allowed signers and the gate's
    signers as they are now; without, no sign-off is verified.
    """
    from golive.signers import check_entry

    digest = run_digest(run)
    out = []
    for e in verified_entries(ledger):
        if e.run_digest != digest:
            continue
        check = None
        if rules is not None:
            record = e.record()
            check = check_entry(record, signed_payload(record), rules)
        elif e.sig:
            from golive.signers import SigCheck

            check = SigCheck(
                False, e.by, problem="signature not checked: no allowed-signers file was given"
            )
        out.append(e.signoff(check))
    return out


def apply_signoffs(
    run: Run,
    signoffs: Sequence[SignOff],
    policy: SignoffPolicy | None = None,
    *,
    keep_recorded: bool = True,
) -> Run:
    """The run with these sign-offs on its gates, and its decision taken again.

    Gate membership is the run's own (`GateResult.checks`); `fail_on`, `strict` and, unless
    `policy` is given, the sign-off policy come from the run's settings, so re-rendering never
    needs the configuration. Sign-offs given here replace those the run already shows for the
    same gate, signer and time (they were just verified again); with `keep_recorded=False`
    they replace every sign-off the run file shows (a run file can be edited: when the ledger
    can be verified, only the ledger speaks).
    """
    from golive.decision import GateSpec, SignoffPolicy, decide, gate_results

    if not run.gates:
        return run
    digest = run_digest(run)
    mine = [s for s in signoffs if not s.run_digest or s.run_digest == digest]
    fresh = {(s.gate, s.by, s.at) for s in mine}
    recorded = [s for g in run.gates for s in g.signoffs] if keep_recorded else []
    merged = [s for s in recorded if (s.gate, s.by, s.at) not in fresh] + mine
    specs = [GateSpec(g.id, g.title, checks=tuple(g.checks)) for g in run.gates]
    settings = run.settings
    if policy is None:
        policy = SignoffPolicy.from_settings(settings)
    gates = gate_results(run.results, specs, merged, policy=policy)
    try:
        fail_on = Severity(str(settings.get("fail_on", Severity.HIGH.value)))
    except ValueError:
        fail_on = Severity.HIGH
    decision = decide(
        run.results,
        fail_on,
        strict=bool(settings.get("strict", False)),
        interrupted=run.interrupted,
        gates=gates,
    )
    return replace(run, gates=gates, decision=decision)


def gate_status_warning(run: Run, gate: str) -> str | None:
    """A warning when a gate's automated status is not a pass (shown by `golive approve`)."""
    for g in run.gates:
        if g.id == gate and g.status in (Status.FAIL, Status.ERROR):
            return (
                f"gate {gate!r} is {g.status.value} in this run: the sign-off is recorded, "
                "but it does not change the failing checks or the decision they force"
            )
    return None
