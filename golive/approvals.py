"""Approval sign-offs: an append-only, hash-chained ledger of who signed which gate of which run.

The ledger is a JSON-lines file (``approvals.ledger`` in golive.yaml, default
``golive-approvals.jsonl`` beside it). Each line is one sign-off::

    {"v": 1, "seq": 3, "gate": "security", "by": "Alice", "at": "2026-05-04T10:00:00+00:00",
     "note": "...", "run_id": "...", "run_digest": "sha256:...", "config_digest": "sha256:...",
     "gate_status": "PASS", "prev": "sha256:<hash of entry 2>", "hash": "sha256:<this entry>"}

- A sign-off is **bound to one run**: ``run_digest`` is the sha256 of the saved run (its
  results, targets, settings and metadata; not its gates and decision, which sign-offs
  change). It approves exactly the evidence the approver read; a new run needs new sign-offs.
- Entries are **hash-chained**: ``hash`` covers every other field, ``prev`` is the previous
  entry's hash (the first one points at ``GENESIS``), ``seq`` counts from 1. Editing any
  entry, removing or reordering entries breaks the chain at that line.
- A **head file** (``<ledger>.head``) records the last entry's ``seq`` and ``hash`` at each
  append, so that removing the last entries is detected too.

- A **signed** entry (``golive approve --key``, ledger version 2) also carries ``principal``
  and ``sig``: an SSH signature (``ssh-keygen -Y sign -n golive-approval``) of the entry's
  canonical JSON without ``hash``, ``sig``, ``by`` and ``principal``: its ``prev`` link, run
  digest, gate status, time and note. The name is not signed on trust: it is the principal the
  allowed-signers file gives to the signing key (see golive.signers).

The chain alone carries no secret: someone who can write the file can recompute every hash.
Signatures close that gap: an edited or re-chained entry no longer matches its signature, and
an entry signed with a key outside the allowed signers is named by ``golive approvals
verify``. Removing the *last* entries and rewriting the head file is still possible for whoever
can write both: record the head (``approvals verify`` prints it, ``--expect-head`` checks it)
where that person cannot reach, when the threat is a determined insider.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golive.errors import GoliveError
from golive.models import Run, SignOff

if TYPE_CHECKING:
    from golive.signers import SigCheck, SignerRules

LEDGER_VERSION = 2
#: Fields of version 2 entries only (version 1 entries, written before signatures, lack them).
_SIGNED_FIELDS: dict[str, type] = {"principal": str, "sig": str}
#: What a signature does not cover: the hash (computed after), the signature itself, and the
#: names, which come from the allowed-signers file rather than from the entry.
_UNSIGNED = ("hash", "sig", "by", "principal")
GENESIS = "sha256:" + "0" * 64
HEAD_SUFFIX = ".head"
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "v": int,
    "seq": int,
    "gate": str,
    "by": str,
    "at": str,
    "note": str,
    "run_id": str,
    "run_digest": str,
    "config_digest": str,
    "gate_status": str,
    "prev": str,
    "hash": str,
}


class LedgerError(GoliveError):
    """The approval ledger cannot be read, fails verification, or refuses a sign-off."""

    exit_code = 1


@dataclass(frozen=True)
class Entry:
    """One verified sign-off in the ledger."""

    seq: int
    gate: str
    by: str
    at: str
    note: str
    run_id: str
    run_digest: str
    config_digest: str
    gate_status: str
    prev: str
    hash: str
    principal: str = ""
    sig: str = ""
    line: int = 0

    def signoff(self, check: SigCheck | None = None) -> SignOff:
        """The sign-off as the run model carries it, verified or not by `check`."""
        return SignOff(
            gate=self.gate,
            by=self.by,
            at=self.at,
            note=self.note,
            run_digest=self.run_digest,
            verified=bool(check and check.verified),
            key=check.key if check else "",
            problem=check.problem if check else "not signed: a name typed with --by proves nothing",
        )

    def record(self) -> dict[str, Any]:
        """The entry as its ledger line holds it."""
        out: dict[str, Any] = {"v": 2 if self.sig or self.principal else 1}
        for k in _FIELDS:
            if k != "v":
                out[k] = getattr(self, k)
        if out["v"] == 2:
            out.update(principal=self.principal, sig=self.sig)
        return out

    @property
    def who(self) -> str:
        """How messages name this entry."""
        return f"entry {self.seq} (gate {self.gate!r} by {self.by!r})"


@dataclass(frozen=True)
class Verification:
    """What `verify` found: the entries read (up to the first broken link) and the problems."""

    path: str
    entries: Sequence[Entry] = ()
    problems: Sequence[str] = field(default_factory=list)
    #: entry seq -> its signature check (only when allowed signers were given)
    checks: Mapping[int, SigCheck] = field(default_factory=dict)
    signatures_checked: bool = False

    @property
    def ok(self) -> bool:
        """True when the whole ledger and its head are intact."""
        return not self.problems

    @property
    def head(self) -> str:
        """The hash of the last entry (GENESIS for an empty ledger)."""
        return self.entries[-1].hash if self.entries else GENESIS


# ---------------------------------------------------------------------------------------------
# digests


def _normal(value: Any) -> Any:
    """JSON data with integral floats as ints, so a run and its saved copy digest the same."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    return value


