"""The `golive` command line (Typer). The only place that turns errors into exit codes.

Heavy libraries are imported inside the commands that need them, so `golive --help`
stays fast. Exit codes: 0 GO (or CONDITIONAL without --strict), 1 NO-GO, 2 usage or
configuration error, 3 INCOMPLETE, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from golive import __version__
from golive.cli_options import ConfigOpt, EnvFileOpt
from golive.errors import ConfigError, GoliveError

if TYPE_CHECKING:
    from rich.console import Console

    from golive.config import Config
    from golive.registry import Registry

app = typer.Typer(
    name="golive",
    help=(
        "Decide whether a task-orchestration stack is ready to go live, prove it, keep watching it."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _stderr(no_color: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=True, no_color=no_color or None, highlight=False)


@contextlib.contextmanager
def fatal_errors() -> Iterator[None]:
    """Turn golive's typed errors into a message on stderr and their exit code."""
    try:
        yield
    except ConfigError as exc:
        from golive.redact import Redactor

        mask = Redactor().redact  # a problem may quote a value: URL credentials, password=
        for problem in exc.problems:
            typer.echo(mask(str(problem)), err=True)
        n = len(exc.problems)
        typer.echo(
            f"golive: {n} configuration problem{'s' if n != 1 else ''}; nothing was run", err=True
        )
        raise typer.Exit(2) from None
    except GoliveError as exc:
        from golive.redact import Redactor

        typer.echo(Redactor().redact(f"golive: {exc}"), err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("golive: interrupted", err=True)
        raise typer.Exit(130) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"golive {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """golive: go-live readiness checks, go/no-go reports and post-launch monitoring."""


def load(config: list[str] | None, env_file: list[str] | None) -> tuple[Config, Registry]:
    """Load configuration and the registry (with the config's plugins)."""
    from golive.config import load_config
    from golive.registry import build_registry

    cfg = load_config(config or [], env_files=env_file or [])
    return cfg, build_registry(cfg.plugin_paths)


@app.command()
def run(
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    section: Annotated[
        list[str] | None, typer.Option("--section", "-s", help="Only this section (repeatable).")
    ] = None,
    check: Annotated[
        list[str] | None,
        typer.Option("--check", help="Only this check id or glob (repeatable)."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", help="Only checks with this tag (repeatable)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", "-x", help="Skip checks matching this id or glob."),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on", help="Lowest severity that blocks: critical|high|medium|low|info."
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="CONDITIONAL exits 1 instead of 0.")
    ] = False,
    allow_writes: Annotated[
        bool,
        typer.Option("--allow-writes", help="Run checks that change the target (they clean up)."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", help="Per-check timeout in seconds (overrides defaults.timeout)."
        ),
    ] = None,
    deadline: Annotated[
        float | None,
        typer.Option(
            "--deadline",
            help="Global deadline for the whole run, in seconds (with --wait: for each round).",
        ),
    ] = None,
    wait: Annotated[
        str | None,
        typer.Option(
            "--wait",
            metavar="DURATION",
            help="After a deploy: re-run the checks not passing yet until the exit code is 0 "
            "(GO, or CONDITIONAL without --strict) or DURATION (90s, 5m, 1h, seconds) runs out.",
        ),
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            metavar="S",
            help="With --wait: pause between the end of a round and the next (default 10s).",
        ),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, max=64, help="Checks run at once.")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="What to print on stdout: console, json, markdown, junit, ..."
        ),
    ] = "console",
    output: Annotated[
        list[str] | None,
        typer.Option("--output", "-o", help="Write a report: FORMAT:PATH (repeatable)."),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="Compare performance with a saved baseline file."),
    ] = None,
    previous: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--previous", help="A saved JSON run: html and markdown reports show what changed."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the decision banner.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Tracebacks and details of errors.")
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (NO_COLOR is honoured too).")
    ] = False,
) -> None:
    """Run the checklist against the live stack, print the results, write reports."""
    with fatal_errors():
        code = _run(**locals())
    raise typer.Exit(code)


