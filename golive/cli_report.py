"""Commands for saved runs: `golive report`, `golive approve` and `golive approvals verify|list`.

Registered on the main Typer app by `register(app)`. Nothing heavy is imported at module
level (golive.cli itself is imported inside the commands, so either module may load first).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from golive.cli_options import ConfigOpt, EnvFileOpt

if TYPE_CHECKING:
    from golive.config import Config
    from golive.redact import Redactor

LedgerOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--ledger", help="Approval ledger (JSON lines); default: approvals.ledger of golive.yaml."
    ),
]

approvals_app = typer.Typer(
    name="approvals",
    help="Inspect and verify the approval ledger.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    """Add `report`, `approve` and `approvals` to the golive command line."""
    app.command("report")(report)
    app.command("approve")(approve)
    app.add_typer(approvals_app, name="approvals")


def _ledger(ledger: str | None, cfg: Config | None) -> str:
    if ledger:
        return ledger
    from golive.errors import UsageError
    from golive.signoffs import ledger_path

    if cfg is None:
        raise UsageError("no approval ledger: give --ledger, or -c golive.yaml")
    return ledger_path(cfg)


def _read(
    config: list[str] | None, env_file: list[str] | None, ledger: str | None
) -> Config | None:
    """The configuration (required unless --ledger names the ledger)."""
    from golive.cli_options import read_config

    return read_config(config, env_file, required=ledger is None)


def _redactor(cfg: Config | None) -> Redactor:
    from golive.engine import make_redactor
    from golive.redact import Redactor

    return make_redactor(cfg) if cfg is not None else Redactor()


def report(
    run_file: Annotated[
        str, typer.Argument(metavar="RUN.json", help="A run saved with --output json:PATH.")
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="html, junit, markdown, sarif, prometheus, json, console."
        ),
    ] = "html",
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Where to write the report (default: stdout)."),
    ] = None,
    previous: Annotated[
        str | None,
        typer.Option(
            "--previous",
            metavar="RUN.json",
            help="Show what changed since this earlier run (html, markdown).",
        ),
    ] = None,
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    ledger: LedgerOpt = None,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code",
            help="Exit with the run's decision code (0 GO, 1 NO-GO, 3 INCOMPLETE) after sign-offs.",
        ),
    ] = False,
) -> None:
    """Re-render a saved run in any format, with the sign-offs recorded for it (no target is
    contacted)."""
    from golive.cli import fatal_errors

    with fatal_errors():
        from golive.cli_options import read_config
        from golive.output import write_atomic
        from golive.reports import get
        from golive.reports.json import load
        from golive.signers import policy, rules_from_config
        from golive.signoffs import apply_signoffs, signoffs_in

        get(fmt)
        run = load(run_file)
        prev = load(previous) if previous else None
        cfg = read_config(config, env_file, required=False)
        path = ledger or (cfg.approvals.ledger if cfg is not None else None)
        if path and os.path.exists(path):
            rules = rules_from_config(cfg) if cfg is not None else None
            run = apply_signoffs(
                run,
                signoffs_in(path, run, rules),
                policy(rules, bool(run.settings.get("require_signoff"))) if rules else None,
                keep_recorded=rules is None or not rules.enabled,
            )
        from golive.output import render

        text = render(run, fmt, _redactor(cfg), prev)
        if output:
            write_atomic(output, text)
            typer.echo(f"wrote {fmt} report: {output} ({run.decision.verdict.value})", err=True)
        else:
            sys.stdout.write(text.decode("utf-8") if isinstance(text, bytes) else text)
    if exit_code:
        raise typer.Exit(run.decision.exit_code)


def approve(
    gate: Annotated[
        str,
        typer.Option(
            "--gate",
            help="The gate to sign: technical, security, infrastructure, monitoring, backup, "
            "operations, rollback (or a gate of golive.yaml).",
        ),
    ],
    run_file: Annotated[
        str, typer.Option("--run", metavar="RUN.json", help="The saved run being approved.")
    ],
    key: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--key",
            metavar="PATH",
            help="Your SSH key (private, or public with the private key in ssh-agent): signs "
            "the sign-off; your name comes from approvals.allowed_signers.",
        ),
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="Who signs (name or e-mail). Alone, only where no allowed signers are "
            "configured, and shown as unverified; with --key, picks one of the key's principals.",
        ),
    ] = "",
    note: Annotated[
        str, typer.Option("--note", help="What was reviewed, conditions accepted.")
    ] = "",
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    ledger: LedgerOpt = None,
) -> None:
    """Sign an approval gate of a saved run: appends a (signed) hash-chained ledger entry."""
    from golive.cli import fatal_errors

    with fatal_errors():
        from golive.approvals import append, verify
        from golive.reports.json import load
        from golive.signers import rules_from_config
        from golive.signoffs import gate_status_warning

        cfg = _read(config, env_file, ledger)
        run = load(run_file)
        path = _ledger(ledger, cfg)
        rules = rules_from_config(cfg)
        entry = append(path, run, gate, by, note, key=key, rules=rules)
        title = next((g.title for g in run.gates if g.id == gate), gate)
        how = "with an SSH signature" if entry.sig else "UNVERIFIED (no key)"
        typer.echo(
            f"signed {title} ({gate}) of run {run.run_id} as {entry.by} {how}: "
            f"ledger entry {entry.seq} in {path}"
        )
        typer.echo(f"run digest {entry.run_digest}")
        typer.echo(f"ledger head {verify(path).head}")
        warning = gate_status_warning(run, gate)
        if warning:
            typer.echo(f"golive: warning: {warning}", err=True)


@approvals_app.command("verify")
def approvals_verify(
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    ledger: LedgerOpt = None,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="Fail unless the ledger ends at this entry hash (recorded elsewhere).",
        ),
    ] = None,
) -> None:
    """Check the ledger's hash chain, head and every signature against the allowed signers:
    exit 1 naming the first entry that was edited, removed, reordered or badly signed."""
    from golive.cli import fatal_errors

    with fatal_errors():
        from golive.approvals import verify
        from golive.signers import rules_from_config

        cfg = _read(config, env_file, ledger)
        path = _ledger(ledger, cfg)
        rules = rules_from_config(cfg)
        result = verify(path, expect_head=expect_head, rules=rules)
        if not result.ok:
            for problem in result.problems:
                typer.echo(f"golive: {problem}", err=True)
            typer.echo(
                f"golive: approval ledger {path} FAILED verification "
                f"({len(result.entries)} entries intact before the first problem)",
                err=True,
            )
            raise typer.Exit(1)
        n = len(result.entries)
        signed = sum(1 for e in result.entries if e.sig)
        if result.signatures_checked:
            sigs = f"{signed} signature{'s' if signed != 1 else ''} verified"
            unsigned = n - signed
            if unsigned:
                sigs += f", {unsigned} unsigned (older, never counted)"
        else:
            sigs = "signatures not checked (no approvals.allowed_signers)"
        typer.echo(
            f"{path}: {n} entr{'y' if n == 1 else 'ies'}, hash chain intact, {sigs}, "
            f"head {result.head}"
        )


@approvals_app.command("list")
def approvals_list(
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    ledger: LedgerOpt = None,
    run_file: Annotated[
        str | None,
        typer.Option("--run", metavar="RUN.json", help="Only the sign-offs of this run."),
    ] = None,
) -> None:
    """List the sign-offs of a chain-intact ledger (optionally of one run), each marked
    verified (signed by a trusted key) or unverified."""
    from golive.cli import fatal_errors

    with fatal_errors():
        from golive.approvals import run_digest, signed_payload, verified_entries
        from golive.reports.json import load
        from golive.signers import check_entry, rules_from_config

        cfg = _read(config, env_file, ledger)
        path = _ledger(ledger, cfg)
        rules = rules_from_config(cfg)
        entries = verified_entries(path)
        if run_file:
            digest = run_digest(load(run_file))
            entries = [e for e in entries if e.run_digest == digest]
        if not entries:
            typer.echo("no sign-offs recorded" + (" for this run" if run_file else ""))
            return
        for e in entries:
            note = f'  "{e.note}"' if e.note else ""
            record = e.record()
            check = check_entry(record, signed_payload(record), rules)
            mark = "verified  " if check.verified else "UNVERIFIED"
            typer.echo(
                f"{e.seq:>4}  {e.at}  {e.gate:<15} {mark} {e.by}  run {e.run_id} "
                f"({e.gate_status}){note}"
            )
            if not check.verified and rules.enabled:
                typer.echo(f"      {check.problem}")
