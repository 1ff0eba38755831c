"""The database-facing sections on a production-sized database.

Goal: with 100k tasks, 1M task_run rows and 200k due_work rows (plus 100k audit rows), the
database, integrity, audit and capacity sections of the default checklist finish within
10 s together (wall time of the run, on this machine), and no statement is cancelled by the
statement timeout (checked in the results and in PostgreSQL's own log).

The data lives in its own database (`golive_bench_<hex>`, owned by the application role,
schema from demo/migrations), seeded with generate_series through the superuser DSN and
dropped at the end (`--keep` keeps it); the demo's database is untouched. The reference
stack is reused when it runs (`--state-dir`, else $GOLIVE_TEST_STACK_DIR, else
.golive-stack), or started without containers and stopped afterwards. Everything talks to
127.0.0.1 only. Prints each check's time and status, the total, and the goal on the last
line; exits 1 when the goal is missed.

    python benchmarks/db_scale.py [--state-dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.migrate import apply_migrations  # noqa: E402
from demo.stack import DEFAULT_STATE_DIR, Stack, is_up, start, stop  # noqa: E402
from golive.config import load_config  # noqa: E402
from golive.engine import Options  # noqa: E402
from golive.models import Status  # noqa: E402
from golive.testing import run_config  # noqa: E402

GOAL_SECONDS = 10.0
SECTIONS = ("database", "integrity", "audit", "capacity")
TASKS, RUNS, DUE, AUDIT = 100_000, 1_000_000, 200_000, 100_000

SEED = [
    (
        "agents",
        "INSERT INTO agent (name, scopes) SELECT 'agent-' || g, ARRAY['tasks:write']"
        " FROM generate_series(1, 49) g",
    ),
    (
        f"{TASKS:,} tasks over 90 days",
        f"""
        INSERT INTO task (title, created_by, schedule_kind, schedule_expr, priority, created_at)
        SELECT 'task ' || g, a.id, 'cron', '*/5 * * * *', 1 + g % 9,
               now() - (g % 129600) * interval '1 minute'
        FROM generate_series(1, {TASKS}) g
        JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS n FROM agent) a
          ON a.n = g % 50""",
    ),
    (
        "task ordinals",
        "CREATE TABLE bench_task_n AS"
        " SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM task",
    ),
    (
        f"{RUNS:,} task runs over 30 days",
        f"""
        INSERT INTO task_run (task_id, lease_owner, started_at, finished_at, success, attempt,
                              created_at)
        SELECT t.id, 'w' || (g % 4), c, c + interval '2 seconds', g % 20 <> 0, 1, c
        FROM (SELECT g, now() - (g % 43200) * interval '1 minute' AS c
              FROM generate_series(1, {RUNS}) g) s
        JOIN bench_task_n t ON t.n = s.g % {TASKS}""",
    ),
    (
        f"{DUE:,} queued work items",
        f"""
        INSERT INTO due_work (task_id, run_at, created_at)
        SELECT t.id, CASE WHEN g <= 5 THEN now() - interval '2 seconds'
                          ELSE now() + (g % 10080) * interval '1 minute' END, now()
        FROM generate_series(1, {DUE}) g JOIN bench_task_n t ON t.n = g % {TASKS}""",
    ),
    (
        f"{AUDIT:,} audit rows over 30 days",
        f"""
        INSERT INTO audit_log (actor_agent_id, action, subject_id, details, at)
        SELECT (SELECT id FROM agent WHERE name = 'system'),
               (ARRAY['task.created', 'task.paused', 'task.resumed', 'task.canceled'])[1 + g % 4],
               t.id, '{{}}'::jsonb, now() - (g % 43200) * interval '1 minute'
        FROM generate_series(1, {AUDIT}) g JOIN bench_task_n t ON t.n = g % {TASKS}""",
    ),
    (
        "worker heartbeats",
        "INSERT INTO worker_heartbeat (worker_id, processed_count)"
        " SELECT 'w' || g, 250000 FROM generate_series(0, 3) g",
    ),
    ("drop ordinals", "DROP TABLE bench_task_n"),
]


def on_db(dsn: str, name: str) -> str:
    return dsn.rsplit("/", 1)[0] + f"/{name}"


def create_database(stack: Stack) -> str:
    name = f"golive_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER orchestrator").format(sql.Identifier(name)))
    with psycopg.connect(on_db(stack.admin_dsn, name), autocommit=True) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute("ALTER SCHEMA public OWNER TO orchestrator")
    apply_migrations(on_db(stack.database_dsn, name))
    return name


def seed(stack: Stack, name: str) -> None:
    with psycopg.connect(on_db(stack.admin_dsn, name), autocommit=True) as conn:
        for label, statement in SEED:
            t0 = time.perf_counter()
            conn.execute(statement)
            print(f"  seeded {label:32s} {time.perf_counter() - t0:6.1f} s", flush=True)
        t0 = time.perf_counter()
        conn.execute("VACUUM (ANALYZE)")  # what autovacuum would have done on a live system
        print(f"  {'vacuum analyze':39s} {time.perf_counter() - t0:6.1f} s", flush=True)


def log_size(stack: Stack) -> int:
    try:
        return stack.path("pg_log").stat().st_size
    except (KeyError, OSError):
        return 0


def timeouts_in_log(stack: Stack, offset: int) -> list[str]:
    """Lines of PostgreSQL's log, written since `offset`, about cancelled statements."""
    try:
        with stack.path("pg_log").open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except (KeyError, OSError):
        return []
    return [line for line in text.splitlines() if "statement timeout" in line]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("GOLIVE_TEST_STACK_DIR", DEFAULT_STATE_DIR)),
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    stack = Stack.load(args.state_dir)
    started_here = stack is None or not is_up(stack)
    if started_here:
        print(f"starting the reference stack in {args.state_dir} ...", flush=True)
        stack = start(args.state_dir, with_containers=False)
    assert stack is not None
    name = ""
    try:
        t0 = time.perf_counter()
        name = create_database(stack)
        print(f"database {name}: seeding", flush=True)
        seed(stack, name)
        print(f"seeded in {time.perf_counter() - t0:.1f} s", flush=True)
        with psycopg.connect(on_db(stack.admin_dsn, name)) as conn:
            size = conn.execute(
                "SELECT pg_size_pretty(pg_database_size(current_database()))"
            ).fetchone()
        print(f"database size: {size[0] if size else '?'}")

        config = load_config(
            [str(ROOT / "golive.yaml")],
            env={
                "GOLIVE_DATABASE_DSN": on_db(stack.database_dsn, name),
                "GOLIVE_PROJECT_ROOT": str(stack.project_root),
                "GOLIVE_BACKUP_DIR": str(stack.backup_dir),
            },
        )
        offset = log_size(stack)
        t0 = time.perf_counter()
        run = run_config(config, sections=SECTIONS, options=Options(allow_writes=True))
        wall = time.perf_counter() - t0
        # a check's duration in a run includes its wait for a concurrency slot: time each
        # check in a run of its own as well
        alone = [
            run_config(config, checks=[r.id], options=Options(allow_writes=True)).results[0]
            for r in run.results
        ]
        timeouts = timeouts_in_log(stack, offset)
    finally:
        if name and not args.keep:
            with psycopg.connect(stack.admin_dsn, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        if started_here:
            stop(stack, purge=True)  # the state dir was prepared by this run

    own = {r.id: r.duration for r in alone}
    print(f"\n{'check':28s} {'alone':>8s} {'in run':>8s}  status  summary")
    for r in run.results:
        print(
            f"{r.id:28s} {own[r.id] * 1000:5.0f} ms {r.duration * 1000:5.0f} ms  "
            f"{r.status.value:6s}  {r.summary[:80]}"
        )
    results = [*run.results, *alone]
    errors = [r for r in results if r.status is Status.ERROR]
    cancelled = [r for r in results if "statement timeout" in r.summary]
    print(
        f"\nchecks: {len(run.results)}; each alone in turn: {sum(own.values()):.2f} s; "
        f"run with concurrency {config.defaults.concurrency}: {wall:.2f} s wall time"
    )
    for line in timeouts:
        print(f"postgres log: {line}")
    ok = wall <= GOAL_SECONDS and not errors and not cancelled and not timeouts
    why = (
        ""
        if ok
        else (
            f" ({len(errors)} error(s), {len(cancelled) + len(timeouts)} statement timeout(s))"
            if wall <= GOAL_SECONDS
            else ""
        )
    )
    print(
        f"goal: {', '.join(SECTIONS)} on {TASKS:,} tasks / {RUNS:,} runs / {DUE:,} queued <= "
        f"{GOAL_SECONDS:g} s with no statement timeout -> {'met' if ok else 'MISSED'} "
        f"({wall:.2f} s){why}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
