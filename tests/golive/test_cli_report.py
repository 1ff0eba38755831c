"""`golive run --output ...`, `golive report`, `golive approve` and `golive approvals` end to end:
real runs of generic checks (a real listening socket, real files), real files written."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import xmlschema
import yaml
from golive.reports.json import load
from typer.testing import CliRunner

from golive.cli import app

GATES = [
    "technical",
    "security",
    "infrastructure",
    "monitoring",
    "backup",
    "operations",
    "rollback",
]


@pytest.fixture
def listener() -> Iterator[int]:
    """A real TCP listener on 127.0.0.1 (what the generic port check connects to)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def write_config(
    tmp_path: Path, port: int, *, require_signoff: bool = False, fail: bool = False
) -> Path:
    (tmp_path / "ops").mkdir(exist_ok=True)
    (tmp_path / "ops" / "RUNBOOK.md").write_text("# Runbook\n", encoding="utf-8")
    checks = [
        {
            "id": "operations.runbook_present",
            "uses": "file",
            "title": "The runbook exists",
            "params": {"path": "ops/RUNBOOK.md", "contains": ["# Runbook"]},
        },
        {
            "id": "operations.api_port",
            "uses": "port",
            "title": "The API port accepts connections",
            "params": {"port": port},
        },
    ]
    if fail:
        checks.append(
            {
                "id": "operations.admin_port",
                "uses": "port",
                "severity": "critical",
                "title": "The admin port accepts connections",
                "params": {"port": closed_port(), "timeout": 1},
            }
        )
    cfg = {
        "version": 1,
        "project": "shop",
        "environment": "staging",
        "targets": {"project": {"root": str(tmp_path)}},
        "require_signoff": require_signoff,
        "approvals": {"ledger": "approvals/ledger.jsonl"},
        "sections": {"operations": {"title": "Operations readiness", "checks": checks}},
    }
    path = tmp_path / "golive.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args), env=env)
    return res.exit_code, res.stdout, res.stderr


