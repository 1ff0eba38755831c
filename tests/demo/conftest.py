"""Helpers for the reference-stack tests: API client, database access, polling."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import psycopg
import pytest

from demo.stack import Stack
from demo.stack.app import reset_rate_limits

T = TypeVar("T")


def poll(
    fetch: Callable[[], T], ok: Callable[[T], bool], timeout: float = 20, what: str = "condition"
) -> T:
    """Call ``fetch`` until ``ok(value)``; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not ok(value):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached after {timeout}s; last value: {value!r}")
        time.sleep(0.1)
        value = fetch()
    return value


def stays(fetch: Callable[[], T], ok: Callable[[T], bool], duration: float) -> T:
    """Assert ``ok(fetch())`` holds for ``duration`` seconds (checking that nothing happens)."""
    deadline = time.monotonic() + duration
    value = fetch()
    while time.monotonic() < deadline:
        assert ok(value), f"condition broke: {value!r}"
        time.sleep(0.1)
        value = fetch()
    assert ok(value), f"condition broke: {value!r}"
    return value


def query(dsn: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement on a fresh connection and return its rows."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture(autouse=True)
def _fresh_rate_limits(stack: Stack) -> None:
    """Each test starts with empty rate-limit windows (one test bursts past the limit)."""
    reset_rate_limits(stack)


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    """Authenticated API client (system agent's bearer token)."""
    with httpx.Client(
        base_url=stack.api_url, timeout=10, headers={"Authorization": f"Bearer {stack.api_token}"}
    ) as client:
        yield client


@pytest.fixture
def anon(stack: Stack) -> Iterator[httpx.Client]:
    """API client without credentials."""
    with httpx.Client(base_url=stack.api_url, timeout=10) as client:
        yield client


def new_task(client: httpx.Client, stack: Stack, title: str, **extra: Any) -> dict[str, Any]:
    """Create a once-task due now with a noop pipeline; return the API's JSON."""
    body = {
        "title": title,
        "description": "golive test task",
        "created_by": stack.agent_id,
        "schedule_kind": "once",
        "schedule_expr": "2000-01-01T00:00:00Z",
        "payload": {"pipeline": [{"id": "s1", "uses": "noop"}]},
    }
    body.update(extra)
    resp = client.post("/tasks/", json=body)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data