def canonical(data: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces, UTF-8) of JSON-like data."""
    return json.dumps(
        _normal(data),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=str,
    ).encode("utf-8")


def run_digest(run: Run) -> str:
    """The digest a sign-off is bound to: everything in the run except gates and decision
    (and the digest golive recorded in it)."""
    from golive.reports.json import to_dict

    data = to_dict(run)
    data.pop("gates", None)
    data.pop("decision", None)
    data.pop("digest", None)
    return "sha256:" + hashlib.sha256(canonical(data)).hexdigest()


def signed_payload(record: Mapping[str, Any]) -> bytes:
    """The bytes an entry's SSH signature covers (its canonical JSON, names excluded)."""
    return canonical({k: v for k, v in record.items() if k not in _UNSIGNED})


def entry_hash(record: Mapping[str, Any]) -> str:
    """The hash of a ledger record: sha256 of its canonical JSON without the `hash` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return "sha256:" + hashlib.sha256(canonical(body)).hexdigest()


# ---------------------------------------------------------------------------------------------
# reading and verifying


def head_path(ledger: str | os.PathLike[str]) -> Path:
    """Where the head of a ledger is recorded."""
    return Path(str(ledger) + HEAD_SUFFIX)


def verify(
    ledger: str | os.PathLike[str],
    expect_head: str | None = None,
    rules: SignerRules | None = None,
) -> Verification:
    """Check every line, the hash chain and the head file, and with `rules` every signature.

    Never raises for tampering: each problem names its line. A signed entry whose signature
    does not verify (edited after signing, re-signed by an unknown or revoked key, signed for
    another namespace) is a problem, and so is an unsigned entry after a signed one (golive
    refuses those once signers are configured).
    """
    path = Path(ledger)
    problems: list[str] = []
    entries: list[Entry] = []
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = b""
        if head_path(path).exists():
            problems.append(f"{path} is missing but its head file exists: the ledger was deleted")
    except OSError as exc:
        raise LedgerError(
            f"{path}: cannot read the approval ledger: {exc.strerror or exc}"
        ) from None
    prev = GENESIS
    broken = False
    lines = raw.decode("utf-8", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for lineno, line in enumerate(lines, start=1):
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(
                f"{where}: not a JSON object ({exc.msg}); the line was edited or corrupted"
            )
            broken = True
            break
        shape = _shape_problem(record)
        if shape:
            problems.append(f"{where}: {shape}; the line was edited or corrupted")
            broken = True
            break
        expected_seq = len(entries) + 1
        who = f"entry {record['seq']} (gate {record['gate']!r} by {record['by']!r})"
        if record["hash"] != entry_hash(record):
            problems.append(f"{where}: {who} was edited: its content no longer matches its hash")
            broken = True
            break
        if record["seq"] != expected_seq or record["prev"] != prev:
            if record["seq"] > expected_seq:
                gone = list(range(expected_seq, record["seq"]))
                what = (
                    f"entry {gone[0]} is"
                    if len(gone) == 1
                    else f"entries {gone[0]}..{gone[-1]} are"
                )
                problems.append(f"{where}: {what} missing before {who}: entries were removed")
            else:
                problems.append(
                    f"{where}: {who} does not follow entry {expected_seq - 1}: "
                    f"entries were removed, reordered or replaced"
                )
            broken = True
            break
        entries.append(_entry(record, lineno))
        prev = record["hash"]
    if not broken:
        problems.extend(_head_problems(path, entries))
    checks: dict[int, SigCheck] = {}
    if rules is not None and rules.enabled:
        checks, bad = _signature_problems(path, entries, rules)
        problems.extend(bad)
    if expect_head is not None and (not entries or entries[-1].hash != expect_head):
        last = entries[-1].hash if entries else GENESIS
        problems.append(
            f"{path}: the ledger ends at {last}, not at the expected head {expect_head}"
        )
    return Verification(
        str(path),
        entries,
        problems,
        checks=checks,
        signatures_checked=rules is not None and rules.enabled,
    )


def _signature_problems(
    path: Path, entries: Sequence[Entry], rules: SignerRules
) -> tuple[dict[int, SigCheck], list[str]]:
    """Each entry's signature check, and the first bad signed entry as a problem."""
    from golive.signers import check_entry

    checks: dict[int, SigCheck] = {}
    problems: list[str] = []
    signed_before = 0
    for e in entries:
        record = e.record()
        check = check_entry(record, signed_payload(record), rules, gate_rules=False)
        checks[e.seq] = check
        if problems:
            continue
        where = f"{path}:{e.line}"
        if e.sig and not check.verified:
            problems.append(f"{where}: {e.who}: {check.problem}")
        elif not e.sig and signed_before:
            problems.append(
                f"{where}: {e.who} is not signed, but entry {signed_before} before it is: "
                "it was added without golive, which refuses unsigned sign-offs once "
                "allowed signers are configured"
            )
        if e.sig:
            signed_before = e.seq
    return checks, problems


