"""`golive monitor`: watch the stack after go-live (registered in golive/cli.py).

    golive monitor [--every 1h] [--for 24h]     one sample (cron), or a loop with --for
    golive monitor status [--last 10] [--json]  the current verdict and the latest samples
    golive monitor report -o FILE               the HTML timeline
    golive monitor trigger --reason TEXT        a manual rollback trigger (--clear ends it)
    golive monitor install-cron [--every 1h] [--remove]

Exit codes of `monitor`, `status` and `trigger`: 0 SUCCESS, 10 WATCHING, 11 ATTENTION,
12 ROLLBACK; 2 usage or configuration error, 3 the history (or crontab) cannot be read or
written, 130 interrupted. Only typer is imported here: `golive --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from golive.cli_options import ConfigOpt, EnvFileOpt

if TYPE_CHECKING:
    from golive.config import Config
    from golive.monitor.cycle import CycleResult
    from golive.redact import Redactor

app = typer.Typer(
    name="monitor",
    help="Watch the stack after go-live: samples, verdicts (SUCCESS 0, WATCHING 10, "
    "ATTENTION 11, ROLLBACK 12), notifications, rollback.",
    add_completion=False,
    rich_markup_mode=None,
)

HistoryOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--history", help="History file (default: monitor.history in golive.yaml)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _skip_unused_imports() -> None:
    """Keep two imports golive never uses out of a cron run: httpcore imports trio when it
    is installed (golive runs on asyncio), httpx imports its own command line (click, rich,
    pygments). Together about 0.15 s of CPU and 8 MB per sample. Not inside a test runner,
    which may need them for other tests in the same process."""
    if "PYTEST_CURRENT_TEST" in os.environ:
        return
    for name in ("trio", "httpx._main"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def _setup(config: list[str] | None, env_file: list[str] | None) -> tuple[Config, Redactor]:
    # The monitor runs no check: the config alone is enough (no registry, no engine).
    from golive.config import load_config
    from golive.redact import Redactor

    cfg = load_config(config or [], env_files=env_file or [])
    redactor = Redactor()
    redactor.add_all(cfg.secrets)
    return cfg, redactor


def _inherit(
    ctx: typer.Context, config: list[str] | None, env_file: list[str] | None, history: str | None
) -> tuple[list[str] | None, list[str] | None, str | None]:
    """Options given before the sub-command fill in those not given after it."""
    given = ctx.obj if isinstance(ctx.obj, dict) else {}
    return (
        config or given.get("config"),
        env_file or given.get("env_file"),
        history or given.get("history"),
    )


def _duration(option: str, value: str | None) -> float | None:
    from golive.config import duration_option

    return None if value is None else duration_option(option, value)


@app.callback(invoke_without_command=True)
def sample(
    ctx: typer.Context,
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    every: Annotated[
        str | None,
        typer.Option(
            "--every",
            help="Sampling interval (default: monitor.every); with --for, the loop's pace.",
        ),
    ] = None,
    for_: Annotated[
        str | None,
        typer.Option(
            "--for", help="Keep sampling for this long (e.g. 24h) instead of taking one sample."
        ),
    ] = None,
    history: HistoryOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print nothing; the exit code says it.")
    ] = False,
) -> None:
    """Take one sample and decide (for cron), or loop with --every 1h --for 24h."""
    if ctx.invoked_subcommand is not None:
        # `golive monitor -c FILE status` means the same as `golive monitor status -c FILE`
        ctx.obj = {"config": config, "env_file": env_file, "history": history}
        return
    from golive.cli import fatal_errors

    with fatal_errors():
        code = _sample(config, env_file, every, for_, history, as_json, quiet)
    raise typer.Exit(code)


def _sample(
    config: list[str] | None,
    env_file: list[str] | None,
    every: str | None,
    for_: str | None,
    history: str | None,
    as_json: bool,
    quiet: bool,
) -> int:
    import threading
    import time

    from golive.monitor.cycle import run_once

    _skip_unused_imports()
    cfg, redactor = _setup(config, env_file)
    interval = _duration("--every", every) or cfg.monitor.every
    total = _duration("--for", for_)
    stop = threading.Event()
    restore = _on_sigterm(stop)
    try:
        start = time.monotonic()
        n = 0
        while True:
            result = run_once(cfg, redactor, interval=interval, history_path=history)
            if not quiet:
                _print_result(result, as_json, redactor)
            n += 1
            if total is None or (n * interval) > total + 1e-6:
                break
            if stop.wait(max(0.0, start + n * interval - time.monotonic())):
                typer.echo("golive monitor: stopped", err=True)
                return 130
    finally:
        restore()
    return result.evaluation.verdict.exit_code


def _on_sigterm(stop: Any) -> Any:
    import signal

    try:
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    except ValueError:  # not the main thread
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, previous)


def _print_result(result: CycleResult, as_json: bool, redactor: Redactor) -> None:
    import json
    from dataclasses import asdict

    ev = result.evaluation
    if as_json:
        doc = {
            "evaluation": ev.to_json(),
            "previous": result.previous,
            "decided": result.decided,
            "sample": result.sample.to_json() if result.sample else None,
            "notifications": [asdict(d) for d in result.deliveries],
            "rollback": dict(result.rollback) if result.rollback else None,
            "messages": list(result.messages),
        }
        typer.echo(redactor.redact(json.dumps(doc, default=str)))
        return
    from golive.monitor.criteria import fmt_time

    s = result.sample
    head = f"{fmt_time(ev.at)} {ev.verdict.value} (exit {ev.verdict.exit_code})"
    if result.changed and result.previous:
        head += f", was {result.previous}"
    lines = [head]
    if s is not None:
        api = {True: "up", False: "DOWN", None: "not probed"}[s.api_ok]
        p95 = "-" if s.latency_p95_ms is None else f"{s.latency_p95_ms:.1f} ms"
        rate = "-" if s.error_rate is None else f"{s.error_rate:.2%}"
        lines.append(
            f"  sample: API {api}, p95 {p95}, error rate {rate}, tasks/h {s.tasks_last_hour}, "
            f"alerts {s.firing_alerts}, DB connections {s.db_connections}"
        )
    lines += [f"  - {r}" for r in ev.reasons]
    for d in result.deliveries:
        what = "delivered" if d.ok else f"FAILED ({d.error}); retried by the next run"
        lines.append(f"  notify {d.notifier}: {d.kind} {d.verdict} {what}")
    if result.rollback:
        lines.append(f"  rollback command exited {result.rollback.get('exit_code')}")
    lines += [f"  {m}" for m in result.messages]
    typer.echo(redactor.redact("\n".join(lines)))


@app.command()
def status(
    ctx: typer.Context,
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    history: HistoryOpt = None,
    last: Annotated[
        int, typer.Option("--last", "-n", min=0, help="How many recent samples to show.")
    ] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Print the current verdict (evaluated now) and the latest samples; exit with its code."""
    from golive.cli import fatal_errors

    config, env_file, history = _inherit(ctx, config, env_file, history)
    with fatal_errors():
        code = _status(config, env_file, history, last, as_json)
    raise typer.Exit(code)


