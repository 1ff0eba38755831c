"""One monitor run: sample, store, decide, notify, maybe roll back.

The sample is taken without any lock and stored at once, so overlapping runs all keep
their sample. Deciding happens under the history's exclusive lock: the verdict is
evaluated over the whole history, a change is recorded, every notifier that has not yet
delivered the current verdict is tried (a failure is recorded and retried by the next
run), and on ROLLBACK with `rollback.auto: true` the rollback command runs — once per
history — with its exit code and output stored and sent.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from golive.monitor.criteria import errors_last_hour, evaluate
from golive.monitor.history import History, HistoryLocked
from golive.monitor.model import Evaluation, Sample, Verdict

if TYPE_CHECKING:
    from golive.config import Config
    from golive.monitor.notify import Delivery, Notice, Notifier
    from golive.redact import Redactor
    from golive.targets import Targets

Clock = Callable[[], float]
LOOKBACK = 100_000  # samples loaded to decide (far more than 24 h at one a minute)


@dataclass(frozen=True)
class CycleResult:
    """What one run did."""

    sample: Sample | None
    evaluation: Evaluation
    previous: str | None = None
    decided: bool = True  # False when another run held the decision lock
    deliveries: Sequence[Delivery] = ()
    rollback: Mapping[str, Any] | None = None  # set when this run ran the rollback command
    messages: Sequence[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when this run recorded a new verdict."""
        return self.decided and self.previous != self.evaluation.verdict.value


def baseline_latency(cfg: Config) -> tuple[float | None, str | None]:
    """(baseline p95 latency in ms, or the reason it could not be read).

    `monitor.baseline.latency_ms` wins; else the baseline file (`monitor.baseline.path`, or
    `baseline.file` when that file exists) is loaded with golive.baseline's loader, and the
    probe path's own figure (`/health:p95_ms`) is preferred to the check's overall one.
    """
    from golive.baseline import load_baseline
    from golive.errors import BaselineError

    b = cfg.monitor.baseline
    if b.latency_ms is not None:
        return b.latency_ms, None
    path = b.path or cfg.baseline.file
    if not b.path and not os.path.exists(path):
        return None, None
    try:
        doc = load_baseline(path, cfg)
    except BaselineError as exc:
        return None, str(exc)
    entry = doc["checks"].get(b.check)
    measured = entry.get("measurements") if isinstance(entry, dict) else None
    if not isinstance(measured, dict):
        return None, f"the baseline {path} has no measurements of {b.check}"
    probe = cfg.monitor.sources.probe_path or (
        cfg.targets.api.health_path if cfg.targets.api else ""
    )
    keys = [b.measurement] if b.measurement else [f"{probe}:p95_ms", "p95_ms"]
    for key in keys:
        value = measured.get(key)
        if isinstance(value, (int, float)) and value > 0:
            return float(value), None
    return None, f"the baseline {path} has no positive {b.check} {' or '.join(keys)}"


async def sample_stack(cfg: Config, redactor: Redactor, *, now: float, interval: float) -> Sample:
    """Take one sample with fresh targets (closed afterwards); the result is redacted."""
    from golive.monitor.sampling import take_sample
    from golive.targets import Targets

    baseline_ms, problem = baseline_latency(cfg)
    targets = Targets(cfg, redactor)
    try:
        sample = await take_sample(
            cfg,
            targets,
            now=now,
            interval=interval,
            baseline_ms=baseline_ms,
            baseline_problem=problem,
        )
    finally:
        await targets.close()
    return redactor.redact_obj(sample)


def run_once(
    cfg: Config,
    redactor: Redactor,
    *,
    clock: Clock = time.time,
    interval: float | None = None,
    history_path: str | None = None,
) -> CycleResult:
    """Sample, store, then decide under the lock (or only evaluate when it stays busy)."""
    m = cfg.monitor
    sample = asyncio.run(sample_stack(cfg, redactor, now=clock(), interval=interval or m.every))
    src = m.sources.error_log
    log_file = (src.file, src.pattern) if src is not None and src.file else None
    with History.open(history_path or m.history, lock_timeout=m.lock_timeout) as history:
        sample = history.record(sample, error_log_file=log_file)
        try:
            with history.locked():
                return asyncio.run(decide(cfg, history, redactor, clock=clock, sample=sample))
        except HistoryLocked as exc:
            evaluation = evaluate(
                history.samples(last=LOOKBACK),
                history.events(("trigger", "clear")),
                clock(),
                m.criteria,
            )
            return CycleResult(
                sample, evaluation, decided=False, messages=[f"sample stored; not deciding: {exc}"]
            )


