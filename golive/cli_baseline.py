"""`golive baseline save`: run the performance checks and store what they measured.

Registered in golive/cli.py as the `baseline` sub-command group. Only typer is imported at
module level (golive --help stays fast); golive.cli is imported inside the command because
golive.cli imports this module.
"""

from __future__ import annotations

from typing import Annotated

import typer

from golive.cli_options import ConfigOpt, EnvFileOpt

app = typer.Typer(
    name="baseline",
    help="Performance baselines that `golive run --baseline FILE` compares with.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.command("save")
def save(
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Baseline file (default: baseline.file in golive.yaml)."
        ),
    ] = None,
    check: Annotated[
        list[str] | None,
        typer.Option("--check", help="Only this performance check id or glob (repeatable)."),
    ] = None,
    allow_writes: Annotated[
        bool,
        typer.Option("--allow-writes", help="Include checks that write (task throughput)."),
    ] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Per-check timeout in seconds.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the result line.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours.")] = False,
) -> None:
    """Run the performance checks and save their measured values and raw latency samples."""
    from golive.cli import fatal_errors

    with fatal_errors():
        code = _save(config, env_file, output, check, allow_writes, timeout, quiet, no_color)
    raise typer.Exit(code)


def _save(
    config: list[str] | None,
    env_file: list[str] | None,
    output: str | None,
    check: list[str] | None,
    allow_writes: bool,
    timeout: float | None,
    quiet: bool,
    no_color: bool,
) -> int:
    from dataclasses import replace

    from rich.console import Console
    from rich.table import Table

    from golive.baseline import build, save
    from golive.cli import load
    from golive.engine import Options, execute, make_redactor
    from golive.errors import TargetUnavailable, UsageError
    from golive.models import Status
    from golive.plan import resolve, select
    from golive.reports.console import LiveProgress
    from golive.runner import Events

    cfg, registry = load(config, env_file)
    path = output or cfg.baseline.file
    planned = select(
        resolve(cfg, registry), registry, cfg, sections=["performance"], checks=check or ()
    )
    if not planned:
        raise UsageError(
            "no performance checks selected (see the performance section of golive.yaml)"
        )
    if timeout is not None:
        if timeout <= 0:
            raise UsageError("--timeout must be positive")
        planned = [replace(p, timeout=timeout) for p in planned]
    redactor = make_redactor(cfg)
    err = Console(stderr=True, no_color=no_color or None, highlight=False)
    options = Options(
        allow_writes=allow_writes,
        interactive=err.is_terminal,
        selection={"sections": ["performance"], "checks": check or []},
    )
    with LiveProgress(err, len(planned), enabled=not quiet) as live:
        events = Events(started=live.started, finished=live.finished, progress=live.progress)
        run = execute(cfg, planned, options, redactor, events)
    if run.interrupted:
        raise KeyboardInterrupt
    doc = build(run, planned, redactor)
    out = Console(no_color=no_color or None, highlight=False)
    if not quiet:
        table = Table(title="performance baseline", title_justify="left")
        for col in ("status", "check", "summary", "saved"):
            table.add_column(col)
        for r in run.results:
            saved = r.id in doc["checks"]
            table.add_row(
                r.status.value, r.id, redactor.redact(r.summary), "yes" if saved else "no"
            )
        out.print(table)
    if not doc["checks"]:
        raise TargetUnavailable("no performance check measured anything; no baseline written")
    save(doc, path)
    failing = [r.id for r in run.results if r.status is Status.FAIL and r.id in doc["checks"]]
    if failing:
        err.print(f"golive: note: {', '.join(failing)} failed; the baseline records that state")
    n_samples = sum(len(v) for e in doc["checks"].values() for v in e["samples"].values())
    out.print(f"wrote baseline {path}: {len(doc['checks'])} checks, {n_samples} latency samples")
    return 0
