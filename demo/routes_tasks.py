"""``/tasks`` and ``/runs`` endpoints."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any, Literal

import psycopg
import redis
from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.encoders import jsonable_encoder
from psycopg.rows import dict_row
from pydantic import BaseModel, Field, field_validator

from demo import schedules
from demo.config import EVENT_STREAM
from demo.state import AppState, app_state, current_agent

log = logging.getLogger("demo.api.tasks")
tasks_router = APIRouter(prefix="/tasks", tags=["tasks"])
runs_router = APIRouter(prefix="/runs", tags=["runs"])
Agent = Depends(current_agent)
State = Depends(app_state)


# The request schema is at least as strict as Ordinaut 2.2.2's TaskCreateRequest (a test
# compares the two OpenAPI documents): a probe that satisfies the demo satisfies upstream.
TIMEZONE_PATTERN = r"^[A-Za-z]+/[A-Za-z_]+$"


class TaskCreate(BaseModel):
    """Body of ``POST /tasks/``."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=2000)
    created_by: uuid.UUID
    schedule_kind: Literal["cron", "rrule", "once", "event", "condition"]
    schedule_expr: str | None = None
    timezone: str = Field(default="Etc/UTC", pattern=TIMEZONE_PATTERN)
    payload: dict[str, Any]
    priority: int = Field(default=5, ge=1, le=9)
    dedupe_key: str | None = Field(default=None, max_length=100)
    dedupe_window_seconds: int = Field(default=0, ge=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_strategy: Literal["exponential_jitter", "linear", "fixed"] = "exponential_jitter"
    concurrency_key: str | None = Field(default=None, max_length=100)

    @field_validator("payload")
    @classmethod
    def _has_pipeline(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("pipeline"), list):
            raise ValueError("payload must contain a pipeline array")
        return value


def _one(conn: psycopg.Connection, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchone()


def _audit(
    conn: psycopg.Connection,
    actor: uuid.UUID,
    action: str,
    subject: uuid.UUID,
    details: dict[str, Any],
) -> None:
    conn.execute(
        "INSERT INTO audit_log (actor_agent_id, action, subject_id, details)"
        " VALUES (%s, %s, %s, %s)",
        (actor, action, subject, json.dumps(details)),
    )


def _publish(state: AppState, event: str, task_id: uuid.UUID) -> None:
    try:
        state.redis.xadd(
            EVENT_STREAM,
            {"type": event, "task_id": str(task_id), "at": f"{time.time():.3f}"},
            maxlen=100_000,
            approximate=True,
        )
    except redis.RedisError as exc:
        log.warning("event %s for %s not published: %s", event, task_id, exc)


@tasks_router.post("/", status_code=201)
def create_task(body: TaskCreate, actor: uuid.UUID = Agent, state: AppState = State) -> Any:
    """Create a task; writes an audit_log row and publishes ``task.created``."""
    try:
        schedules.validate(body.schedule_kind, body.schedule_expr, body.timezone)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    with state.pool.connection() as conn, conn.transaction():
        if _one(conn, "SELECT 1 FROM agent WHERE id = %s", (body.created_by,)) is None:
            raise HTTPException(status_code=422, detail="created_by: unknown agent")
        try:
            task = _one(
                conn,
                "INSERT INTO task (title, description, created_by, schedule_kind, schedule_expr,"
                " timezone, payload, priority, max_retries, dedupe_key, backoff_strategy,"
                " concurrency_key) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING *",
                (
                    body.title,
                    body.description,
                    body.created_by,
                    body.schedule_kind,
                    body.schedule_expr,
                    body.timezone,
                    json.dumps(body.payload),
                    body.priority,
                    body.max_retries,
                    body.dedupe_key,
                    body.backoff_strategy,
                    body.concurrency_key,
                ),
            )
        except psycopg.errors.UniqueViolation:
            raise HTTPException(status_code=409, detail="dedupe_key already used") from None
        assert task is not None
        _audit(
            conn,
            actor,
            "task.created",
            task["id"],
            {"title": body.title, "schedule_kind": body.schedule_kind},
        )
    _publish(state, "task.created", task["id"])
    return jsonable_encoder(task)


@tasks_router.get("/")
def list_tasks(
    title_prefix: str | None = None,
    status: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    _: uuid.UUID = Agent,
    state: AppState = State,
) -> Any:
    """Tasks, newest first, optionally filtered by title prefix and status."""
    where, params = ["TRUE"], []
    if title_prefix:
        escaped = title_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("title LIKE %s")
        params.append(escaped + "%")
    if status:
        where.append("status = %s")
        params.append(status)
    sql = f"SELECT * FROM task WHERE {' AND '.join(where)} ORDER BY created_at DESC LIMIT %s"
    with state.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, (*params, limit)).fetchall()
    return jsonable_encoder(rows)


def _task_or_404(conn: psycopg.Connection, task_id: uuid.UUID) -> dict[str, Any]:
    task = _one(conn, "SELECT * FROM task WHERE id = %s", (task_id,))
    if task is None:
        raise HTTPException(status_code=404, detail="task not found")
    return task


@tasks_router.get("/{task_id}")
def get_task(task_id: uuid.UUID, _: uuid.UUID = Agent, state: AppState = State) -> Any:
    """One task."""
    with state.pool.connection() as conn:
        return jsonable_encoder(_task_or_404(conn, task_id))


def _set_status(
    task_id: uuid.UUID, status: str, action: str, actor: uuid.UUID, state: AppState
) -> Any:
    with state.pool.connection() as conn, conn.transaction():
        _task_or_404(conn, task_id)
        task = _one(
            conn, "UPDATE task SET status = %s WHERE id = %s RETURNING *", (status, task_id)
        )
        if status == "canceled":
            conn.execute("DELETE FROM due_work WHERE task_id = %s", (task_id,))
        _audit(conn, actor, action, task_id, {"status": status})
    _publish(state, action, task_id)
    return jsonable_encoder(task)


@tasks_router.post("/{task_id}/cancel")
def cancel_task(task_id: uuid.UUID, actor: uuid.UUID = Agent, state: AppState = State) -> Any:
    """Cancel a task and drop its queued work (audited)."""
    return _set_status(task_id, "canceled", "task.canceled", actor, state)


@tasks_router.post("/{task_id}/pause")
def pause_task(task_id: uuid.UUID, actor: uuid.UUID = Agent, state: AppState = State) -> Any:
    """Pause a task: the scheduler stops producing occurrences for it."""
    return _set_status(task_id, "paused", "task.paused", actor, state)


@tasks_router.post("/{task_id}/resume")
def resume_task(task_id: uuid.UUID, actor: uuid.UUID = Agent, state: AppState = State) -> Any:
    """Resume a paused task."""
    return _set_status(task_id, "active", "task.resumed", actor, state)


@tasks_router.post("/{task_id}/run_now", status_code=202)
def run_now(task_id: uuid.UUID, actor: uuid.UUID = Agent, state: AppState = State) -> Any:
    """Queue one immediate run of the task."""
    with state.pool.connection() as conn, conn.transaction():
        task = _task_or_404(conn, task_id)
        if task["status"] == "canceled":
            raise HTTPException(status_code=409, detail="task is canceled")
        work = _one(
            conn,
            "INSERT INTO due_work (task_id, run_at) VALUES (%s, now()) RETURNING id, run_at",
            (task_id,),
        )
        _audit(conn, actor, "task.run_now", task_id, {})
    assert work is not None
    return jsonable_encoder(
        {"task_id": task_id, "due_work_id": work["id"], "run_at": work["run_at"]}
    )


@tasks_router.delete("/{task_id}", status_code=204)
def delete_task(task_id: uuid.UUID, actor: uuid.UUID = Agent, state: AppState = State) -> Response:
    """Delete a task with its runs and queued work (audited).

    The scheduler may queue an occurrence, or a worker record a run, between the deletes
    of its rows and of the task itself; the task's delete then violates their foreign key,
    and the whole delete is tried again (the new rows are deleted with it)."""
    for attempt in range(5):
        try:
            with state.pool.connection() as conn, conn.transaction():
                task = _task_or_404(conn, task_id)
                conn.execute("DELETE FROM due_work WHERE task_id = %s", (task_id,))
                conn.execute("DELETE FROM task_run WHERE task_id = %s", (task_id,))
                conn.execute("DELETE FROM task WHERE id = %s", (task_id,))
                _audit(conn, actor, "task.deleted", task_id, {"title": task["title"]})
            break
        except psycopg.errors.ForeignKeyViolation:
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    return Response(status_code=204)


@runs_router.get("/")
def list_runs(
    task_id: uuid.UUID | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    _: uuid.UUID = Agent,
    state: AppState = State,
) -> Any:
    """Task runs, newest first, optionally for one task."""
    with state.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        if task_id is None:
            rows = cur.execute(
                "SELECT * FROM task_run ORDER BY created_at DESC LIMIT %s", (limit,)
            ).fetchall()
        else:
            rows = cur.execute(
                "SELECT * FROM task_run WHERE task_id = %s ORDER BY created_at DESC LIMIT %s",
                (task_id, limit),
            ).fetchall()
    return jsonable_encoder(rows)


@runs_router.get("/{run_id}")
def get_run(run_id: uuid.UUID, _: uuid.UUID = Agent, state: AppState = State) -> Any:
    """One task run."""
    with state.pool.connection() as conn:
        run = _one(conn, "SELECT * FROM task_run WHERE id = %s", (run_id,))
    if run is None:
        raise HTTPException(status_code=404, detail="run not found")
    return jsonable_encoder(run)