def _status(
    config: list[str] | None,
    env_file: list[str] | None,
    history: str | None,
    last: int,
    as_json: bool,
) -> int:
    import json
    import time

    from golive.monitor.criteria import evaluate, fmt_time
    from golive.monitor.cycle import LOOKBACK
    from golive.monitor.history import History

    cfg, redactor = _setup(config, env_file)
    m = cfg.monitor
    with History.open(history or m.history, lock_timeout=m.lock_timeout, create=False) as h:
        samples = h.samples(last=LOOKBACK)
        events = h.events()
        state = {k: h.get_state(k) for k in ("verdict", "rollback")}
    ev = evaluate(
        samples, [e for e in events if e.kind in ("trigger", "clear")], time.time(), m.criteria
    )
    recent = samples[-last:] if last else []
    if as_json:
        doc = {
            "evaluation": ev.to_json(),
            "recorded_verdict": state["verdict"],
            "rollback": state["rollback"],
            "samples": [s.to_json() for s in recent],
            "events": [
                {"seq": e.seq, "ts": e.ts, "kind": e.kind, "detail": e.detail} for e in events[-50:]
            ],
        }
        typer.echo(redactor.redact(json.dumps(doc, default=str)))
        return ev.verdict.exit_code
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False, soft_wrap=True)
    colour = {"SUCCESS": "green", "WATCHING": "blue", "ATTENTION": "yellow", "ROLLBACK": "red"}[
        ev.verdict.value
    ]
    out.print(
        f"[bold {colour}]{ev.verdict.value}[/] (exit {ev.verdict.exit_code}) at {fmt_time(ev.at)}"
        f" — {len(samples)} samples in {redactor.redact(str(h.path))}"
    )
    for r in ev.reasons:
        out.print(f"  - {redactor.redact(r)}", markup=False)
    for n in ev.notes:
        out.print(f"  note: {redactor.redact(n)}", markup=False)
    rb = state["rollback"]
    if rb:
        out.print(
            f"  rollback command {redactor.redact(str(rb.get('command')))}: {rb.get('status')}"
            f", exit code {rb.get('exit_code')}",
            markup=False,
        )
    if recent:
        table = Table(title=f"last {len(recent)} samples")
        for col in (
            "time (UTC)",
            "API",
            "p95 ms",
            "vs base",
            "error rate",
            "DB",
            "tasks/h",
            "alerts",
            "not measured",
        ):
            table.add_column(col)
        for s in reversed(recent):
            table.add_row(
                fmt_time(s.ts),
                {True: "up", False: "DOWN", None: "-"}[s.api_ok],
                "-" if s.latency_p95_ms is None else f"{s.latency_p95_ms:.1f}",
                "-" if s.perf_ratio is None else f"{s.perf_ratio - 1:+.0%}",
                "-" if s.error_rate is None else f"{s.error_rate:.2%}",
                str(s.db_connections if s.db_connections is not None else "-"),
                str(s.tasks_last_hour if s.tasks_last_hour is not None else "-"),
                "-"
                if s.firing_alerts is None
                else f"{s.firing_alerts} ({s.critical_alerts or 0} crit)",
                redactor.redact(", ".join(sorted(s.problems))) or "",
            )
        out.print(table)
    return ev.verdict.exit_code


