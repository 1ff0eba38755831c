"""Putting a run together: targets, runner, decision, gates -> a `Run`.

The CLI, `golive baseline save` and `golive monitor` all execute checks through `execute`.
Signals (SIGINT, SIGTERM) set the runner's stop event: running checks are cancelled, the
results so far are kept, and the run is marked interrupted.

Blocking SDK calls (`asyncio.to_thread`: Docker, prometheus-api-client, file reads) run in
daemon threads that nobody waits for once the run is over: a call stuck on a silent target
lasts until its own socket timeout, and with asyncio's standard pool `asyncio.run` and the
interpreter's exit would wait for it, so golive would outlive its deadline by that much.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from golive import __version__, sideeffects
from golive.api import RunSettings
from golive.config import Config
from golive.decision import decide, gate_results, gates_from_config
from golive.models import CheckResult, Run, Severity, SideEffect, SignOff
from golive.plan import Planned
from golive.redact import Redactor
from golive.registry import SECTION_ORDER
from golive.runner import Events, Runner
from golive.targets import Targets


@dataclass
class Options:
    """How to run: the command line's choices after defaults are applied."""

    allow_writes: bool = False
    verbose: bool = False
    interactive: bool = False
    concurrency: int | None = None
    deadline: float | None = None
    fail_on: Severity | None = None
    strict: bool = False
    baseline: Mapping[str, Any] | None = None
    baseline_path: str | None = None
    signoffs: Sequence[SignOff] = ()
    selection: dict[str, Any] = field(default_factory=dict)
    wait: float | None = None  # --wait: re-run what is not passing for up to this many seconds
    interval: float = 10.0  # --interval: pause between rounds of --wait


def new_run_id() -> str:
    """A short unique id, sortable by time: yyyymmddThhmmss-xxxxxx."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def make_redactor(config: Config) -> Redactor:
    """A redactor preloaded with every secret the configuration holds."""
    redactor = Redactor()
    redactor.add_all(config.secrets)
    return redactor


def execute(
    config: Config,
    planned: list[Planned],
    options: Options,
    redactor: Redactor,
    events: Events | None = None,
) -> Run:
    """Run the planned checks and return the complete run (interrupted or not)."""

    async def main() -> Run:
        asyncio.get_running_loop().set_default_executor(AbandoningExecutor())
        try:
            return await execute_async(config, planned, options, redactor, events)
        finally:
            await close_stray_subprocesses()

    return asyncio.run(main())


async def close_stray_subprocesses(wait: float = 1.0) -> int:
    """Kill the programs that checks started and left running, and close their transports.

    A check (often a plugin) that runs a program with asyncio and does not handle its own
    cancellation leaves the program running when its timeout or Ctrl-C cancels it, and its
    transport is then closed by the garbage collector after the event loop, which prints
    "Event loop is closed". Nothing may outlive the run: while the loop still runs, every
    subprocess transport still open is closed (which kills a live child) and the children
    are reaped for up to `wait` seconds. Returns how many were closed.
    """
    import gc
    from asyncio.base_subprocess import BaseSubprocessTransport

    stray = [
        o for o in gc.get_objects() if isinstance(o, BaseSubprocessTransport) and not o.is_closing()
    ]
    for transport in stray:
        transport.close()
    for _ in range(max(1, int(wait / 0.01))):
        if all(t.get_returncode() is not None for t in stray):
            break
        await asyncio.sleep(0.01)
    return len(stray)


class AbandoningExecutor(ThreadPoolExecutor):
    """Runs each blocking call in its own daemon thread; shutting down never waits for one.

    A ThreadPoolExecutor only because asyncio's `set_default_executor` requires one; none of
    the pool machinery is used. A call still running at shutdown is abandoned (it ends with
    its own timeout, or with the process).
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Start `fn(*args, **kwargs)` in a new daemon thread."""
        future: Future[Any] = Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=work, name="golive-blocking-call", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Return at once: threads still blocked on a dead target are left to die."""


async def execute_async(
    config: Config,
    planned: list[Planned],
    options: Options,
    redactor: Redactor,
    events: Events | None = None,
) -> Run:
    """The async body of `execute`."""
    if options.wait is not None:
        from golive.wait import run_until_go

        return await run_until_go(config, planned, options, redactor, events or Events())
    begun = begin(options)
    with stop_on_signals(begun.stop):
        results, targets = await run_round(config, planned, options, redactor, begun, events)
    return begun.assemble(config, results, options, targets, interrupted=begun.stop.is_set())


