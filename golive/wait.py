"""`golive run --wait DURATION`: re-run what is not passing until the decision allows go-live.

For the minutes right after a deploy, where a CI job waits for GO as `kubectl wait` waits
for a condition. Round 1 runs the whole selection. While the exit code is not 0 (GO, or
CONDITIONAL without --strict) and the duration has not run out, golive pauses for the
interval, then runs a new round of the checks that are not passing yet:

- re-run: WARN, FAIL, ERROR, and a SKIP that waiting can change (target unreachable,
  global deadline reached: the results marked incomplete);
- not re-run: PASS; WAIVED (an accepted risk, it does not block); a SKIP that waiting
  cannot change (disabled, writes not allowed, target not configured);
- checks that change the target (`writes=True`) run at most once: once one has run, its
  result is kept; it is retried only while it has not run (SKIP, its target unreachable).

Each round probes its targets anew (a target that was down may be back) and has the whole
`--deadline` (else defaults.deadline). The interval runs from the end of one round to the
start of the next (the last pause ends when the duration does); a round starts only before
the duration has run out and is never cut short, so the longest wait is DURATION plus one
round. When no further round could make the exit code 0, even if every check it re-ran
passed (say, a blocking FAIL of a check that writes), the wait stops early. SIGINT or
SIGTERM during a pause ends the run with the last round's results (exit 130); during a
round, the checks it did not finish keep their previous result. The report holds the
latest result of every check and `wait` (the rounds, each with its changes).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from golive.config import Config
from golive.engine import Begun, Options, begin, run_round, stop_on_signals
from golive.models import (
    CheckResult,
    Round,
    Run,
    Status,
    StatusChange,
    WaitEnd,
    WaitSummary,
    duration_text,
)
from golive.plan import Planned
from golive.redact import Redactor
from golive.runner import Events

MAX_LISTED = 6  # checks named in a round's line; the rest are counted


async def run_until_go(
    config: Config,
    planned: list[Planned],
    options: Options,
    redactor: Redactor,
    events: Events,
) -> Run:
    """Run rounds as the module says; the returned run holds the latest result of each check."""
    if options.wait is None or options.wait <= 0 or options.interval <= 0:
        raise ValueError("run_until_go needs positive options.wait and options.interval")
    begun = begin(options)
    ends_at = begun.t0 + options.wait
    latest: dict[str, CheckResult] = {}
    history: list[Round] = []
    to_run = list(planned)
    with stop_on_signals(begun.stop):
        while True:
            number = len(history) + 1
            if events.round_started is not None:
                events.round_started(number, len(to_run))
            results, targets = await run_round(config, to_run, options, redactor, begun, events)
            interrupted = begun.stop.is_set()
            changes = _merge(latest, results, keep_previous_if_interrupted=interrupted)
            current = list(latest.values())
            run = begun.assemble(config, current, options, targets, interrupted=interrupted)
            history.append(
                Round(
                    number=number,
                    at=round(time.monotonic() - begun.t0, 3),
                    checks=[p.id for p in to_run],
                    changes=changes,
                    not_passing=[r.id for r in current if not_passing(r)],
                    verdict=run.decision.verdict,
                )
            )
            retry = [p for p in planned if p.id in {r.id for r in current if retryable(r)}]
            ended: WaitEnd | None = None
            if interrupted:
                ended = WaitEnd.INTERRUPTED
            elif run.decision.exit_code == 0:
                ended = WaitEnd.DECISION
            elif not retry or _beyond_reach(config, current, options, begun, targets):
                ended = WaitEnd.SETTLED
            elif time.monotonic() >= ends_at:
                ended = WaitEnd.RAN_OUT
            run = replace(run, wait=_summary(options, history, ended))
            if events.round_finished is not None:
                events.round_finished(run)
            if ended is not None:
                return _explained(run, paused=False)
            if await _stopped_within(begun.stop, min(options.interval, ends_at - time.monotonic())):
                run = begun.assemble(config, current, options, targets, interrupted=True)
                run = replace(run, wait=_summary(options, history, WaitEnd.INTERRUPTED))
                return _explained(run, paused=True)
            to_run = retry


def retryable(r: CheckResult) -> bool:
    """True when another round should run this check again (see the module's rules)."""
    if r.status in (Status.PASS, Status.WAIVED):
        return False
    if r.status is Status.SKIP:
        return r.incomplete  # it has not run: a check that writes may run now too
    return not r.writes


def not_passing(r: CheckResult) -> bool:
    """True for what the wait waits for: not PASS, WAIVED or a SKIP that waiting cannot change."""
    if r.status in (Status.PASS, Status.WAIVED):
        return False
    return r.status is not Status.SKIP or r.incomplete


def _beyond_reach(
    config: Config,
    results: list[CheckResult],
    options: Options,
    begun: Begun,
    targets: dict[str, str],
) -> bool:
    """True when the exit code could not become 0 even if every re-run check passed
    (e.g. a blocking FAIL of a check that writes, which runs only once)."""
    best = [
        replace(r, status=Status.PASS, incomplete=False) if retryable(r) else r for r in results
    ]
    return begun.assemble(config, best, options, targets, interrupted=False).decision.exit_code != 0


def _interrupted(r: CheckResult) -> bool:
    # the runner's "interrupted before it ran" / "interrupted while running"
    return r.status is Status.SKIP and r.incomplete and r.summary.startswith("interrupted ")


def _merge(
    latest: dict[str, CheckResult],
    results: list[CheckResult],
    *,
    keep_previous_if_interrupted: bool,
) -> list[StatusChange]:
    """Put a round's results into `latest` (plan order kept); returns the status changes."""
    changes: list[StatusChange] = []
    for r in results:
        old = latest.get(_key(r))
        if old is not None and keep_previous_if_interrupted and _interrupted(r):
            continue  # the previous round's complete result says more than "interrupted"
        if old is not None and old.status is not r.status:
            changes.append(StatusChange(r.id, old.status, r.status))
        latest[_key(r)] = r
    return changes


def _key(r: CheckResult) -> str:
    """What identifies one result across rounds: one result per check id."""
    return r.id


def _summary(options: Options, history: list[Round], ended: WaitEnd | None) -> WaitSummary:
    return WaitSummary(
        duration=float(options.wait or 0.0),
        interval=options.interval,
        rounds=len(history),
        ended=ended,
        history=tuple(history),
    )


async def _stopped_within(stop: asyncio.Event, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `stop` (a signal); True when it was set."""
    if timeout <= 0:
        return stop.is_set()
    try:
        await asyncio.wait_for(stop.wait(), timeout)
    except (asyncio.TimeoutError, TimeoutError):
        return False
    return True


def _explained(run: Run, *, paused: bool) -> Run:
    """The final run, with a decision reason that says how the wait ended."""
    wait = run.wait
    if wait is None or not wait.history:
        return run
    last = wait.history[-1]
    n = last.number
    reasons = list(run.decision.reasons)
    rounds = f"{n} round{'s' if n != 1 else ''}"
    limit = f"--wait {duration_text(wait.duration)}"
    if wait.ended is WaitEnd.INTERRUPTED:
        if paused:
            reasons[0] = (
                f"the run was interrupted while waiting after round {n}; "
                f"the results are those of round {n}"
            )
        elif n > 1:
            reasons[0] = (
                f"the run was interrupted during round {n}; the checks it did not finish "
                f"keep their result of round {n - 1}"
            )
    elif wait.ended is WaitEnd.DECISION:
        reasons.append(f"{last.verdict.value} in round {n} of {limit}")
    elif wait.ended is WaitEnd.RAN_OUT:
        reasons.append(
            f"the wait ran out after {rounds} ({limit}): "
            f"{len(last.not_passing)} check(s) still not passing"
        )
    elif wait.ended is WaitEnd.SETTLED:
        once = [r.id for r in run.results if r.writes and not_passing(r) and not retryable(r)]
        text = f"the wait stopped after {rounds}: no further round could change the decision"
        if len(once) == 1:
            text += f" ({once[0]} changes the target and runs only once)"
        elif once:
            text += f" ({', '.join(once)} change the target and run only once)"
        reasons.append(text)
    return replace(run, decision=replace(run.decision, reasons=reasons))


def round_line(run: Run) -> str:
    """What the console prints after a round, e.g.
    'round 2 (t+20s): database.connections ERROR -> PASS; GO'."""
    wait = run.wait
    if wait is None or not wait.history:
        return ""
    last = wait.history[-1]
    by_id = {r.id: r for r in run.results}
    head = f"round {last.number} (t+{_clock(last.at)}): "
    if last.number == 1:
        head += f"ran {len(last.checks)} check{'s' if len(last.checks) != 1 else ''}"
    elif last.changes:
        head += _listed([f"{c.id} {c.before.value} -> {c.after.value}" for c in last.changes])
    else:
        head += f"no change ({len(last.checks)} re-run)"
    head += f"; {last.verdict.value}"
    if last.not_passing:
        still = "still " if last.number > 1 else ""
        named = [f"{i} {by_id[i].status.value}" if i in by_id else i for i in last.not_passing]
        head += f"; {len(last.not_passing)} {still}not passing: {_listed(named)}"
    if wait.ended is None:
        pause = min(wait.interval, max(0.0, wait.duration - last.at))  # the last one is shorter
        head += f"; next round in {duration_text(round(pause, 2))}"
    elif wait.ended is WaitEnd.RAN_OUT:
        head += f"; the wait ran out after {wait.rounds} rounds"
    elif wait.ended is WaitEnd.SETTLED:
        head += "; no further round could change the decision"
    return head


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        shown += f" and {len(items) - MAX_LISTED} more"
    return shown


def _clock(at: float) -> str:
    if at < 120:
        return f"{at:.0f}s"
    minutes, secs = divmod(round(at), 60)
    return f"{minutes}m{secs:02d}s"
