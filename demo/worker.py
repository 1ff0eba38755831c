"""Worker process (``python -m demo.worker --id w1``).

Leases one ``due_work`` row at a time with ``FOR UPDATE SKIP LOCKED``, runs the task's
pipeline, records a ``task_run`` and deletes the row in the same transaction, so a
crash mid-run leaves the work queued. Upserts its ``worker_heartbeat`` about every second.
A failed run is retried with exponential backoff while attempts <= max_retries.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import time
from datetime import datetime, timedelta, timezone
from types import FrameType
from typing import Any

import psycopg

from demo.config import Settings
from demo.pipeline import run_pipeline

log = logging.getLogger("demo.worker")
LEASE_SECONDS = 60
_stop = False

LEASE_SQL = """
SELECT d.id, d.task_id, t.status, t.payload, t.max_retries
FROM due_work d JOIN task t ON t.id = d.task_id
WHERE d.run_at <= now() AND (d.locked_until IS NULL OR d.locked_until < now())
ORDER BY t.priority, d.run_at
LIMIT 1
FOR UPDATE OF d SKIP LOCKED
"""

ATTEMPT_SQL = """
SELECT 1 + count(*) FROM task_run
WHERE task_id = %(t)s AND success IS FALSE AND created_at > coalesce(
  (SELECT max(created_at) FROM task_run WHERE task_id = %(t)s AND success), '-infinity')
"""


def _request_stop(signum: int, frame: FrameType | None) -> None:
    global _stop
    _stop = True


def heartbeat(conn: psycopg.Connection, worker_id: str, processed: int) -> None:
    """Upsert this worker's heartbeat row."""
    conn.execute(
        "INSERT INTO worker_heartbeat (worker_id, last_seen, processed_count, pid, hostname)"
        " VALUES (%s, now(), %s, %s, %s) ON CONFLICT (worker_id) DO UPDATE SET"
        " last_seen = now(), processed_count = EXCLUDED.processed_count,"
        " pid = EXCLUDED.pid, hostname = EXCLUDED.hostname",
        (worker_id, processed, os.getpid(), socket.gethostname()),
    )


def process_one(conn: psycopg.Connection, worker_id: str) -> bool:
    """Lease, run and record one due item; return False when nothing was due."""
    with conn.transaction():
        row = conn.execute(LEASE_SQL).fetchone()
        if row is None:
            return False
        work_id, task_id, status, payload, max_retries = row
        if status != "active":  # paused or canceled tasks drop their queued occurrences
            conn.execute("DELETE FROM due_work WHERE id = %s", (work_id,))
            return True
        attempt_row = conn.execute(ATTEMPT_SQL, {"t": task_id}).fetchone()
        attempt = int(attempt_row[0]) if attempt_row else 1
        started = datetime.now(timezone.utc)
        output: dict[str, Any] | None = None
        error = None
        try:
            output = run_pipeline(payload or {})
        except Exception as exc:  # a failing pipeline is a failed run, not a crashed worker
            error = f"{type(exc).__name__}: {exc}"
        finished = datetime.now(timezone.utc)
        conn.execute(
            "INSERT INTO task_run (task_id, lease_owner, leased_until, started_at, finished_at,"
            " success, error, attempt, output) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                task_id,
                worker_id,
                started + timedelta(seconds=LEASE_SECONDS),
                started,
                finished,
                error is None,
                error,
                attempt,
                json.dumps(output) if output is not None else None,
            ),
        )
        conn.execute("DELETE FROM due_work WHERE id = %s", (work_id,))
        if error is not None and attempt <= max_retries:
            delay = min(2**attempt, 300)
            conn.execute(
                "INSERT INTO due_work (task_id, run_at)"
                " VALUES (%s, now() + make_interval(secs => %s))",
                (task_id, delay),
            )
    return True


def run(settings: Settings, worker_id: str, idle: float, beat_every: float) -> None:
    """Main loop; reconnects after database outages."""
    conn: psycopg.Connection | None = None
    processed = 0
    last_beat = 0.0
    while not _stop:
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(settings.database_url, autocommit=True, connect_timeout=3)
            if time.monotonic() - last_beat >= beat_every:
                heartbeat(conn, worker_id, processed)
                last_beat = time.monotonic()
            if process_one(conn, worker_id):
                processed += 1
                continue
        except psycopg.Error as exc:
            log.warning("worker %s: %s", worker_id, exc)
            if conn is not None and (conn.broken or conn.closed):
                conn = None
        time.sleep(idle)
    if conn is not None:
        conn.close()


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--id", default=f"{socket.gethostname()}-{os.getpid()}")
    parser.add_argument("--idle", type=float, default=0.1, help="poll interval when idle (s)")
    parser.add_argument("--heartbeat", type=float, default=1.0, help="heartbeat period (s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    log.info("worker %s started (pid %d)", args.id, os.getpid())
    run(Settings.from_env(), args.id, args.idle, args.heartbeat)
    log.info("worker %s stopped", args.id)


if __name__ == "__main__":
    main()
