"""The running API, over HTTP: health, metrics and OpenAPI, authentication, validation.

Read-only: nothing is created. A create request with an invalid schedule or an unknown
agent is refused before anything is written, and the token endpoint issues a token
without storing it.
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest


@pytest.fixture(scope="module")
def anon(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def authed(api_url: str, api_token: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {api_token}"}
    with httpx.Client(base_url=api_url, timeout=10, headers=headers) as client:
        yield client


def test_health_reports_every_component_healthy(anon: httpx.Client) -> None:
    r = anon.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy", body
    assert {"database", "redis", "workers", "scheduler"} <= set(body["checks"])
    assert all(c["status"] == "healthy" for c in body["checks"].values()), body["checks"]


def test_readiness_and_liveness(anon: httpx.Client) -> None:
    assert anon.get("/health/ready").json()["status"] == "ready"
    assert anon.get("/health/live").json() == {"status": "alive"}


def test_metrics_expose_the_monitored_series(anon: httpx.Client) -> None:
    r = anon.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    for name in (
        "ord_http_requests_total",
        "database_connections",
        "task_processing_rate",
        "worker_active_count",
    ):
        assert f"\n{name}" in r.text or r.text.startswith(name), name


def test_openapi_documents_the_task_endpoints(anon: httpx.Client) -> None:
    paths = anon.get("/openapi.json").json()["paths"]
    assert {"/tasks/", "/tasks/{task_id}", "/runs/", "/agents/auth/token"} <= set(paths)


def _forged(agent_id: str) -> str:
    """A well-formed token for a real agent, signed with a key the API does not know."""
    now = int(time.time())
    claims = {"sub": agent_id, "iat": now, "exp": now + 600, "typ": "access"}
    return jwt.encode(claims, secrets.token_urlsafe(48), algorithm="HS256")


@pytest.mark.parametrize(
    "kind", ["none", "bearer without token", "basic auth", "unknown agent", "forged signature"]
)
def test_protected_endpoints_refuse_requests_without_a_valid_token(
    anon: httpx.Client, agent_id: str, kind: str
) -> None:
    headers = {
        "none": {},
        "bearer without token": {"Authorization": "Bearer"},
        "basic auth": {"Authorization": "Basic " + base64.b64encode(b"ops:ops").decode()},
        "unknown agent": {"Authorization": f"Bearer {uuid.uuid4()}"},
        "forged signature": {"Authorization": f"Bearer {_forged(agent_id)}"},
    }[kind]
    for path in ("/tasks/", "/runs/", "/agents/"):
        assert anon.get(path, headers=headers).status_code == 401, (path, kind)


def test_a_known_agent_gets_a_working_token(anon: httpx.Client, agent_id: str) -> None:
    r = anon.post("/agents/auth/token", json={"agent_id": agent_id})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    agents = anon.get("/agents/", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert agents.status_code == 200
    assert "system" in {a["name"] for a in agents.json()}


def test_an_unknown_agent_gets_no_token(anon: httpx.Client) -> None:
    r = anon.post("/agents/auth/token", json={"agent_id": str(uuid.uuid4())})
    assert r.status_code == 401


def test_task_input_is_validated_before_anything_is_written(
    authed: httpx.Client, agent_id: str
) -> None:
    base = {
        "title": "validation probe",
        "description": "must not be stored",
        "created_by": agent_id,
        "schedule_kind": "cron",
        "payload": {"pipeline": []},
    }
    r = authed.post("/tasks/", json={**base, "schedule_expr": "61 * * * *"})
    assert r.status_code == 422
    assert "invalid cron expression" in r.text
    r = authed.post("/tasks/", json={**base, "schedule_expr": "0 * * * *", "priority": 10})
    assert r.status_code == 422
    r = authed.post(
        "/tasks/", json={**base, "schedule_expr": "0 * * * *", "created_by": str(uuid.uuid4())}
    )
    assert r.status_code == 422
    assert "unknown agent" in r.text
    listed = authed.get("/tasks/", params={"title_prefix": "validation probe"})
    assert listed.status_code == 200 and listed.json() == []


def test_unknown_tasks_and_runs_are_404(authed: httpx.Client) -> None:
    assert authed.get(f"/tasks/{uuid.uuid4()}").status_code == 404
    assert authed.get(f"/runs/{uuid.uuid4()}").status_code == 404


def test_the_collection_without_a_slash_redirects(authed: httpx.Client) -> None:
    r = authed.get("/tasks", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"].endswith("/tasks/")