def test_run_writes_every_format_at_once_and_the_step_summary(
    tmp_path: Path, listener: int
) -> None:
    cfg = write_config(tmp_path, listener)
    out = tmp_path / "reports"
    summary = tmp_path / "step-summary.md"
    summary.write_text("previous step\n", encoding="utf-8")
    specs = [
        f"{fmt}:{out}/golive.{ext}"
        for fmt, ext in [
            ("json", "json"),
            ("html", "html"),
            ("junit", "xml"),
            ("markdown", "md"),
            ("sarif", "sarif"),
            ("prometheus", "prom"),
        ]
    ]
    args = ["run", "-c", str(cfg), "--quiet"]
    for spec in specs:
        args += ["--output", spec]
    code, _, err = invoke(*args, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert code == 0, err
    for spec in specs:
        assert Path(spec.split(":", 1)[1]).stat().st_size > 200, spec
    run = load(str(out / "golive.json"))
    assert {r.id: r.status.value for r in run.results} == {
        "operations.runbook_present": "PASS",
        "operations.api_port": "PASS",
    }
    html = (out / "golive.html").read_text(encoding="utf-8")
    assert "operations.runbook_present" in html and ">GO<" in html
    from importlib.resources import files

    xmlschema.XMLSchema(str(files("golive.reports").joinpath("junit.xsd"))).validate(
        str(out / "golive.xml")
    )
    assert json.loads((out / "golive.sarif").read_text())["version"] == "2.1.0"
    assert 'golive_decision{verdict="GO"} 0' in (out / "golive.prom").read_text()
    step = summary.read_text(encoding="utf-8")
    assert step.startswith("previous step\n## 🟢 golive: **GO** — shop / staging")


def test_report_re_renders_a_saved_run_in_every_format(tmp_path: Path, listener: int) -> None:
    cfg = write_config(tmp_path, listener, fail=True)
    run_file = tmp_path / "run.json"
    code, _, err = invoke("run", "-c", str(cfg), "-q", "-o", f"json:{run_file}")
    assert code == 1, err  # the critical admin port is closed: NO-GO
    for fmt, marker in [
        ("html", "<!DOCTYPE html>"),
        ("junit", "<testsuites"),
        ("markdown", "## 🔴 golive"),
        ("sarif", '"version": "2.1.0"'),
        ("prometheus", "golive_decision"),
        ("json", '"schema_version"'),
        ("console", "golive decision"),
    ]:
        target = tmp_path / "out" / f"r.{fmt}"
        code, _, err = invoke(
            "report", str(run_file), "--format", fmt, "-o", str(target), "-c", str(cfg)
        )
        assert code == 0, err
        assert marker in target.read_text(encoding="utf-8"), fmt
        assert f"wrote {fmt} report: {target} (NO-GO)" in err
    code, stdout, _ = invoke("report", str(run_file), "-f", "markdown", "-c", str(cfg))
    assert code == 0 and stdout.startswith("## 🔴 golive: **NO-GO** — shop / staging")
    code, _, _ = invoke("report", str(run_file), "-f", "junit", "-c", str(cfg), "--exit-code")
    assert code == 1


def test_report_previous_shows_what_changed(tmp_path: Path, listener: int) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    invoke("run", "-c", str(write_config(tmp_path, listener)), "-q", "-o", f"json:{first}")
    invoke(
        "run", "-c", str(write_config(tmp_path, listener, fail=True)), "-q", "-o", f"json:{second}"
    )
    code, stdout, err = invoke("report", str(second), "--previous", str(first), "-f", "html")
    assert code == 0, err
    assert "Since the previous run" in stdout and "operations.admin_port" in stdout
    code, stdout, _ = invoke("report", str(second), "--previous", str(first), "-f", "markdown")
    assert "1 new failures, 0 fixed, 0 still failing, 2 unchanged." in stdout
    code, _, err = invoke("report", str(second), "--previous", str(first), "-f", "junit")
    assert code == 2
    assert (
        err
        == "golive: --previous is not used by the junit format (html and markdown show changes)\n"
    )


def test_report_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    code, _, err = invoke("report", str(bad))
    assert code == 2 and err.startswith(f"golive: {bad}: not valid JSON:")
    code, _, err = invoke("report", str(tmp_path / "missing.json"))
    assert code == 2 and err.startswith(f"golive: {tmp_path / 'missing.json'}: cannot read:")
    bad.write_text(json.dumps({"schema_version": "9.0"}), encoding="utf-8")
    code, _, err = invoke("report", str(bad))
    assert code == 2 and "schema_version 9.0 is not supported" in err
    code, _, err = invoke("report", str(bad), "-f", "pdf")
    assert code == 2 and err.startswith(
        "golive: unknown report format 'pdf'; formats: console, json, html"
    )


def test_approval_workflow_from_conditional_to_go(tmp_path: Path, listener: int) -> None:
    cfg = write_config(tmp_path, listener, require_signoff=True)
    run_file = tmp_path / "run.json"
    code, _, err = invoke("run", "-c", str(cfg), "-q", "-o", f"json:{run_file}")
    assert code == 0, err
    run = load(str(run_file))
    assert run.decision.verdict.value == "CONDITIONAL"
    assert any(
        r.startswith("awaiting sign-off: Technical validation") for r in run.decision.reasons
    )
    code, _, _ = invoke("report", str(run_file), "-c", str(cfg), "-f", "json", "--exit-code")
    assert code == 0  # CONDITIONAL without --strict
    assert invoke("run", "-c", str(cfg), "-q", "--strict")[0] == 1

    code, _, err = invoke(
        "approve", "--gate", "secrity", "--by", "Alice", "--run", str(run_file), "-c", str(cfg)
    )
    assert code == 1
    assert err.startswith(
        f"golive: run {run.run_id} has no gate 'secrity'; its gates: technical, security,"
    )

    for gate in GATES[:-1]:
        code, out, err = invoke(
            "approve",
            "--gate",
            gate,
            "--by",
            "Alice Approver",
            "--note",
            f"{gate} ok",
            "--run",
            str(run_file),
            "-c",
            str(cfg),
        )
        assert code == 0, err
    assert "signed Operations ready (operations) of run" in out
    ledger = tmp_path / "approvals" / "ledger.jsonl"
    assert f"ledger entry 6 in {ledger}" in out

    html_file = tmp_path / "report.html"
    code, _, err = invoke(
        "report", str(run_file), "-c", str(cfg), "-o", str(html_file), "--exit-code"
    )
    assert code == 0 and "(CONDITIONAL)" in err
    assert "awaiting sign-off: Rollback plan" in html_file.read_text(encoding="utf-8")

    code, _, _ = invoke(
        "approve", "--gate", "rollback", "--by", "Bob", "--run", str(run_file), "-c", str(cfg)
    )
    assert code == 0
    code, _, err = invoke(
        "report", str(run_file), "-c", str(cfg), "-o", str(html_file), "--exit-code"
    )
    assert code == 0 and "(GO)" in err
    page = html_file.read_text(encoding="utf-8")
    # no keys are configured: the names count, but every report says they prove nothing
    assert "<strong>Bob</strong> on" in page and "<strong>Alice Approver</strong> on" in page
    assert "Signed by" not in page and page.count('class="unverified-badge">unverified<') == 7
    assert "Awaiting sign-off" not in page

    code, out, _ = invoke("approvals", "verify", "-c", str(cfg))
    assert code == 0 and out.startswith(
        f"{ledger}: 7 entries, hash chain intact, signatures not checked "
        "(no approvals.allowed_signers), head sha256:"
    )
    head = out.rsplit(" ", 1)[1].strip()
    assert invoke("approvals", "verify", "--ledger", str(ledger), "--expect-head", head)[0] == 0
    code, out, _ = invoke("approvals", "list", "-c", str(cfg), "--run", str(run_file))
    assert code == 0 and len(out.splitlines()) == 7 and "rollback" in out and "Bob" in out
    assert out.count(" UNVERIFIED ") == 7

    # an edited entry: verify fails, and no report is rendered from a broken ledger
    text = ledger.read_text(encoding="utf-8").replace('"by": "Bob"', '"by": "Mallory"')
    ledger.write_text(text, encoding="utf-8")
    code, _, err = invoke("approvals", "verify", "-c", str(cfg))
    assert code == 1
    assert f"golive: {ledger}:7: entry 7 (gate 'rollback' by 'Mallory') was edited" in err
    assert f"golive: approval ledger {ledger} FAILED verification (6 entries intact" in err
    code, _, err = invoke("report", str(run_file), "-c", str(cfg), "-o", str(html_file))
    assert code == 1 and "failed verification" in err and "golive approvals verify" in err


def test_signed_approvals_end_to_end_with_keys_and_an_env_file(
    tmp_path: Path, listener: int
) -> None:
    """The two-person rule on the security gate, with real ed25519 and RSA keys, a config that
    needs ${VAR:?} from an env file for every command, and a forger who recomputes hashes."""
    from golive.approvals import entry_hash
    from tests.golive.sshkeys import Keys

    keys = Keys(tmp_path / "keys")
    alice = keys.make("alice@example.com", "ed25519")
    bob = keys.make("bob@example.com", "rsa")
    carol = keys.make("carol@example.com", "ed25519")
    mallory = keys.make("mallory@example.com", "ed25519")
    allowed = keys.allowed(alice, bob, carol)
    cfg = write_config(tmp_path, listener)
    data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    data["approvals"] = {
        "ledger": "approvals/ledger.jsonl",
        "allowed_signers": "${ALLOWED_SIGNERS:?set ALLOWED_SIGNERS in lab.env}",
        "gates": {
            "security": {"signers": [alice.principal, bob.principal], "min": 2},
            "operations": {"signers": [carol.principal]},
        },
    }
    cfg.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    env_file = tmp_path / "lab.env"
    env_file.write_text(f"ALLOWED_SIGNERS={allowed}\n", encoding="utf-8")
    opts = ["-c", str(cfg), "--env-file", str(env_file)]
    run_file = tmp_path / "run.json"
    ledger = tmp_path / "approvals" / "ledger.jsonl"

    code, _, err = invoke("approve", "--gate", "security", "--run", str(run_file), "-c", str(cfg))
    assert code == 2 and "ALLOWED_SIGNERS" in err and "set ALLOWED_SIGNERS in lab.env" in err
    for command in (["list"], ["explain", "port"], ["validate"]):
        code, _, err = invoke(*command, *opts)
        assert code == 0, (command, err)

    code, _, err = invoke("run", *opts, "-q", "-o", f"json:{run_file}")
    assert code == 0, err
    run = load(str(run_file))
    assert run.digest.startswith("sha256:")
    assert run.decision.verdict.value == "CONDITIONAL"
    assert any("Security clearance (2 more of 2 signers)" in r for r in run.decision.reasons)

    def approve(gate: str, *extra: str) -> tuple[int, str, str]:
        return invoke("approve", "--gate", gate, "--run", str(run_file), *opts, *extra)

    code, out, err = approve("security", "--key", str(alice.path), "--note", "pen test read")
    assert code == 0, err
    assert out.startswith(
        f"signed Security clearance (security) of run {run.run_id} as alice@example.com "
        f"with an SSH signature: ledger entry 1 in {ledger}"
    )
    # refusals: exit 2 and a message that says what to do
    code, _, err = approve("security", "--key", str(alice.path))
    assert code == 2 and "alice@example.com already signed gate 'security'" in err
    code, _, err = approve("security", "--key", str(carol.path))
    assert code == 2 and err.startswith(
        "golive: carol@example.com may not sign gate 'security': "
        "approvals.gates.security.signers lists alice@example.com, bob@example.com"
    )
    code, _, err = approve("security", "--key", str(mallory.path))
    assert code == 2 and "is not in the allowed signers" in err
    code, _, err = approve("security", "--by", "Bob")
    assert code == 2 and "sign-offs must be signed" in err and "--key PATH" in err
    doctored = tmp_path / "doctored.json"
    doctored.write_text(
        run_file.read_text(encoding="utf-8").replace('"status": "PASS"', '"status": "WARN"', 1),
        encoding="utf-8",
    )
    code, _, err = invoke(
        "approve", "--gate", "security", "--run", str(doctored), "--key", str(bob.path), *opts
    )
    assert code == 2 and "the run file was changed; sign an unaltered run" in err

    html_file = tmp_path / "report.html"
    code, _, err = invoke("report", str(run_file), *opts, "-o", str(html_file))
    assert code == 0, err
    page = html_file.read_text(encoding="utf-8")
    assert "Signed by <strong>alice@example.com</strong>" in page
    assert "Awaiting sign-off: 1 more verified signature needed" in page

    assert approve("security", "--key", str(bob.path))[0] == 0
    code, out, err = approve("operations", "--key", str(carol.path))
    assert code == 0, err
    code, _, err = invoke(
        "report", str(run_file), *opts, "-f", "json", "-o", str(tmp_path / "r.json")
    )
    assert code == 0, err
    signed = load(str(tmp_path / "r.json"))
    security = next(g for g in signed.gates if g.id == "security")
    assert (list(security.verified_signers), security.needed) == (
        [alice.principal, bob.principal],
        0,
    )
    assert signed.decision.verdict.value == "GO"
    code, out, _ = invoke("approvals", "verify", *opts)
    assert code == 0 and f"{ledger}: 3 entries, hash chain intact, 3 signatures verified" in out
    code, out, _ = invoke("approvals", "list", *opts, "--run", str(run_file))
    assert code == 0 and out.count(" verified   ") == 3

    # a careful forger turns Bob's sign-off into one for another gate and recomputes every
    # hash and the head: the chain passes, the signature does not
    records = [json.loads(line) for line in ledger.read_text(encoding="utf-8").splitlines()]
    records[1]["note"] = "approved without conditions"
    prev = records[0]["hash"]
    for r in records[1:]:
        r["prev"] = prev
        r["hash"] = prev = entry_hash(r)
    ledger.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (tmp_path / "approvals" / "ledger.jsonl.head").write_text(
        json.dumps({"seq": 3, "hash": prev}) + "\n", encoding="utf-8"
    )
    code, out, err = invoke("approvals", "verify", *opts)
    assert code == 1
    assert err.startswith(
        f"golive: {ledger}:2: entry 2 (gate 'security' by 'bob@example.com'): bob@example.com's "
        "signature does not verify: the entry was changed after it was signed"
    )
    code, _, err = invoke("report", str(run_file), *opts, "--exit-code", "-o", str(html_file))
    assert code == 0 and "(CONDITIONAL)" in err  # Bob's signature no longer counts
    page = html_file.read_text(encoding="utf-8")
    assert "Awaiting sign-off: 1 more verified signature needed" in page
    assert "the entry was changed after it was signed" in page