def _run(
    *,
    config: list[str] | None,
    env_file: list[str] | None,
    section: list[str] | None,
    check: list[str] | None,
    tag: list[str] | None,
    exclude: list[str] | None,
    fail_on: str | None,
    strict: bool,
    allow_writes: bool,
    timeout: float | None,
    deadline: float | None,
    wait: str | None,
    interval: str | None,
    concurrency: int | None,
    fmt: str,
    output: list[str] | None,
    baseline: str | None,
    previous: str | None,
    quiet: bool,
    verbose: bool,
    no_color: bool,
) -> int:
    from dataclasses import replace

    from rich.console import Console

    from golive.engine import Options, execute, make_redactor
    from golive.errors import UsageError
    from golive.models import Severity
    from golive.output import parse_output, render, write_outputs
    from golive.plan import resolve, select
    from golive.reports import get as get_renderer
    from golive.reports.console import LiveProgress, renderables
    from golive.runner import Events

    severity = None
    if fail_on is not None:
        try:
            severity = Severity(fail_on.lower())
        except ValueError:
            raise UsageError(
                f"--fail-on {fail_on!r}: use one of critical, high, medium, low, info"
            ) from None
    wait_s, interval_s = _wait_options(wait, interval)
    specs = [parse_output(o) for o in output or []]
    get_renderer(fmt)
    for s in specs:
        get_renderer(s.format)
    cfg, registry = load(config, env_file)
    if not specs:
        specs = [parse_output(o) for o in cfg.outputs]
    planned = select(
        resolve(cfg, registry),
        registry,
        cfg,
        sections=section or (),
        checks=check or (),
        tags=tag or (),
        exclude=exclude or (),
    )
    if not planned:
        raise UsageError("no checks selected (check --section, --check, --tag and --exclude)")
    if timeout is not None:
        if timeout <= 0:
            raise UsageError("--timeout must be positive")
        planned = [replace(p, timeout=timeout) for p in planned]
    baseline_data = None
    if baseline is not None:
        from golive.baseline import load_baseline

        baseline_data = load_baseline(baseline, cfg)

    previous_run = None
    if previous is not None:
        from golive.reports.json import load as load_run

        previous_run = load_run(previous)
    redactor = make_redactor(cfg)
    out = Console(no_color=no_color or None, highlight=False, soft_wrap=False)
    err = _stderr(no_color)
    options = Options(
        allow_writes=allow_writes,
        verbose=verbose,
        interactive=err.is_terminal,
        concurrency=concurrency,
        deadline=deadline,
        fail_on=severity,
        strict=strict,
        baseline=baseline_data,
        baseline_path=baseline,
        signoffs=_signoffs(cfg),
        selection={
            "sections": section or [],
            "checks": check or [],
            "tags": tag or [],
            "exclude": exclude or [],
        },
        wait=wait_s,
        interval=interval_s,
    )
    with LiveProgress(err, len(planned), enabled=not quiet) as live:
        events = Events(
            started=live.started,
            finished=live.finished,
            progress=live.progress,
            round_started=live.new_round,
            round_finished=None if quiet else _print_round(err, redactor),
        )
        result = execute(cfg, planned, options, redactor, events)
    if fmt == "console":
        for item in renderables(result, verbose=verbose, quiet=quiet, width=out.width):
            out.print(item)
    else:
        text = render(result, fmt, redactor)
        sys.stdout.write(text.decode() if isinstance(text, bytes) else text)
    for spec, problem in write_outputs(result, specs, redactor, previous_run):
        if problem:
            err.print(f"golive: could not write {spec.format} report to {spec.path}: {problem}")
        elif not quiet and fmt == "console":
            err.print(f"wrote {spec.format} report: {spec.path}")
    _step_summary(result, redactor)
    return result.decision.exit_code


def _wait_options(wait: str | None, interval: str | None) -> tuple[float | None, float]:
    """--wait and --interval in seconds; bad values are usage errors (exit 2)."""
    from golive.config import duration_option
    from golive.errors import UsageError

    if wait is None:
        if interval is not None:
            raise UsageError("--interval only applies with --wait DURATION")
        return None, 10.0
    seconds = duration_option("--wait", wait)
    return seconds, 10.0 if interval is None else duration_option("--interval", interval)


def _print_round(err: Console, redactor: Any) -> Any:
    """A callback printing each round of --wait on stderr (stdout may carry a report)."""
    from golive.wait import round_line

    def show(run: Any) -> None:
        err.print(redactor.redact(round_line(run)), markup=False, highlight=False, soft_wrap=True)

    return show


def _signoffs(cfg: Config) -> list[Any]:
    try:
        from golive.signoffs import signoffs_for
    except ImportError:
        return []
    return list(signoffs_for(cfg))


def _step_summary(result: Any, redactor: Any) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    from golive.output import render
    from golive.reports import formats

    if "markdown" not in formats():
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            text = render(result, "markdown", redactor)
            fh.write(text.decode() if isinstance(text, bytes) else text)
    except OSError as exc:
        typer.echo(f"golive: could not append to GITHUB_STEP_SUMMARY: {exc}", err=True)


