"""golive/runner.py: timeouts, deadline, concurrency, skip cascade, exceptions, writes, waivers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from golive.engine import Options
from golive.models import Status
from golive.testing import load_dict, run_config

FIXTURES = Path(__file__).parent / "fixtures"


def lab(checks: list[dict[str, Any]], **extra: Any) -> Any:
    data = {
        "plugin_paths": [str(FIXTURES / "runner_checks.py")],
        "sections": {"lab": {"checks": checks}},
    }
    data.update(extra)
    return load_dict(data)


def test_results_keep_plan_order_and_durations() -> None:
    cfg = lab([{"id": "lab.sleepy", "params": {"seconds": 0.2}}, {"id": "lab.failing"}])
    run = run_config(cfg)
    assert [r.id for r in run.results] == ["lab.sleepy", "lab.failing"]
    assert run.results[0].status is Status.PASS
    assert run.results[0].duration >= 0.2
    assert run.results[1].status is Status.FAIL


def test_per_check_timeout_is_error_and_keeps_evidence() -> None:
    cfg = lab([{"id": "lab.sleepy", "params": {"seconds": 5}, "timeout": 0.3}])
    run = run_config(cfg)
    (r,) = run.results
    assert r.status is Status.ERROR
    assert r.summary == "did not finish within 0.3s (its 0.3s timeout)"
    assert r.evidence["started"] is True
    assert r.incomplete


def test_global_deadline_stops_the_run() -> None:
    checks = [{"id": "lab.sleepy", "params": {"seconds": 3}}]
    cfg = lab(checks, defaults={"deadline": 0.5, "concurrency": 1})
    run = run_config(cfg)
    assert run.results[0].status is Status.ERROR
    assert "the global deadline" in run.results[0].summary


def test_exception_becomes_error_with_message_and_no_traceback() -> None:
    run = run_config(lab([{"id": "lab.boom", "params": {"message": "disk on fire"}}]))
    (r,) = run.results
    assert r.status is Status.ERROR
    assert r.summary == "ValueError: disk on fire"
    assert r.detail == ""
    verbose = run_config(lab([{"id": "lab.boom"}]), options=Options(verbose=True))
    assert "Traceback" in verbose.results[0].detail


def test_wrong_return_type_is_error() -> None:
    (r,) = run_config(lab([{"id": "lab.not_outcome"}])).results
    assert r.status is Status.ERROR
    assert r.summary == "check returned str, not an Outcome"


def test_unreachable_target_skips_every_dependent_check_with_one_reason() -> None:
    cfg = lab(
        [{"id": "lab.db"}, {"id": "lab.db_too"}, {"id": "lab.failing"}],
        targets={"database": {"dsn": "postgresql://golive@127.0.0.1:1/none", "connect_timeout": 1}},
    )
    run = run_config(cfg)
    db, db_too, failing = run.results
    assert db.status is Status.SKIP and db_too.status is Status.SKIP
    assert db.summary.startswith("database unreachable: ")
    assert db.summary == db_too.summary
    assert db.incomplete
    assert failing.status is Status.FAIL  # unaffected checks still run


def test_unconfigured_target_is_skip_but_not_incomplete() -> None:
    (r,) = run_config(lab([{"id": "lab.db"}])).results
    assert r.status is Status.SKIP
    assert r.summary == "no database target is configured in golive.yaml (targets.database)"
    assert not r.incomplete


def test_writing_checks_need_allow_writes() -> None:
    cfg = lab([{"id": "lab.writer"}])
    (r,) = run_config(cfg).results
    assert r.status is Status.SKIP
    assert r.summary == "changes the target; run with --allow-writes to include it"
    (w,) = run_config(cfg, allow_writes=True).results
    assert w.status is Status.PASS


def test_disabled_check_is_skipped_with_reason() -> None:
    (r,) = run_config(lab([{"id": "lab.failing", "enabled": False}])).results
    assert r.status is Status.SKIP
    assert r.summary == "disabled in golive.yaml (enabled: false)"


def test_waivers_unexpired_and_expired() -> None:
    waiver = {"reason": "known issue JIRA-1", "approved_by": "cto", "expires": "2999-01-01"}
    (r,) = run_config(lab([{"id": "lab.failing", "waiver": waiver}])).results
    assert r.status is Status.WAIVED
    assert r.waiver is not None and r.waiver.approved_by == "cto"
    expired = {**waiver, "expires": "2000-01-01"}
    (e,) = run_config(lab([{"id": "lab.failing", "waiver": expired}])).results
    assert e.status is Status.FAIL
    assert e.note == "waiver by cto expired on 2000-01-01 and was ignored"


def test_secrets_in_results_are_redacted() -> None:
    cfg = lab(
        [{"id": "lab.failing", "params": {"severity_hint": "password is hunter2-canary"}}],
        targets={"api": {"url": "http://127.0.0.1:1", "token": "hunter2-canary"}},
    )
    (r,) = run_config(cfg).results
    assert r.evidence["secret_echo"] == "password is ***"


@pytest.mark.parametrize("limit", [1, 3])
def test_concurrency_limit_is_honoured(tmp_path: Path, limit: int) -> None:
    # five distinct sleeping checks from a generated plugin share one counter
    plugin = tmp_path / f"conc{limit}.py"
    body = [
        "import asyncio",
        "from golive.api import Context, Outcome, check",
        "STATE = {'running': 0, 'peak': 0}",
    ]
    for i in range(5):
        body += [
            f"@check(id='conc.c{i}', title='t')",
            f"async def c{i}(ctx: Context) -> Outcome:",
            "    STATE['running'] += 1",
            "    STATE['peak'] = max(STATE['peak'], STATE['running'])",
            "    await asyncio.sleep(0.15)",
            "    STATE['running'] -= 1",
            "    return Outcome.passed('ok', measurements={'peak': STATE['peak']})",
        ]
    plugin.write_text("\n".join(body) + "\n")
    cfg = load_dict(
        {
            "plugin_paths": [str(plugin)],
            "defaults": {"concurrency": limit},
            "sections": {"conc": {"checks": [{"id": f"conc.c{i}"} for i in range(5)]}},
        }
    )
    run = run_config(cfg)
    assert max(r.measurements["peak"] for r in run.results) == limit


def test_exclusive_checks_run_alone_and_final_ones_last(tmp_path: Path) -> None:
    plugin = tmp_path / "phases.py"
    plugin.write_text(
        "import asyncio\n"
        "from golive.api import Context, Outcome, check\n"
        "STATE = {'running': 0, 'order': []}\n"
        "async def body(name, seconds):\n"
        "    seen = STATE['running']\n"
        "    STATE['running'] += 1\n"
        "    STATE['order'].append(name)\n"
        "    await asyncio.sleep(seconds)\n"
        "    STATE['running'] -= 1\n"
        "    return Outcome.passed(name, evidence={'others_running': seen, 'position': STATE['order'].index(name)})\n"
        "@check(id='ph.burst', title='t', isolation='final')\n"
        "async def burst(ctx: Context) -> Outcome:\n"
        "    return await body('burst', 0.05)\n"
        "@check(id='ph.load', title='t', isolation='exclusive')\n"
        "async def load(ctx: Context) -> Outcome:\n"
        "    return await body('load', 0.05)\n"
        "@check(id='ph.a', title='t')\n"
        "async def a(ctx: Context) -> Outcome:\n"
        "    return await body('a', 0.2)\n"
        "@check(id='ph.b', title='t')\n"
        "async def b(ctx: Context) -> Outcome:\n"
        "    return await body('b', 0.2)\n"
    )
    cfg = load_dict(
        {
            "plugin_paths": [str(plugin)],
            "sections": {
                "ph": {"checks": [{"id": f"ph.{n}"} for n in ("burst", "load", "a", "b")]}
            },
        }
    )
    run = run_config(cfg)
    by_id = {r.id: r for r in run.results}
    assert [r.id for r in run.results] == ["ph.burst", "ph.load", "ph.a", "ph.b"]  # plan order
    assert by_id["ph.load"].evidence == {"others_running": 0, "position": 2}
    assert by_id["ph.burst"].evidence == {"others_running": 0, "position": 3}
    assert {by_id["ph.a"].evidence["position"], by_id["ph.b"].evidence["position"]} == {0, 1}


def test_isolation_value_is_validated() -> None:
    from golive.api import check

    with pytest.raises(ValueError, match="isolation must be"):
        check(id="x.y", title="t", isolation="alone")  # type: ignore[arg-type]


def test_waiting_for_a_silent_target_holds_no_concurrency_slot() -> None:
    """A check waiting for the probe of a target that never answers keeps no slot: with
    one slot, the check that needs nothing still runs while the probe waits."""
    import socket

    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes handshakes; nothing ever answers
    port = silent.getsockname()[1]
    try:
        cfg = lab(
            [{"id": "lab.db"}, {"id": "lab.sleepy", "params": {"seconds": 0}}],
            targets={
                "database": {
                    "dsn": f"postgresql://golive@127.0.0.1:{port}/x",
                    "connect_timeout": 60,
                }
            },
            defaults={"deadline": 2, "concurrency": 1},
        )
        run = run_config(cfg)
    finally:
        silent.close()
    by_id = {r.id: r for r in run.results}
    assert by_id["lab.sleepy"].status is Status.PASS, by_id["lab.sleepy"].summary
    assert by_id["lab.db"].status is Status.SKIP
    assert by_id["lab.db"].summary.startswith(
        "database unreachable: no answer within the remaining"
    )