@dataclass
class Begun:
    """What every round of a run shares: its id, start, settings and stop event."""

    run_id: str
    started: datetime
    t0: float  # time.monotonic() at the start
    settings: RunSettings
    stop: asyncio.Event
    side_effects: list[SideEffect] = field(default_factory=list)  # of every round so far

    def assemble(
        self,
        config: Config,
        results: list[CheckResult],
        options: Options,
        targets: dict[str, str],
        *,
        interrupted: bool,
    ) -> Run:
        """The run so far: `assemble` with this run's id, start and duration until now."""
        return assemble(
            config,
            results,
            options,
            run_id=self.run_id,
            started=self.started,
            duration=time.monotonic() - self.t0,
            interrupted=interrupted,
            targets=targets,
            side_effects=self.side_effects,
        )


def begin(options: Options) -> Begun:
    """Start a run: a new run id, the start time, the settings checks see."""
    run_id = new_run_id()
    settings = RunSettings(
        run_id=run_id,
        allow_writes=options.allow_writes,
        verbose=options.verbose,
        interactive=options.interactive,
        baseline_path=options.baseline_path,
    )
    return Begun(run_id, datetime.now(timezone.utc), time.monotonic(), settings, asyncio.Event())


async def run_round(
    config: Config,
    planned: list[Planned],
    options: Options,
    redactor: Redactor,
    begun: Begun,
    events: Events | None = None,
) -> tuple[list[CheckResult], dict[str, str]]:
    """Run checks once with fresh targets (probed anew); returns results and target descriptions.

    The deadline (`--deadline`, else defaults.deadline) applies to this call.
    """
    targets = Targets(
        config, redactor, allow_writes=options.allow_writes, baseline=options.baseline
    )
    runner = Runner(
        config=config,
        targets=targets,
        settings=begun.settings,
        redactor=redactor,
        concurrency=options.concurrency or config.defaults.concurrency,
        deadline=options.deadline or config.defaults.deadline,
        events=events or Events(),
        stop=begun.stop,
    )
    try:
        results = await runner.run(planned)
        begun.side_effects += await sideeffects.collect(targets, results, begun.started, redactor)
    finally:
        try:
            await asyncio.wait_for(targets.close(), 5)
        except (asyncio.TimeoutError, TimeoutError):
            pass
    return results, targets.describe()


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM set `stop` instead of killing the process."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def assemble(
    config: Config,
    results: list[CheckResult],
    options: Options,
    *,
    run_id: str,
    started: datetime,
    duration: float,
    interrupted: bool,
    targets: dict[str, str],
    side_effects: Sequence[SideEffect] = (),
) -> Run:
    """Decide and build the run model from results."""
    from golive.signers import policy as signoff_policy
    from golive.signers import rules_from_config

    fail_on = options.fail_on or config.defaults.fail_on
    policy = signoff_policy(rules_from_config(config), config.require_signoff)
    gates = gate_results(results, gates_from_config(config.gates), options.signoffs, policy=policy)
    decision = decide(results, fail_on, strict=options.strict, interrupted=interrupted, gates=gates)
    sections = {name: (sec.title or name.title()) for name, sec in config.sections.items()}
    for r in results:
        sections.setdefault(r.section, r.section.title())
    order = {name: i for i, name in enumerate(SECTION_ORDER)}
    if not config.sections:
        sections = dict(sorted(sections.items(), key=lambda kv: order.get(kv[0], 99)))
    finished = datetime.now(timezone.utc)
    return Run(
        run_id=run_id,
        golive_version=__version__,
        started_at=started.isoformat(timespec="seconds"),
        finished_at=finished.isoformat(timespec="seconds"),
        duration=round(duration, 3),
        project=config.project,
        environment=config.environment,
        config_digest=config.digest,
        config_files=config.files,
        targets=targets,
        settings={
            "fail_on": fail_on.value,
            "strict": options.strict,
            "allow_writes": options.allow_writes,
            "selection": options.selection,
            "require_signoff": config.require_signoff,
            "approvals": policy.settings(),
        },
        results=results,
        decision=decision,
        gates=gates,
        sections=sections,
        interrupted=interrupted,
        side_effects=tuple(side_effects),
    )