@app.command()
def report(
    ctx: typer.Context,
    output: Annotated[
        str, typer.Option("--output", "-o", help="Where to write the HTML timeline.")
    ],
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    history: HistoryOpt = None,
) -> None:
    """Write the HTML timeline (latency, error rate, tasks/h, alerts) with the criteria drawn."""
    from golive.cli import fatal_errors

    config, env_file, history = _inherit(ctx, config, env_file, history)
    with fatal_errors():
        import time

        from golive.monitor.criteria import evaluate
        from golive.monitor.cycle import LOOKBACK
        from golive.monitor.history import History
        from golive.monitor.report import build_view, render
        from golive.output import write_atomic

        cfg, redactor = _setup(config, env_file)
        m = cfg.monitor
        with History.open(history or m.history, lock_timeout=m.lock_timeout, create=False) as h:
            samples = h.samples(last=LOOKBACK)
            events = h.events()
            rollback = h.get_state("rollback")
            path = str(h.path)
        now = time.time()
        ev = evaluate(
            samples, [e for e in events if e.kind in ("trigger", "clear")], now, m.criteria
        )
        view = build_view(
            project=cfg.project,
            environment=cfg.environment,
            history=path,
            samples=samples,
            events=events,
            evaluation=ev,
            criteria=m.criteria,
            rollback=rollback,
            generated_at=now,
        )
        write_atomic(output, redactor.redact(render(redactor.redact_obj(view))))
        typer.echo(
            f"wrote the monitor timeline ({len(samples)} samples, "
            f"verdict {ev.verdict.value}): {output}"
        )


@app.command()
def trigger(
    ctx: typer.Context,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why (shown in notifications and the report).")
    ],
    clear: Annotated[
        bool, typer.Option("--clear", help="End the active manual trigger instead.")
    ] = False,
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    history: HistoryOpt = None,
) -> None:
    """Record a manual rollback trigger (e.g. a confirmed security breach); decide and notify."""
    from golive.cli import fatal_errors

    config, env_file, history = _inherit(ctx, config, env_file, history)
    with fatal_errors():
        from golive.errors import UsageError
        from golive.monitor.cycle import record_trigger

        if not reason.strip():
            raise UsageError("--reason must say why")
        cfg, redactor = _setup(config, env_file)
        result = record_trigger(cfg, redactor, reason.strip(), clear=clear, history_path=history)
        _print_result(result, False, redactor)
    raise typer.Exit(result.evaluation.verdict.exit_code)