def _summary(sample: Sample | None, samples: Sequence[Sample]) -> dict[str, Any]:
    if sample is None:
        return {}
    from golive.monitor.criteria import fmt_time

    rate = sample.describe_error_rate()
    return {
        "time": fmt_time(sample.ts),
        "api": {True: "up", False: f"DOWN ({sample.api_detail})", None: "not probed"}[
            sample.api_ok
        ],
        "p95_latency_ms": sample.latency_p95_ms,
        "vs_baseline": None if sample.perf_ratio is None else f"{sample.perf_ratio - 1:+.0%}",
        "error_rate": rate,
        "db_connections": sample.db_connections,
        "tasks_finished_last_hour": sample.tasks_last_hour,
        "firing_alerts": sample.firing_alerts,
        "error_log_lines_last_hour": errors_last_hour(samples),
    }


def make_notice(
    cfg: Config,
    evaluation: Evaluation,
    previous: str | None,
    sample: Sample | None,
    samples: Sequence[Sample],
    history: str,
    rollback: Mapping[str, Any] | None = None,
) -> Notice:
    """The notice for the current verdict (kind "rollback" when `rollback` is given)."""
    from golive.monitor.notify import Notice

    rb = cfg.monitor.rollback
    verdict = evaluation.verdict
    notes = list(evaluation.notes)
    procedure: list[str] = []
    if verdict is Verdict.ROLLBACK and rollback is None:
        if rb.auto and rb.command:
            notes.append(f"golive runs the rollback command now: {_display(rb.command)}")
        else:
            procedure = list(rb.procedure)
    return Notice(
        kind="rollback" if rollback is not None else "verdict",
        project=cfg.project,
        environment=cfg.environment,
        verdict=verdict.value,
        previous=previous,
        at=evaluation.at,
        reasons=list(evaluation.reasons),
        notes=notes,
        latest_sample=_summary(sample, samples),
        procedure=procedure,
        rollback=rollback,
        history=history,
    )


def _display(command: str | Sequence[str]) -> str:
    import shlex

    return command if isinstance(command, str) else shlex.join(command)


async def decide(
    cfg: Config,
    history: History,
    redactor: Redactor,
    *,
    clock: Clock = time.time,
    sample: Sample | None = None,
    notifiers: Sequence[Notifier] | None = None,
) -> CycleResult:
    """Evaluate, record a verdict change, notify, run the rollback hook. Hold the lock."""
    from golive.targets import Targets

    m = cfg.monitor
    samples = history.samples(last=LOOKBACK)
    now = clock()
    evaluation = redactor.redact_obj(
        evaluate(samples, history.events(("trigger", "clear")), now, m.criteria)
    )
    verdict = evaluation.verdict.value
    state = history.get_state("verdict") or {}
    previous = state.get("verdict")
    if previous != verdict:
        history.add_event(
            "verdict",
            now,
            {
                "from": previous,
                "to": verdict,
                "reasons": list(evaluation.reasons),
                "notes": list(evaluation.notes),
            },
        )
        history.set_state("verdict", {"verdict": verdict, "at": now})
    latest = sample or (samples[-1] if samples else None)
    targets = Targets(cfg, redactor)
    deliveries: list[Delivery] = []
    ran: dict[str, Any] | None = None
    try:
        chosen = list(notifiers) if notifiers is not None else _notifiers(cfg, targets)
        notice = redactor.redact_obj(
            make_notice(cfg, evaluation, previous, latest, samples, str(history.path))
        )
        deliveries += await _notify_verdict(history, chosen, notice, now, redactor)
        rb = m.rollback
        if (
            evaluation.verdict is Verdict.ROLLBACK
            and rb.auto
            and rb.command
            and history.get_state("rollback") is None
        ):
            ran = await run_rollback(history, rb.command, rb.timeout, redactor, clock)
        done = history.get_state("rollback")
        if done and done.get("status") == "done":
            result = {
                k: done.get(k)
                for k in ("command", "exit_code", "output", "started_at", "finished_at")
            }
            rb_notice = redactor.redact_obj(
                make_notice(
                    cfg, evaluation, previous, latest, samples, str(history.path), rollback=result
                )
            )
            deliveries += await _notify_rollback(history, chosen, rb_notice, done, now, redactor)
    finally:
        await targets.close()
    return CycleResult(latest, evaluation, previous, True, deliveries, ran)