@app.command("list")
def list_checks(
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List every registered check (built-ins and plugins)."""
    with fatal_errors():
        from golive.registry import build_registry

        if config:
            _, registry = load(config, env_file)
        else:
            registry = build_registry()
        rows: list[dict[str, Any]] = [
            {
                "id": s.id,
                "section": s.section,
                "severity": s.severity.value,
                "needs": list(s.needs),
                "writes": s.writes,
                "title": s.title,
            }
            for s in registry.sorted()
        ]
        generics: list[dict[str, Any]] = [
            {"kind": s.name, "needs": list(s.needs), "title": s.title}
            for s in sorted(registry.generics.values(), key=lambda s: s.name)
        ]
        if as_json:
            import json

            typer.echo(json.dumps({"checks": rows, "generic": generics}, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(rows)} checks")
        for col in ("id", "severity", "needs", "writes", "title"):  # wrapped or folded, never cut
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(
                r["id"],
                r["severity"],
                ", ".join(r["needs"]),
                "yes" if r["writes"] else "",
                r["title"],
            )
        console = Console(highlight=False)
        console.print(table)
        if generics:
            gt = Table(title="generic kinds (use with `uses:` in golive.yaml)")
            gt.add_column("kind", overflow="fold")
            gt.add_column("what it checks", overflow="fold")
            for g in generics:
                gt.add_row(g["kind"], g["title"])
            console.print(gt)


@app.command()
def explain(
    check_id: Annotated[
        str,
        typer.Argument(help="A check id (e.g. database.connections) or generic kind (e.g. http)."),
    ],
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
) -> None:
    """Explain a check: what it proves, its parameters, and how to fix a failure."""
    with fatal_errors():
        from golive.docs import explain_text
        from golive.registry import build_registry

        registry = load(config, env_file)[1] if config else build_registry()
        typer.echo(explain_text(registry, check_id))


@app.command()
def validate(
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    probe: Annotated[
        bool, typer.Option("--probe", help="Also report whether each target answers.")
    ] = False,
) -> None:
    """Validate golive.yaml (and overlays) without running any check."""
    with fatal_errors():
        from golive.plan import resolve

        cfg, registry = load(config, env_file)
        planned = resolve(cfg, registry)
        sections = {p.section for p in planned}
        typer.echo(
            f"{', '.join(cfg.files)}: OK ({len(planned)} checks in {len(sections)} sections)"
        )
        code = 0
        if probe:
            code = _probe_targets(cfg)
    raise typer.Exit(code)


def _probe_targets(cfg: Config) -> int:
    import asyncio

    from golive.api import TARGET_KINDS
    from golive.engine import make_redactor
    from golive.targets import Targets

    redactor = make_redactor(cfg)

    async def probe_all() -> list[tuple[str, str | None]]:
        targets = Targets(cfg, redactor)
        kinds = [k for k in TARGET_KINDS if targets.configured(k)]
        try:
            reasons = await asyncio.gather(*(targets.probe(k) for k in kinds))
        finally:
            await targets.close()
        return list(zip(kinds, reasons, strict=True))

    code = 0
    for kind, reason in asyncio.run(probe_all()):
        if reason is None:
            typer.echo(f"  {kind:<13} reachable")
        else:
            typer.echo(f"  {kind:<13} UNREACHABLE: {reason}")
            code = 3
    return code


@app.command()
def init(
    path: Annotated[
        str, typer.Argument(help="Where to write the starter checklist.")
    ] = "golive.yaml",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter golive.yaml (the full default checklist)."""
    with fatal_errors():
        from importlib.resources import files

        from golive.errors import UsageError

        if os.path.exists(path) and not force:
            raise UsageError(f"{path} already exists; use --force to overwrite it")
        text = files("golive").joinpath("checklist.yaml").read_text(encoding="utf-8")
        from golive.output import write_atomic

        write_atomic(path, text)
        typer.echo(f"wrote {path}; edit its targets, then run `golive validate --probe`")


# Command groups defined in their own modules (each imports nothing heavy at module level).
from golive.cli_baseline import app as _baseline_app  # noqa: E402
from golive.cli_report import register as _register_report_commands  # noqa: E402
from golive.monitor.cli import app as _monitor_app  # noqa: E402

app.add_typer(_baseline_app, name="baseline")
_register_report_commands(app)  # report, approve, approvals
app.add_typer(_monitor_app, name="monitor")


def main() -> None:
    """Console-script entry point."""
    app()
