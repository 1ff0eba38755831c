"""Fixtures for the tests against the real Ordinaut 2.2.2 (``demo.upstream``).

``upstream`` (session) starts Ordinaut once on 127.0.0.1 with real servers; it is stopped
at the end. Set ``GOLIVE_TEST_UPSTREAM_DIR`` to the state dir of one started with
``python -m demo.upstream up --state-dir DIR`` to reuse it (it is then left running).
Without the release tree or a service binary the tests skip on a laptop and fail under
``CI=true``, as does an Ordinaut that cannot start.

``readonly_run`` and ``writes_run`` run the whole checklist once each (read-only first,
then with ``--allow-writes``) and are shared by every assertion: with the state of the
target captured before and after each run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest

from demo.upstream import UpstreamStack
from tests.conftest import _missing, demo_api_process, launched

REPO = Path(__file__).resolve().parents[2]
# tables that Ordinaut's own processes write on their own while nobody calls them
BACKGROUND_TABLES = {"worker_heartbeat"}


@pytest.fixture(scope="session")
def upstream() -> Iterator[UpstreamStack]:
    """A running Ordinaut 2.2.2."""
    from demo import upstream as launcher
    from demo.stack.lifecycle import missing_required

    def unavailable() -> str | None:
        missing = missing_required()
        if missing:
            return ", ".join(missing)
        if launcher.find_source() is None:
            return "Ordinaut's release tree (shared/upstream/ordinaut-2.2.2)"
        return None

    yield from launched(
        reuse="GOLIVE_TEST_UPSTREAM_DIR",
        record=UpstreamStack,
        unavailable=unavailable,
        start=launcher.start,
        stop=launcher.stop,
        prefix="golive-upstream-",
        missing=partial(_missing, reason="not available", required="Ordinaut must start"),
    )


@pytest.fixture(scope="module")
def demo_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo's API process on its own, for comparing its OpenAPI document with
    Ordinaut's: it serves the document with no database or Redis behind it (both point at
    a closed port), so these tests need no demo stack beside Ordinaut."""
    import secrets

    from demo.stack import app

    env = app.python_env()
    env.update(
        {
            "DATABASE_URL": "postgresql://golive@127.0.0.1:1/none",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        }
    )
    with demo_api_process(env, tmp_path_factory.mktemp("demo-api"), REPO) as url:
        yield url


def _table_counters(dsn: str) -> dict[str, tuple[int, int, int]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows if r[0] not in BACKGROUND_TABLES}


def alertmanager_get(url: str, path: str) -> list[dict[str, Any]]:
    """GET a list from Alertmanager's v2 API."""
    with urllib.request.urlopen(url + path, timeout=10) as resp:
        data: list[dict[str, Any]] = json.load(resp)
    return data


@dataclass
class Snapshot:
    """What golive could change: table counters, Alertmanager's alerts and silences."""

    tables: dict[str, tuple[int, int, int]]
    alerts: list[tuple[str, str]]  # (fingerprint, endsAt) of alerts not from Prometheus's rules
    silences: list[dict[str, Any]]
    audit_rows: int


