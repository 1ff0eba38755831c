"""FastAPI application of the reference orchestrator (``uvicorn demo.api:app``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg.rows import dict_row
from pydantic import BaseModel

from demo import metrics
from demo.auth import issue_token
from demo.config import Settings
from demo.health import health_report
from demo.pipeline import TOOLS
from demo.routes_tasks import runs_router, tasks_router
from demo.state import DB_ERRORS, AppState, app_state, current_agent, db_unavailable

log = logging.getLogger("demo.api")
# Paths that are never rate limited: probes and scrapes must keep working under load.
EXEMPT_PREFIXES = ("/health", "/metrics")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Create the process's pool and clients, and close them at shutdown."""
    app.state.core = AppState.create(Settings.from_env())
    try:
        yield
    finally:
        app.state.core.close()


app = FastAPI(
    title="Ordinaut reference orchestrator (golive demo)", version="1.0.0", lifespan=lifespan
)
app.include_router(tasks_router)
app.include_router(runs_router)


def _route_template(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


@app.middleware("http")
async def guard_and_count(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Enforce MAX_REQUEST_SIZE and the rate limit, then count the request."""
    state: AppState = request.app.state.core
    response: Response | None = None
    limit_headers: dict[str, str] = {}
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > state.settings.max_request_size:
        response = JSONResponse({"detail": "request body too large"}, status_code=413)
    elif state.settings.rate_limit_enabled and not request.url.path.startswith(EXEMPT_PREFIXES):
        client = request.client.host if request.client else "unknown"
        verdict = await run_in_threadpool(state.limiter.check, client)
        # the headers slowapi sends with `headers_enabled=True`, on every limited answer
        limit_headers = {
            "X-RateLimit-Limit": str(verdict.limit),
            "X-RateLimit-Remaining": str(verdict.remaining),
            "X-RateLimit-Reset": str(verdict.reset),
        }
        if not verdict.allowed:
            response = JSONResponse(
                {"detail": "rate limit exceeded"},
                status_code=429,
                headers={"Retry-After": str(verdict.retry_after), **limit_headers},
            )
    if response is None:
        try:
            response = await call_next(request)
        except Exception:
            # an unhandled error becomes a 500 outside this middleware: count it as one
            metrics.HTTP_REQUESTS.labels(request.method, _route_template(request), "500").inc()
            raise
        response.headers.update(limit_headers)
    metrics.HTTP_REQUESTS.labels(
        request.method, _route_template(request), str(response.status_code)
    ).inc()
    return response


@app.exception_handler(DB_ERRORS[0])
async def database_down(request: Request, exc: Exception) -> JSONResponse:
    """Answer 503, not 500, when PostgreSQL is unreachable."""
    err = db_unavailable(exc)
    return JSONResponse({"detail": err.detail}, status_code=err.status_code)


@app.get("/health")
def health(state: AppState = Depends(app_state)) -> JSONResponse:
    """Overall status plus database, redis, workers and scheduler checks."""
    report = health_report(state)
    code = 503 if report["status"] == "unhealthy" else 200
    return JSONResponse(report, status_code=code)


@app.get("/health/ready")
def ready(state: AppState = Depends(app_state)) -> JSONResponse:
    """Ready when the database and Redis answer."""
    report = health_report(state)
    ok = all(report["checks"][k]["status"] == "healthy" for k in ("database", "redis"))
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "checks": report["checks"]},
        status_code=200 if ok else 503,
    )


@app.get("/health/live")
def live() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "alive"}


@app.get("/metrics")
def metrics_endpoint(state: AppState = Depends(app_state)) -> Response:
    """Prometheus exposition; database gauges are refreshed on every scrape."""
    try:
        with state.pool.connection(timeout=2) as conn:
            metrics.refresh_gauges(conn)
    except Exception as exc:  # keep serving the counters when the database is down
        log.warning("metrics: database gauges not refreshed: %s", exc)
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


class TokenRequest(BaseModel):
    """Body of ``POST /agents/auth/token`` (Ordinaut's AgentCredentials, stricter: a UUID)."""

    agent_id: uuid.UUID
    agent_secret: str | None = None  # accepted as Ordinaut does; the demo's agents have none


@app.post("/agents/auth/token")
def token(body: TokenRequest, state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Exchange a known agent id for a JWT access token."""
    with state.pool.connection() as conn:
        found = conn.execute("SELECT 1 FROM agent WHERE id = %s", (body.agent_id,)).fetchone()
    if found is None:
        raise HTTPException(status_code=401, detail="unknown agent")
    access, expires_in = issue_token(
        body.agent_id, state.settings.jwt_secret_key, state.settings.jwt_expire_minutes
    )
    return {"access_token": access, "token_type": "bearer", "expires_in": expires_in}


@app.get("/tools")
def tools() -> dict[str, dict[str, str]]:
    """The pipeline tools the workers run (public, no database), as Ordinaut's ``/tools``."""
    return {name: {"description": text} for name, text in TOOLS.items()}


@app.get("/agents/")
def list_agents(
    _: uuid.UUID = Depends(current_agent), state: AppState = Depends(app_state)
) -> list[dict[str, Any]]:
    """All agents (authenticated)."""
    with state.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT id, name, scopes, webhook_url, created_at FROM agent ORDER BY created_at"
        ).fetchall()
    result: list[dict[str, Any]] = jsonable_encoder(rows)
    return result