@app.command("install-cron")
def install_cron(
    ctx: typer.Context,
    every: Annotated[
        str | None,
        typer.Option(
            "--every", help="How often cron runs `golive monitor` (default: monitor.every)."
        ),
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the entry instead.")] = False,
    config: ConfigOpt = None,
    env_file: EnvFileOpt = None,
    log: Annotated[
        str | None,
        typer.Option("--log", help="Where cron appends the output (default: next to the history)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the new crontab; change nothing.")
    ] = False,
) -> None:
    """Add, update or remove this configuration's crontab entry (idempotent).

    Before installing, the entry's command runs once as cron runs it (/bin/sh -c,
    PATH=/usr/bin:/bin): that takes the first sample; when it fails, nothing is
    installed (exit 3).
    """
    from golive.cli import fatal_errors

    config, env_file, _ = _inherit(ctx, config, env_file, None)
    with fatal_errors():
        _install_cron(every, remove, config, env_file, log, dry_run)


def _install_cron(
    every: str | None,
    remove: bool,
    config: list[str] | None,
    env_file: list[str] | None,
    log: str | None,
    dry_run: bool,
) -> None:
    import os
    import sys

    from golive.config import DEFAULT_CONFIG
    from golive.monitor import cron

    cfg, _ = _setup(config, env_file)
    paths = [os.path.abspath(p) for p in (config or [DEFAULT_CONFIG])]
    key = cron.entry_key(paths)
    line = None
    if not remove:
        interval = _duration("--every", every) or cfg.monitor.every
        argv = [sys.executable, "-m", "golive", "monitor", "--every", f"{int(interval)}s"]
        for p in paths:
            argv += ["-c", p]
        for e in env_file or []:
            argv += ["--env-file", os.path.abspath(e)]
        logfile = os.path.abspath(
            log or f"{os.path.splitext(os.path.abspath(cfg.monitor.history))[0]}.cron.log"
        )
        line = cron.entry(cron.schedule(interval, key), argv, os.getcwd(), logfile, key)
    change = cron.apply(cron.read(), line, key)
    if dry_run:
        typer.echo(change.after, nl=False)
        return
    checked = ""
    if line is not None:
        checked = _try_entry(line, logfile, os.path.abspath(cfg.monitor.history))
    if change.after != change.before:
        cron.write(change.after)
    typer.echo(f"crontab entry {change.action}" + (f": {line}" if line else ""))
    if checked:
        typer.echo(checked)


def _try_entry(line: str, logfile: str, history: str) -> str:
    """Create what the entry writes to, run its command once as cron would; raise when it fails."""
    import os

    from golive.monitor import cron
    from golive.monitor.model import EXIT_CODES, Verdict

    for directory in {os.path.dirname(logfile), os.path.dirname(history)}:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise cron.CrontabError(f"cannot create {directory} for the entry: {exc}") from None
    verdicts = {code: verdict for verdict, code in EXIT_CODES.items()}
    done = cron.trial(line)
    verdict: Verdict | None = verdicts.get(done.exit_code)
    if verdict is None:
        tail = ""
        try:
            with open(logfile, encoding="utf-8", errors="replace") as fh:
                tail = " | ".join(fh.read()[-2000:].strip().splitlines()[-5:])
        except OSError:
            pass
        said = "; ".join(s for s in (done.stderr, tail and f"{logfile}: {tail}") if s)
        raise cron.CrontabError(
            f"the entry's command failed when run as cron runs it (/bin/sh -c, "
            f"PATH={cron.CRON_PATH}, no variables of this shell): exit {done.exit_code}"
            + (f": {said}" if said else "")
            + "; the crontab was not changed (pass the ${VAR}s golive.yaml needs with --env-file)"
        )
    return (
        f"checked: the entry's command ran as cron runs it: {verdict.value} "
        f"(exit {done.exit_code}), first sample in {history}"
    )