def _notifiers(cfg: Config, targets: Targets) -> list[Notifier]:
    from golive.monitor.notify import build_notifiers

    return build_notifiers(cfg, targets)


async def _send(
    history: History,
    pending: Sequence[tuple[Notifier, Notice, Mapping[str, Any] | None]],
    now: float,
    redactor: Redactor,
) -> list[Delivery]:
    """Deliver concurrently; every attempt (error text redacted) becomes a `notify` event."""
    from dataclasses import asdict

    from golive.monitor.notify import deliver

    results = [redactor.redact_obj(d) for d in await deliver(pending, timeout=60)]
    for d in results:
        history.add_event("notify", now, asdict(d))
    return results


async def _notify_verdict(
    history: History, notifiers: Sequence[Notifier], notice: Notice, now: float, redactor: Redactor
) -> list[Delivery]:
    """Send the current verdict to every notifier that has not delivered it yet."""
    pending = []
    for n in notifiers:
        delivered = history.get_state(f"notify:{n.id}")
        if (delivered or {}).get("verdict", Verdict.WATCHING.value) != notice.verdict:
            pending.append((n, notice, delivered))
    results = await _send(history, pending, now, redactor)
    for d in results:
        if d.ok:
            history.set_state(f"notify:{d.notifier}", {"verdict": d.verdict, "at": now})
    return results


async def _notify_rollback(
    history: History,
    notifiers: Sequence[Notifier],
    notice: Notice,
    done: dict[str, Any],
    now: float,
    redactor: Redactor,
) -> list[Delivery]:
    """Send the rollback command's result to every notifier that has not delivered it yet."""
    sent = set(done.get("notified") or [])
    pending = [(n, notice, None) for n in notifiers if n.id not in sent]
    results = await _send(history, pending, now, redactor)
    sent |= {d.notifier for d in results if d.ok}
    if results:
        history.set_state("rollback", {**done, "notified": sorted(sent)})
    return results


async def run_rollback(
    history: History, command: str | Sequence[str], timeout: float, redactor: Redactor, clock: Clock
) -> dict[str, Any]:
    """Claim the one rollback of this history, run the command, store its result."""
    from golive.monitor.sampling import run_command

    started = clock()
    shown = redactor.redact(_display(command))
    history.set_state(
        "rollback",
        {"status": "running", "command": shown, "started_at": started, "pid": os.getpid()},
    )
    history.add_event("rollback", started, {"status": "started", "command": shown})
    try:
        code, output = await run_command(command, timeout)
    except OSError as exc:
        code, output = 127, f"cannot run the rollback command: {exc}"
    finished = clock()
    result: dict[str, Any] = {
        "status": "done",
        "command": shown,
        "started_at": started,
        "finished_at": finished,
        "exit_code": code,
        "timed_out": code == -9,
        "output": redactor.redact(output[-8192:]),
        "notified": [],
    }
    history.set_state("rollback", result)
    history.add_event("rollback", finished, {k: v for k, v in result.items() if k != "notified"})
    return result


def record_trigger(
    cfg: Config,
    redactor: Redactor,
    reason: str,
    *,
    clear: bool = False,
    clock: Clock = time.time,
    history_path: str | None = None,
) -> CycleResult:
    """Record a manual rollback trigger (or clear the active one), then decide at once."""
    m = cfg.monitor
    by = os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"
    with History.open(history_path or m.history, lock_timeout=m.lock_timeout) as history:
        history.add_event(
            "clear" if clear else "trigger", clock(), {"reason": redactor.redact(reason), "by": by}
        )
        try:
            with history.locked():
                return asyncio.run(decide(cfg, history, redactor, clock=clock))
        except HistoryLocked as exc:
            evaluation = evaluate(
                history.samples(last=LOOKBACK),
                history.events(("trigger", "clear")),
                clock(),
                m.criteria,
            )
            return CycleResult(
                None, evaluation, decided=False, messages=[f"trigger recorded; not deciding: {exc}"]
            )
