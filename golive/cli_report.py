"""Commands for saved runs: `golive report`, `golive approve` and `golive approvals verify|list`.

Registered on the main Typer app by `register(app)`. Nothing heavy is imported at module
level (golive.cli itself is imported inside the commands, so either module may load first).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from golive.config import Config
    from golive.redact import Redactor

ConfigOpt = Annotated[
    Optional[list[str]],  # noqa: UP045 - Typer needs Optional on Python 3.10
    typer.Option(
        "--config",
        "-c",
        help="golive.yaml (for the approval ledger and secrets); default ./golive.yaml if present.",
    ),
]
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


def _config(config: list[str] | None, *, required: bool) -> Config | None:
    """The configuration given with -c, else ./golive.yaml when it exists (or is required)."""
    from golive.config import DEFAULT_CONFIG, load_config

    if config:
        return load_config(config)
    if required or os.path.exists(DEFAULT_CONFIG):
        return load_config([DEFAULT_CONFIG])
    return None


def _ledger(ledger: str | None, config: list[str] | None) -> str:
    if ledger:
        return ledger
    from golive.approvals import ledger_path

    cfg = _config(config, required=True)
    assert cfg is not None
    return ledger_path(cfg)


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
        from golive.approvals import apply_signoffs, signoffs_in
        from golive.output import write_atomic
        from golive.reports import get
        from golive.reports.json import load

        get(fmt)
        run = load(run_file)
        prev = load(previous) if previous else None
        cfg = _config(config, required=False)
        path = ledger or (cfg.approvals.ledger if cfg is not None else None)
        if path and os.path.exists(path):
            run = apply_signoffs(run, signoffs_in(path, run))
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
    by: Annotated[str, typer.Option("--by", help="Who signs (name or e-mail).")],
    run_file: Annotated[
        str, typer.Option("--run", metavar="RUN.json", help="The saved run being approved.")
    ],
    note: Annotated[
        str, typer.Option("--note", help="What was reviewed, conditions accepted.")
    ] = "",
    config: ConfigOpt = None,
    ledger: LedgerOpt = None,
) -> None:
    """Sign an approval gate of a saved run: appends a hash-chained entry to the ledger."""
    from golive.cli import fatal_errors

    with fatal_errors():
        from golive.approvals import append, gate_status_warning, verify
        from golive.reports.json import load

        run = load(run_file)
        path = _ledger(ledger, config)
        entry = append(path, run, gate, by, note)
        title = next((g.title for g in run.gates if g.id == gate), gate)
        typer.echo(
            f"signed {title} ({gate}) of run {run.run_id} as {entry.by}: "
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
    ledger: LedgerOpt = None,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="Fail unless the ledger ends at this entry hash (recorded elsewhere).",
        ),
    ] = None,
) -> None:
    """Check the ledger's hash chain and head: exit 1 if an entry was edited or removed."""
    from golive.cli import fatal_errors

    with fatal_errors():
        from golive.approvals import verify

        path = _ledger(ledger, config)
        result = verify(path, expect_head=expect_head)
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
        typer.echo(
            f"{path}: {n} entr{'y' if n == 1 else 'ies'}, hash chain intact, head {result.head}"
        )


@approvals_app.command("list")
def approvals_list(
    config: ConfigOpt = None,
    ledger: LedgerOpt = None,
    run_file: Annotated[
        str | None,
        typer.Option("--run", metavar="RUN.json", help="Only the sign-offs of this run."),
    ] = None,
) -> None:
    """List the sign-offs of a verified ledger (optionally of one run)."""
    from golive.cli import fatal_errors

    with fatal_errors():
        from golive.approvals import run_digest, verified_entries
        from golive.reports.json import load

        path = _ledger(ledger, config)
        entries = verified_entries(path)
        if run_file:
            digest = run_digest(load(run_file))
            entries = [e for e in entries if e.run_digest == digest]
        if not entries:
            typer.echo("no sign-offs recorded" + (" for this run" if run_file else ""))
            return
        for e in entries:
            note = f'  "{e.note}"' if e.note else ""
            typer.echo(
                f"{e.seq:>4}  {e.at}  {e.gate:<15} {e.by}  run {e.run_id} ({e.gate_status}){note}"
            )