def snapshot(stack: UpstreamStack) -> Snapshot:
    """The state of ``stack`` that a read-only run must leave as it is."""
    alerts = [
        (a["fingerprint"], a["endsAt"])
        for a in alertmanager_get(stack.alertmanager_url, "/api/v2/alerts")
        if "/graph?g0.expr=" not in str(a.get("generatorURL", ""))  # Prometheus's rules
    ]
    with psycopg.connect(stack.database_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    return Snapshot(
        tables=_table_counters(stack.admin_dsn.rsplit("/", 1)[0] + "/orchestrator"),
        alerts=sorted(alerts),
        silences=sorted(
            alertmanager_get(stack.alertmanager_url, "/api/v2/silences"), key=lambda s: s["id"]
        ),
        audit_rows=int(row[0]) if row else 0,
    )


@dataclass
class GoliveRun:
    """One golive run against Ordinaut: its report and the target's state around it."""

    report: dict[str, Any]
    before: Snapshot
    after: Snapshot
    returncode: int
    output: str
    html: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def result(self, check_id: str) -> dict[str, Any]:
        """The result of one check."""
        return next(r for r in self.report["results"] if r["id"] == check_id)

    def writing_ids(self) -> list[str]:
        """The checks of this run that write (run only with --allow-writes)."""
        return [r["id"] for r in self.report["results"] if r["writes"]]


def run_golive(stack: UpstreamStack, tmp: Path, *flags: str, settle: bool = True) -> GoliveRun:
    """Run the checklist with demo/upstream.yaml against ``stack`` (the whole of it unless
    ``flags`` select checks). ``settle``: take the state before the run once PostgreSQL's
    statistics have settled (needed where the run must be shown to change no counter)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "DOCKER_"))}
    env.update(stack.env())
    before = quiet_snapshot(stack) if settle else snapshot(stack)
    out_json, out_html = tmp / "run.json", tmp / "run.html"
    argv = [sys.executable, "-m", "golive", "run", "-c", "golive.yaml", "-c", "demo/upstream.yaml"]
    proc = subprocess.run(
        [*argv, *flags, "-o", f"json:{out_json}", "-o", f"html:{out_html}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out_json.is_file(), f"golive wrote no report (exit {proc.returncode}):\n{proc.stderr}"
    after = settled_snapshot(stack, before)
    return GoliveRun(
        report=json.loads(out_json.read_text()),
        before=before,
        after=after,
        returncode=proc.returncode,
        output=proc.stdout + proc.stderr,
        html=out_html.read_text(),
    )


def quiet_snapshot(stack: UpstreamStack, quiet: float = 11.0, limit: float = 60.0) -> Snapshot:
    """The state before a run, once the statistics of earlier writes (by earlier tests or
    Ordinaut's own sessions) have landed: unchanged for ``quiet`` seconds, PostgreSQL 15's
    PGSTAT_IDLE_INTERVAL plus a margin, or whatever it is after ``limit`` seconds."""
    start = since = time.monotonic()
    last = snapshot(stack)
    while True:
        time.sleep(0.5)
        now = snapshot(stack)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet or time.monotonic() - start > limit:
            return now


def settled_snapshot(stack: UpstreamStack, before: Snapshot, quiet: float = 11.0) -> Snapshot:
    """The state after a run, once PostgreSQL has flushed the statistics of the sessions
    that are still open: a backend reports its counters when it goes idle, at the latest
    10 s later (PostgreSQL 15's PGSTAT_IDLE_INTERVAL). Returns as soon as anything differs
    from ``before``, else after ``quiet`` seconds without a difference."""
    deadline = time.monotonic() + quiet
    while True:
        now = snapshot(stack)
        if now != before or time.monotonic() > deadline:
            return now
        time.sleep(0.5)


@pytest.fixture(scope="session")
def readonly_run(upstream: UpstreamStack, tmp_path_factory: pytest.TempPathFactory) -> GoliveRun:
    """The whole checklist, read-only."""
    return run_golive(upstream, tmp_path_factory.mktemp("readonly"))


@pytest.fixture(scope="session")
def writes_run(
    upstream: UpstreamStack, readonly_run: GoliveRun, tmp_path_factory: pytest.TempPathFactory
) -> GoliveRun:
    """The checks that write, with ``--allow-writes`` (after the read-only run, which judged
    every other check and skipped these). Only their side effects and their clean-up are
    compared, not PostgreSQL's counters, so the state before needs no settling."""
    selected = [a for i in readonly_run.writing_ids() for a in ("--check", i)]
    return run_golive(
        upstream, tmp_path_factory.mktemp("writes"), "--allow-writes", *selected, settle=False
    )


@pytest.fixture(scope="session")
def judged(readonly_run: GoliveRun, writes_run: GoliveRun) -> dict[str, dict[str, Any]]:
    """Every check's result against Ordinaut: the writing checks' from the --allow-writes
    run, the others' from the read-only run."""
    out = {r["id"]: r for r in readonly_run.report["results"]}
    out.update({r["id"]: r for r in writes_run.report["results"]})
    return out
