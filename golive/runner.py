"""Runs planned checks: asyncio, bounded concurrency, per-check timeouts, a global deadline.

Each target is probed once; every check that needs an unreachable target is SKIP with the
probe's reason (one root cause, not twenty errors). An exception inside a check becomes
ERROR with its message. Checks that write are SKIP unless writes are allowed. When `stop`
is set (Ctrl-C, SIGTERM) running checks are cancelled and the results so far are kept.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from golive.api import Context, RunSettings
from golive.config import Config
from golive.hosts.interface import Host, HostUnavailable
from golive.models import CheckResult, Outcome, Run, Status, Waiver
from golive.plan import Planned
from golive.redact import Redactor
from golive.targets import Targets


@dataclass
class Events:
    """Callbacks the console uses to show progress; all optional."""

    started: Callable[[Planned], None] | None = None
    finished: Callable[[CheckResult], None] | None = None
    progress: Callable[[str, float, float, str], None] | None = None
    # `golive run --wait`: a round starts (its number, how many checks), a round ended
    round_started: Callable[[int, int], None] | None = None
    round_finished: Callable[[Run], None] | None = None


@dataclass
class Runner:
    """Executes a list of planned checks against shared targets."""

    config: Config
    targets: Targets
    settings: RunSettings
    redactor: Redactor
    concurrency: int = 4
    deadline: float = 900.0
    events: Events = field(default_factory=Events)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    today: date | None = None  # for waiver expiry; None means the real date

    async def run(self, planned: list[Planned]) -> list[CheckResult]:
        """Run every planned check; results come back in plan order (a host-level check's
        results in the order of its hosts).

        Shared checks run concurrently first; then `exclusive` checks, one at a time with
        nothing else running (load tests, whose figures concurrent checks would skew);
        then `final` ones (checks that disturb the target for a while, e.g. exhausting a
        rate limit), also alone.
        """
        loop = asyncio.get_running_loop()
        self._deadline_at = loop.time() + self.deadline
        self._sem = asyncio.Semaphore(self.concurrency)
        self._host_sems: dict[str, asyncio.Semaphore] = {}
        units = [(p, h) for p in planned for h in self._hosts_of(p)]
        tasks: list[asyncio.Future[CheckResult]] = []
        stopper = asyncio.ensure_future(self._cancel_on_stop(tasks))
        by_index: dict[int, CheckResult] = {}
        try:
            shared = [(i, u) for i, u in enumerate(units) if u[0].spec.isolation == "shared"]
            tasks.extend(asyncio.ensure_future(self._one(p, h)) for _, (p, h) in shared)
            for (i, _), result in zip(shared, await asyncio.gather(*tasks), strict=True):
                by_index[i] = result
            for phase in ("exclusive", "final"):
                for i, (p, h) in enumerate(units):
                    if p.spec.isolation == phase:
                        task = asyncio.ensure_future(self._one(p, h))
                        tasks.append(task)
                        by_index[i] = await task
        finally:
            stopper.cancel()
        return [by_index[i] for i in range(len(units))]

    def _hosts_of(self, p: Planned) -> list[Host | None]:
        """The hosts a planned check runs on: None alone for a check that does not read a
        host, or when golive.yaml lists no hosts (the local machine, unnamed)."""
        if "host" not in p.spec.needs or not self.config.hosts:
            return [None]
        return list(self.targets.hosts_for(p.hosts)) or [None]

    async def _cancel_on_stop(self, tasks: Sequence[asyncio.Future[CheckResult]]) -> None:
        await self.stop.wait()
        for t in list(tasks):
            t.cancel()

    async def _one(self, p: Planned, host: Host | None = None) -> CheckResult:
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t0 = time.monotonic()
        ctx: Context | None = None
        reason: str | None
        name = host.name if host is not None else None

        def result(*args: Any, **kw: Any) -> CheckResult:  # every result names its host
            return self._result(*args, host=name, **kw)

        try:
            if host is None and "host" in p.spec.needs and p.hosts is not None:
                reason = f"no host has the role or name {', '.join(p.hosts)}"
                return result(p, Outcome.skip(reason), t0, started)
            if not p.enabled:
                return result(
                    p, Outcome.skip("disabled in golive.yaml (enabled: false)"), t0, started
                )
            if p.spec.writes and not self.settings.allow_writes:
                reason = "changes the target; run with --allow-writes to include it"
                return result(p, Outcome.skip(reason), t0, started)
            # probed before taking a slot: checks waiting for a silent target's probe must
            # not hold the slots that checks of the other targets need
            if host is not None:
                reason = await self._probe_host(host)
                if reason is not None:
                    text = f"host {host.name} unreachable: {reason}"
                    return result(p, Outcome.skip(text), t0, started, incomplete=True)
            for kind in p.spec.needs:
                if kind == "host":
                    continue
                if kind == "project" and host is not None and self.targets.configured(kind):
                    reason = await self._probe_project_on(host)
                    if reason is not None:
                        return result(p, Outcome.skip(reason), t0, started, incomplete=True)
                    continue
                reason = await self._probe(kind)
                if reason is not None:
                    configured = self.targets.configured(kind)
                    text = f"{kind} unreachable: {reason}" if configured else reason
                    return result(p, Outcome.skip(text), t0, started, incomplete=configured)
            async with self._slot(host):
                remaining = self._remaining()
                if self.stop.is_set():
                    return result(
                        p, Outcome.skip("interrupted before it ran"), t0, started, incomplete=True
                    )
                if remaining <= 0:
                    reason = f"global deadline of {self.deadline:g}s reached before it ran"
                    return result(p, Outcome.skip(reason), t0, started, incomplete=True)
                timeout = min(p.timeout, self._remaining())
                if timeout <= 0:
                    reason = f"global deadline of {self.deadline:g}s reached before it ran"
                    return result(p, Outcome.skip(reason), t0, started, incomplete=True)
                ctx = self._context(p, timeout, host)
                if self.events.started is not None:
                    self.events.started(p)
                try:
                    outcome = await asyncio.wait_for(p.spec.func(ctx, **p.params), timeout)
                except (asyncio.TimeoutError, TimeoutError) as exc:
                    if time.monotonic() - t0 + 0.05 < timeout:  # raised inside the check
                        return self._error(p, exc, ctx, t0, started, name)
                    limit = (
                        "the global deadline"
                        if timeout < p.timeout
                        else f"its {p.timeout:g}s timeout"
                    )
                    msg = f"did not finish within {round(timeout, 1):g}s ({limit})"
                    return result(
                        p, Outcome.error(msg, evidence=ctx.evidence), t0, started, incomplete=True
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    return self._error(p, exc, ctx, t0, started, name)
                if not isinstance(outcome, Outcome):
                    msg = f"check returned {type(outcome).__name__}, not an Outcome"
                    return result(p, Outcome.error(msg), t0, started, incomplete=True)
                if ctx.evidence:
                    outcome = Outcome(
                        outcome.status,
                        outcome.summary,
                        {**ctx.evidence, **outcome.evidence},
                        outcome.measurements,
                        outcome.samples,
                        outcome.findings,
                    )
                return result(p, outcome, t0, started, incomplete=outcome.status is Status.ERROR)
        except asyncio.CancelledError:
            if ctx is None:  # still waiting for a slot or a target's probe
                outcome = Outcome.skip("interrupted before it ran")
            else:
                outcome = Outcome.skip("interrupted while running", evidence=ctx.evidence)
            return result(p, outcome, t0, started, incomplete=True)

    def _slot(self, host: Host | None) -> asyncio.Semaphore:
        """Checks of a remote host take that host's slots: the work is on the host, so
        hosts run in parallel instead of queueing behind each other."""
        if host is None or host.is_local:
            return self._sem
        sem = self._host_sems.get(host.name)
        if sem is None:
            sem = self._host_sems[host.name] = asyncio.Semaphore(self.concurrency)
        return sem

    async def _probe_host(self, host: Host) -> str | None:
        remaining = max(0.1, self._remaining())
        try:
            return await asyncio.wait_for(self.targets.probe_host(host), remaining)
        except (asyncio.TimeoutError, TimeoutError):
            return f"no answer within the remaining {remaining:.1f}s of the global deadline"

    async def _probe_project_on(self, host: Host) -> str | None:
        root = self.targets.project_root(host)
        try:
            st = await asyncio.wait_for(host.stat(root), max(0.1, min(10.0, self._remaining())))
        except (asyncio.TimeoutError, TimeoutError):
            return f"host {host.name} did not answer a stat of the project root {root}"
        except Exception as exc:
            return f"host {host.name}: cannot stat the project root {root}: {exc}"
        if st is None or not st.is_dir:
            return f"project root {root} is not a directory on host {host.name}"
        if host.is_local:
            return None
        try:
            await asyncio.wait_for(
                self.targets.load_host_project(host), max(0.1, min(30.0, self._remaining()))
            )
        except (asyncio.TimeoutError, TimeoutError):
            return f"host {host.name} did not answer while its compose and env files were read"
        except Exception as exc:
            return f"host {host.name}: cannot read the project's compose and env files: {exc}"
        return None

    async def _probe(self, kind: str) -> str | None:
        remaining = max(0.1, self._remaining())
        try:
            return await asyncio.wait_for(self.targets.probe(kind), remaining)
        except (asyncio.TimeoutError, TimeoutError):
            return f"no answer within the remaining {remaining:.1f}s of the global deadline"

    def _remaining(self) -> float:
        return self._deadline_at - asyncio.get_running_loop().time()

    def _context(self, p: Planned, timeout: float, host: Host | None = None) -> Context:
        def progress(done: float, total: float, desc: str) -> None:
            if self.events.progress is not None:
                self.events.progress(p.id, done, total, desc)

        return Context(
            check_id=p.id,
            timeout=timeout,
            deadline=asyncio.get_running_loop().time() + timeout,
            settings=self.settings,
            config=self.config,
            targets=self.targets,
            redactor=self.redactor,
            _progress=progress,
            _host=host,
        )

    def _error(
        self,
        p: Planned,
        exc: BaseException,
        ctx: Context,
        t0: float,
        started: str,
        host: str | None = None,
    ) -> CheckResult:
        text = " ".join(str(exc).split()) or "no message"
        msg = f"{type(exc).__name__}: {text}"
        if isinstance(exc, HostUnavailable):
            msg = f"host {host} unreachable: {text}"
        detail = "".join(traceback.format_exception(exc)) if self.settings.verbose else ""
        outcome = Outcome.error(msg, evidence=ctx.evidence)
        return self._result(p, outcome, t0, started, incomplete=True, detail=detail, host=host)

    def _result(
        self,
        p: Planned,
        outcome: Outcome,
        t0: float,
        started: str,
        *,
        incomplete: bool = False,
        detail: str = "",
        host: str | None = None,
    ) -> CheckResult:
        status = outcome.status
        waiver: Waiver | None = None
        note = ""
        if p.waiver is not None:
            today = self.today or date.today()
            waiver = Waiver(p.waiver.reason, p.waiver.approved_by, p.waiver.expires.isoformat())
            if p.waiver.expires < today:
                expired = p.waiver.expires.isoformat()
                note = f"waiver by {p.waiver.approved_by} expired on {expired} and was ignored"
                waiver = None
            elif status is Status.FAIL:
                status = Status.WAIVED
        result = CheckResult(
            id=p.id,
            section=p.section,
            title=p.title,
            severity=p.severity,
            status=status,
            summary=outcome.summary,
            remediation=p.remediation,
            evidence=_jsonable(outcome.evidence),
            measurements=dict(outcome.measurements),
            samples={k: list(v) for k, v in outcome.samples.items()},
            findings=tuple(outcome.findings),
            tags=p.tags,
            duration=round(time.monotonic() - t0, 4),
            started_at=started,
            writes=p.spec.writes,
            waiver=waiver,
            note=note,
            incomplete=incomplete,
            detail=detail,
            host=host,
        )
        result = self.redactor.redact_obj(result)
        if self.events.finished is not None:
            self.events.finished(result)
        return result


def _jsonable(value: Any, depth: int = 0) -> Any:
    """Evidence made JSON-safe: unknown objects become their string form."""
    if depth > 32:
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)
