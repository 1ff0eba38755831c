"""Who may sign which gate, and whether a ledger entry's SSH signature proves who signed it.

golive.yaml's ``approvals:`` block names an OpenSSH allowed-signers file (the format git
uses for ``gpg.ssh.allowedSignersFile``: ``principal[,principal] [options] keytype key``)
and, per gate, the principals who may sign it and how many distinct ones must::

    approvals:
      allowed_signers: ops/allowed_signers
      gates:
        security: {signers: [alice@example.com, bob@example.com], min: 2}

A sign-off **counts** only when its signature verifies against that file *today*: the
signer's name is the principal the file gives to the signing key (never the name written
in the entry), the signature covers the entry's canonical JSON (its `prev` link, run digest,
gate status, time and note) in the ``golive-approval`` namespace, and the principal may sign
that gate. Removing a key from the file revokes every sign-off it made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from golive.errors import GoliveError
from golive.sshsig import NAMESPACE, envelope, find_principals, sign, verify

if TYPE_CHECKING:
    from golive.config import Config
    from golive.decision import SignoffPolicy


class ApprovalRefused(GoliveError):
    """`golive approve` will not record this sign-off (exit 2): wrong key, signer, or run."""


@dataclass(frozen=True)
class SignerRules:
    """The trusted keys (an allowed-signers file) and who may sign each gate."""

    allowed_signers: str | None = None
    signers: Mapping[str, Sequence[str]] = field(default_factory=dict)  # gate -> principals
    minimum: Mapping[str, int] = field(default_factory=dict)  # gate -> distinct signers

    @property
    def enabled(self) -> bool:
        """True when sign-offs must be signed with a trusted key to count."""
        return self.allowed_signers is not None

    def may_sign(self, gate: str, principal: str) -> bool:
        """Whether `principal` may sign `gate` (any trusted principal where no list is set)."""
        allowed = self.signers.get(gate)
        return not allowed or principal in allowed


@dataclass(frozen=True)
class SigCheck:
    """What verifying one entry's signature found: who, with which key, or why not."""

    verified: bool
    principal: str = ""
    key: str = ""
    problem: str = ""


def rules_from_config(config: Config | None) -> SignerRules:
    """The signer rules of a configuration (none configured: unsigned sign-offs count)."""
    if config is None:
        return SignerRules()
    a = config.approvals
    return SignerRules(
        allowed_signers=a.allowed_signers,
        signers={g: tuple(r.signers) for g, r in a.gates.items() if r.signers},
        minimum={g: r.min for g, r in a.gates.items()},
    )


def policy(rules: SignerRules, require_signoff: bool) -> SignoffPolicy:
    """The decision's sign-off policy for these rules."""
    from golive.decision import SignoffPolicy

    return SignoffPolicy(
        require_signoff=require_signoff, signed=rules.enabled, minimum=dict(rules.minimum)
    )


def verify_time(at: str) -> str:
    """An entry's ISO-8601 time as ssh-keygen's `-Overify-time` wants it (UTC)."""
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y%m%d%H%M%SZ")


def sign_entry(
    payload: bytes, key: str, rules: SignerRules, gate: str, by: str = "", at: str = ""
) -> tuple[str, str]:
    """Sign an entry's payload with `key`: (principal, armoured signature).

    Refuses (ApprovalRefused) a key the allowed-signers file does not list, a principal
    that may not sign `gate`, and a `by` that is not one of the key's principals.
    """
    if rules.allowed_signers is None:
        raise ApprovalRefused(
            "--key needs approvals.allowed_signers in golive.yaml: golive checks a signature "
            "against the keys the team trusts, and none are configured"
        )
    signature = sign(payload, key)
    fingerprint = envelope(signature)
    what = f"key {fingerprint.fingerprint}" if fingerprint else f"key {key}"
    principals = find_principals(rules.allowed_signers, signature, at=verify_time(at))
    if not principals:
        raise ApprovalRefused(
            f"{what} ({key}) is not in the allowed signers {rules.allowed_signers}: "
            "ask for your public key to be added there (see docs/reports.md)"
        )
    candidates = [p for p in principals if rules.may_sign(gate, p)]
    if by:
        if by not in principals:
            raise ApprovalRefused(
                f"--by {by!r} is not a principal of {what}; "
                f"the allowed signers name it {', '.join(principals)}"
            )
        candidates = [p for p in candidates if p == by]
    if not candidates:
        listed = ", ".join(rules.signers.get(gate, ()))
        raise ApprovalRefused(
            f"{', '.join(principals)} may not sign gate {gate!r}: "
            f"approvals.gates.{gate}.signers lists {listed}"
        )
    principal = candidates[0]
    checked = verify(rules.allowed_signers, principal, signature, payload, at=verify_time(at))
    if not checked.ok:
        raise ApprovalRefused(
            f"the allowed signers do not accept {principal}'s signature with {what}: "
            f"{checked.reason}"
        )
    return principal, signature


def check_entry(
    record: Mapping[str, Any], payload: bytes, rules: SignerRules, *, gate_rules: bool = True
) -> SigCheck:
    """Whether an entry's signature proves its signer, against the rules in force now.

    `gate_rules=False` checks only the key and the signature (for `approvals verify`, which
    judges the ledger, not who may sign which gate today).
    """
    sig = str(record.get("sig") or "")
    by = str(record.get("by", ""))
    if not sig:
        return SigCheck(False, problem="not signed: a name typed with --by proves nothing")
    if rules.allowed_signers is None:
        return SigCheck(
            False,
            principal=by,
            problem="signature not checked: approvals.allowed_signers is not configured",
        )
    env = envelope(sig)
    if env is None:
        return SigCheck(False, principal=by, problem="its signature is not an SSH signature")
    if env.namespace != NAMESPACE:
        return SigCheck(
            False,
            principal=by,
            key=env.fingerprint,
            problem=f"signed for namespace {env.namespace!r}, not {NAMESPACE!r}: "
            "a signature made for something else was copied in",
        )
    when = verify_time(str(record.get("at", "")))
    principals = find_principals(rules.allowed_signers, sig, at=when)
    if not principals:
        return SigCheck(
            False,
            principal=by,
            key=env.fingerprint,
            problem=f"signed by {env.key_type} key {env.fingerprint}, which the allowed signers "
            "do not list (an unknown key, or a revoked signer)",
        )
    principal = str(record.get("principal") or "")
    if principal not in principals or by != principal:
        return SigCheck(
            False,
            principal=by,
            key=env.fingerprint,
            problem=f"names {by!r} but was signed by {', '.join(principals)}'s key "
            f"{env.fingerprint}",
        )
    checked = verify(rules.allowed_signers, principal, sig, payload, at=when)
    if not checked.ok:
        reason = checked.reason
        if "incorrect signature" in reason:
            reason = "the entry was changed after it was signed"
        return SigCheck(
            False,
            principal=principal,
            key=env.fingerprint,
            problem=f"{principal}'s signature does not verify: {reason}",
        )
    if gate_rules and not rules.may_sign(str(record.get("gate", "")), principal):
        return SigCheck(
            False,
            principal=principal,
            key=env.fingerprint,
            problem=f"{principal} may not sign gate {record.get('gate')!r} "
            "(not in its approvals.gates signers)",
        )
    return SigCheck(True, principal=principal, key=env.fingerprint)
