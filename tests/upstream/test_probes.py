"""golive's API probes against the real Ordinaut 2.2.2, and the demo's honesty about it.

Ordinaut runs on loopback through :mod:`demo.upstream` (the session ``upstream`` fixture:
its own API, scheduler and workers on real PostgreSQL and Redis); the demo's API process
through the ``demo_api`` fixture. Both serve their own ``/openapi.json``:

* every operation golive calls with its default parameters is one Ordinaut serves, and
  the demo's request schema for it is at least as strict as Ordinaut's (required fields,
  types, enums, patterns, bounds), so that a probe body the demo accepts is one Ordinaut
  accepts too;
* the probes reach Ordinaut's real behaviour instead of stopping at golive's own
  assumptions: the task probe's body satisfies Ordinaut's schema (its creates answer 500
  yet store the task, and its scheduler never runs them), and the rate-limit probe bursts
  endpoints Ordinaut serves (its slowapi limiter is configured but never installed).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from golive.config import ApiTarget as ApiConfig
from golive.models import Status
from golive.openapi import OpenApi
from golive.targets.api import ApiTarget
from golive.testing import run_check

if TYPE_CHECKING:
    from demo.upstream import UpstreamStack

pytestmark = pytest.mark.integration


def _document(url: str) -> OpenApi:
    """The API's OpenAPI document as golive fetches it: a 429 (the demo's limiter, spent by
    an earlier burst test in the same window) is waited out as its Retry-After says,
    within 90 s."""

    async def fetch() -> OpenApi:
        api = ApiTarget(ApiConfig(url=url, timeout=30))
        try:
            return await api.openapi(asyncio.get_running_loop().time() + 90)
        finally:
            await api.close()

    return asyncio.run(fetch())


def _default(func: Any, name: str) -> Any:
    return inspect.signature(func).parameters[name].default


def default_operations() -> list[tuple[str, str]]:
    """(method, path) of every API operation golive calls with its default parameters."""
    from checks import final, performance, security

    ops: list[tuple[str, str]] = [
        ("POST", "/agents/auth/token"),  # ApiTarget.token, security.jwt_expiry
        ("GET", ApiConfig().health_path),  # the API probe, final.health, the monitor
        ("POST", _default(performance.task_throughput, "tasks_path")),
        ("POST", "/tasks/{task_id}/cancel"),  # the task probe's clean-up
    ]
    ops += [("GET", path) for path in _default(performance.api_latency, "endpoints")]
    for endpoint in _default(security.auth_required, "endpoints"):
        method, _, path = endpoint.partition(" ")
        ops.append((method, path))
    assert _default(security.rate_limit_enforced, "path") is None  # found, not assumed
    assert _default(final.health, "path") is None  # targets.api.health_path
    return sorted(set(ops))


def _normal(schema: Any) -> dict[str, Any]:
    """A schema with `allOf: [X]` merged and `anyOf: [X, null]` read as X plus nullable."""
    if not isinstance(schema, Mapping):
        return {}
    out = {k: v for k, v in schema.items() if k not in ("allOf", "anyOf")}
    for part in schema.get("allOf", []):
        out.update(_normal(part))
    options = [o for o in schema.get("anyOf", []) if isinstance(o, Mapping)]
    if options:
        real = [o for o in options if o.get("type") != "null"]
        if len(options) != len(real):
            out["nullable"] = True
        if len(real) == 1:
            out.update(_normal(real[0]))
        elif real:
            out["anyOf"] = real
    return out


def looser(upstream: Any, demo: Any, where: str = "body") -> list[str]:
    """Every way the demo's schema accepts what Ordinaut's refuses (empty: as strict)."""
    up, dm = _normal(upstream), _normal(demo)
    found: list[str] = []
    if dm.get("nullable") and not up.get("nullable"):
        found.append(f"{where}: the demo accepts null")
    if "type" in up and dm.get("type") != up["type"]:
        found.append(f"{where}: type {dm.get('type')!r}, Ordinaut's is {up['type']!r}")
    if "enum" in up and not set(dm.get("enum", [object()])) <= set(up["enum"]):
        found.append(f"{where}: enum {dm.get('enum')}, Ordinaut's is {up['enum']}")
    if "pattern" in up and dm.get("pattern") != up["pattern"]:
        found.append(f"{where}: pattern {dm.get('pattern')!r}, Ordinaut's is {up['pattern']!r}")
    for key, stricter in (
        ("minimum", max),
        ("minLength", max),
        ("maximum", min),
        ("maxLength", min),
    ):
        if key in up and (key not in dm or stricter(dm[key], up[key]) != dm[key]):
            found.append(f"{where}: {key} {dm.get(key)}, Ordinaut's is {up[key]}")
    up_props, dm_props = up.get("properties", {}), dm.get("properties", {})
    for name in sorted(set(up.get("required", [])) - set(dm.get("required", []))):
        found.append(f"{where}.{name}: required by Ordinaut, optional in the demo")
    for name, sub in up_props.items():
        if name not in dm_props:
            found.append(f"{where}.{name}: not declared by the demo")
        else:
            found += looser(sub, dm_props[name], f"{where}.{name}")
    return found


def test_the_strictness_comparison_finds_a_looser_schema() -> None:
    upstream = {
        "type": "object",
        "required": ["title", "timezone"],
        "properties": {
            "title": {"type": "string", "maxLength": 200},
            "timezone": {"type": "string", "pattern": "^[A-Za-z]+/[A-Za-z_]+$"},
            "priority": {"type": "integer", "minimum": 1, "maximum": 9},
            "kind": {"allOf": [{"enum": ["once", "cron"], "type": "string"}]},
        },
    }
    demo = {
        "type": "object",
        "required": ["title"],
        "properties": {
            "title": {"anyOf": [{"type": "string", "maxLength": 500}, {"type": "null"}]},
            "timezone": {"type": "string"},
            "priority": {"type": "integer", "minimum": 1},
            "kind": {"enum": ["once", "cron", "event"], "type": "string"},
        },
    }
    assert looser(upstream, demo) == [
        "body.timezone: required by Ordinaut, optional in the demo",
        "body.title: the demo accepts null",
        "body.title: maxLength 500, Ordinaut's is 200",
        "body.timezone: pattern None, Ordinaut's is '^[A-Za-z]+/[A-Za-z_]+$'",
        "body.priority: maximum None, Ordinaut's is 9",
        "body.kind: enum ['once', 'cron', 'event'], Ordinaut's is ['once', 'cron']",
    ]
    assert looser(upstream, upstream) == []


def test_the_demo_is_at_least_as_strict_as_ordinaut(demo_api: str, upstream: UpstreamStack) -> None:
    """Both APIs running: for every operation golive calls by default, Ordinaut serves it
    and the demo's request schema is at least as strict as Ordinaut's."""
    up_doc, demo_doc = _document(upstream.api_url), _document(demo_api)
    compared = []
    for method, path in default_operations():
        up_op = up_doc.find(method, path)
        assert up_op is not None, f"golive calls {method} {path} by default; Ordinaut has none"
        demo_op = demo_doc.find(method, path)
        assert demo_op is not None, f"the demo does not serve {method} {path}"
        up_schema = up_op.request_schema()
        if up_schema is None:
            continue
        demo_schema = demo_op.request_schema()
        assert demo_schema is not None, f"{up_op.label}: the demo documents no body"
        assert looser(up_schema, demo_schema) == [], up_op.label
        compared.append(up_op.label)
    assert compared == ["POST /agents/auth/token", "POST /tasks/"]


def _targets(upstream: UpstreamStack) -> dict[str, Any]:
    return {
        "api": {"url": upstream.api_url, "agent_id": upstream.agent_id, "timeout": 15},
        "database": {"dsn": upstream.database_dsn},
        "project": {"root": str(upstream.project_root), "env_files": ["ops/.env"]},
    }


def test_task_throughput_reaches_ordinauts_real_behaviour(upstream: UpstreamStack) -> None:
    """The body satisfies Ordinaut's schema (an Area/City time zone), so the verdict is
    about Ordinaut: creates answered 500 that stored the task, and a scheduler that never
    ran them. Ordinaut documents no DELETE: the tasks are canceled, then removed from the
    database."""
    r = run_check(
        "performance.task_throughput",
        targets=_targets(upstream),
        params={"tasks": 5, "due_in": 1, "grace": 5},
        allow_writes=True,
        timeout=60,
    )
    assert r.status is Status.FAIL, r.summary
    assert r.summary.startswith(
        "5 probe tasks are stored (5 answered with an error) but none started within 5s"
    )
    assert r.evidence["request"]["adjusted_to_schema"] == {"timezone": "Etc/UTC"}
    assert r.evidence["request"]["removal"] == "cancel"
    assert r.evidence["tasks"]["stored_despite_error_answer"] == 5
    assert r.evidence["submissions"][0]["answer"] == "HTTP 500"
    # Ordinaut documents no DELETE: canceled through the API, then removed in SQL
    assert r.evidence["cleanup"]["canceled"] == 5
    assert r.evidence["cleanup"]["removed_from_database"] == 5
    assert "leftovers" not in r.evidence["cleanup"]
    with psycopg.connect(upstream.database_dsn) as conn:
        left = conn.execute(
            "SELECT count(*) FROM task WHERE title LIKE %s", (r.evidence["marker"] + "%",)
        ).fetchone()
    assert left == (0,)


def test_rate_limit_enforced_bursts_endpoints_ordinaut_serves(upstream: UpstreamStack) -> None:
    """Ordinaut configures slowapi with 60/min but never installs its middleware: the
    bursts of endpoints found in its OpenAPI document all get through."""
    r = run_check(
        "security.rate_limit_enforced",
        targets=_targets(upstream),
        params={"max_endpoints": 2},
        timeout=60,
    )
    assert r.status is Status.FAIL, r.summary
    assert r.evidence["limit_per_minute"] == 60
    assert "though it is configured (60/min" in r.summary
    bursts = r.evidence["bursts"]
    assert len(bursts) == 2
    assert all(set(b["statuses"]) == {"200"} for b in bursts)
    assert all(b["found_by"].startswith("GET /openapi.json") for b in bursts)


def test_auth_required_reads_ordinauts_validation_answers(upstream: UpstreamStack) -> None:
    """Ordinaut answers 422 when the Authorization header is missing (a rejection, read
    from its reason), 500 to forged tokens, and 422 about the body to a token signed with
    the compose file's default key: that token got past authentication."""
    r = run_check("security.auth_required", targets=_targets(upstream), timeout=60)
    assert r.status is Status.FAIL, r.summary
    rows = r.evidence["requests"]
    anonymous = [x for x in rows if x["request"] == "no token"]
    assert {x["verdict"] for x in anonymous} == {"rejected"}
    assert all("authorization" in x["reason"].lower() for x in anonymous)
    accepted = [x for x in rows if x["verdict"] == "accepted"]
    assert {x["request"] for x in accepted} == {"token signed with a well-known default key"}
    assert "POST /tasks/" in {x["endpoint"] for x in accepted}
    assert "dev-secret-key-change-in-production" not in str(r.evidence)