def _shape_problem(record: Any) -> str:
    if not isinstance(record, dict):
        return "not a JSON object"
    if record.get("v") not in (1, LEDGER_VERSION):
        return (
            f"ledger version {record.get('v')} is not supported "
            f"(this golive writes {LEDGER_VERSION})"
        )
    fields: dict[str, type | tuple[type, ...]] = dict(_FIELDS)
    if record["v"] >= 2:
        fields.update(_SIGNED_FIELDS)
    missing = [k for k in fields if k not in record]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    for k, kind in fields.items():
        if not isinstance(record[k], kind) or isinstance(record[k], bool):
            return f"field {k!r} has the wrong type"
    extra = sorted(set(record) - set(fields))
    if extra:
        return f"unknown field(s) {', '.join(extra)}"
    return ""


def _entry(record: Mapping[str, Any], line: int = 0) -> Entry:
    values = {k: record[k] for k in (*_FIELDS, *_SIGNED_FIELDS) if k != "v" and k in record}
    return Entry(**values, line=line)


def _head_problems(path: Path, entries: list[Entry]) -> list[str]:
    hp = head_path(path)
    try:
        head = json.loads(hp.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if entries:
            return [f"{hp} is missing: the removal of the last entries could not be ruled out"]
        return []
    except (OSError, ValueError) as exc:
        return [f"{hp}: unreadable head file ({exc})"]
    if (
        not isinstance(head, dict)
        or not isinstance(head.get("seq"), int)
        or not isinstance(head.get("hash"), str)
    ):
        return [f"{hp}: not a golive ledger head"]
    last_seq = entries[-1].seq if entries else 0
    last_hash = entries[-1].hash if entries else GENESIS
    if head["seq"] > last_seq:
        gone = head["seq"] - last_seq
        return [
            f"{path}: the ledger ends at entry {last_seq} "
            f"but its head records entry {head['seq']}: "
            f"{gone} entr{'y was' if gone == 1 else 'ies were'} removed from the end"
        ]
    if head["seq"] < last_seq:
        extra = (
            f"entry {last_seq} was"
            if last_seq == head["seq"] + 1
            else f"entries {head['seq'] + 1}..{last_seq} were"
        )
        return [f"{path}: {extra} appended without golive (the head records entry {head['seq']})"]
    if head["hash"] != last_hash:
        return [f"{path}: entry {last_seq} differs from the one the head recorded: it was replaced"]
    return []


def verified_entries(ledger: str | os.PathLike[str]) -> list[Entry]:
    """Every entry of an intact ledger; a broken ledger raises LedgerError."""
    result = verify(ledger)
    if not result.ok:
        raise LedgerError(
            f"approval ledger {result.path} failed verification: {result.problems[0]} "
            "(run `golive approvals verify` for details)"
        )
    return list(result.entries)


# ---------------------------------------------------------------------------------------------
# appending


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside the ledger, so that concurrent approvers append in turn."""
    try:
        import fcntl
    except ImportError:  # not POSIX: appends are not serialised
        yield
        return
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def append(
    ledger: str | os.PathLike[str],
    run: Run,
    gate: str,
    by: str = "",
    note: str = "",
    *,
    now: datetime | None = None,
    key: str | None = None,
    rules: SignerRules | None = None,
) -> Entry:
    """Record a sign-off of `gate` for `run`, signed with `key` when given.

    Refuses unknown gates and broken ledgers (LedgerError), and with ApprovalRefused (exit 2):
    a run file whose evidence no longer matches the digest golive saved, an unsigned sign-off
    where allowed signers are configured, a key or principal not allowed for the gate, and a
    second sign-off by the same signer for the same gate and run.
    """
    from golive.signers import ApprovalRefused, SignerRules, check_entry, sign_entry

    rules = rules or SignerRules()
    by = " ".join(by.split())
    if key is None and not by:
        raise LedgerError("--by must name the person who signs (or sign with --key)")
    if key is None and rules.enabled:
        raise ApprovalRefused(
            f"sign-offs must be signed: approvals.allowed_signers is {rules.allowed_signers}; "
            "sign with --key PATH (your SSH key) instead of --by alone"
        )
    gates = {g.id: g for g in run.gates}
    if gate not in gates:
        known = ", ".join(gates) or "none"
        raise LedgerError(f"run {run.run_id} has no gate {gate!r}; its gates: {known}")
    digest = run_digest(run)
    if run.digest and run.digest != digest:
        raise ApprovalRefused(
            f"run {run.run_id}: its evidence no longer matches the digest golive saved with it "
            f"({run.digest}, now {digest}): the run file was changed; sign an unaltered run"
        )
    path = Path(ledger)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        entries = verified_entries(path)
        at = (
            (now or datetime.now(timezone.utc))
            .astimezone(timezone.utc)
            .isoformat(timespec="seconds")
        )
        record: dict[str, Any] = {
            "v": 1 if key is None else LEDGER_VERSION,
            "seq": len(entries) + 1,
            "gate": gate,
            "by": by,
            "at": at,
            "note": note.strip(),
            "run_id": run.run_id,
            "run_digest": digest,
            "config_digest": run.config_digest,
            "gate_status": gates[gate].status.value,
            "prev": entries[-1].hash if entries else GENESIS,
        }
        if key is not None:
            principal, sig = sign_entry(signed_payload(record), key, rules, gate, by, at)
            record.update(by=principal, principal=principal, sig=sig)
        same = [e for e in entries if e.gate == gate and e.run_digest == digest]
        for e in same:
            if key is None and e.by == record["by"] and not e.sig:
                raise ApprovalRefused(
                    f"{e.by} already signed gate {gate!r} of run {run.run_id} "
                    f"(ledger entry {e.seq}): one sign-off per person and gate"
                )
            if key is not None and e.principal == record["principal"]:
                prior = e.record()
                if check_entry(prior, signed_payload(prior), rules).verified:
                    raise ApprovalRefused(
                        f"{e.principal} already signed gate {gate!r} of run {run.run_id} "
                        f"(ledger entry {e.seq}): a second signature by the same person does "
                        "not count toward the gate's minimum"
                    )
        record["hash"] = entry_hash(record)
        line = json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n"
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        _write_head(path, record["seq"], record["hash"])
    return _entry(record, len(entries) + 1)


def _write_head(path: Path, seq: int, digest: str) -> None:
    from golive.output import write_atomic

    write_atomic(str(head_path(path)), json.dumps({"seq": seq, "hash": digest}) + "\n")
