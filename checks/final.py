"""Checks of the final section: the last look before the go/no-go decision."""

from __future__ import annotations

import time
from typing import Any

from golive.api import Context, Outcome, Severity, check


def _components(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, status, detail) of each component a health document reports.

    Understands `{"checks": {name: {"status": ...}}}` (Ordinaut), `{"components": ...}`
    (Spring-style), values that are plain status strings, and lists of `{"name", "status"}`.
    """
    raw = doc.get("checks", doc.get("components", doc.get("details")))
    items: list[tuple[str, Any]] = []
    if isinstance(raw, dict):
        items = [(str(k), v) for k, v in raw.items()]
    elif isinstance(raw, list):
        items = [
            (str(v.get("name") or v.get("component") or i), v)
            for i, v in enumerate(raw)
            if isinstance(v, dict)
        ]
    out = []
    for name, value in items:
        if isinstance(value, dict):
            status = str(value.get("status", value.get("state", "")))
            detail = value.get("error") or value.get("message") or value.get("reason") or ""
            if not detail:
                extras = {k: v for k, v in value.items() if k not in ("status", "state", "name")}
                detail = ", ".join(f"{k}={v}" for k, v in list(extras.items())[:4])
        else:
            status, detail = str(value), ""
        out.append((name, status, " ".join(str(detail).split())[:300]))
    return out


@check(
    id="final.health",
    severity=Severity.CRITICAL,
    title="The API health endpoint reports every component healthy",
    needs=("api",),
    remediation=(
        "Open the health endpoint, find the component that is not healthy (database, Redis, "
        "scheduler, workers) and bring it back before go-live."
    ),
)
async def health(
    ctx: Context,
    path: str | None = None,
    healthy: list[str] = ["healthy", "ok", "up", "pass", "alive"],  # noqa: B006
    require: list[str] = [],  # noqa: B006 - read-only default, validated by pydantic
) -> Outcome:
    """GETs the API's health endpoint (`targets.api.health_path` unless `path` is given)
    and proves that it answers 2xx with JSON whose overall `status` and every component's
    status (under `checks` or `components`) is one of `healthy` (case-insensitive). Every
    component named in `require` must be reported. A document without any component only
    gets a WARN: the overall flag alone does not prove the database, Redis, scheduler and
    workers are up."""
    import httpx

    where = path or ctx.api.api_cfg.health_path
    ok_values = {v.lower() for v in healthy}
    t0 = time.perf_counter()
    try:
        resp = await ctx.api.get(where, headers={"accept": "application/json"})
    except httpx.HTTPError as exc:
        return Outcome.failed(f"{where} did not answer: {ctx.api.describe(exc)}")
    elapsed_ms = (time.perf_counter() - t0) * 1000
    ctx.record("http", {"path": where, "status": resp.status_code, "ms": round(elapsed_ms, 1)})
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        kind = resp.headers.get("content-type", "no content type")
        return Outcome.failed(
            f"{where} answered HTTP {resp.status_code} with {kind}, not a JSON health document"
        )
    overall = str(doc.get("status", ""))
    components = _components(doc)
    rows = [{"component": n, "status": s, "detail": d} for n, s, d in components]
    evidence: dict[str, Any] = {"overall": overall or None, "components": rows}
    problems = []
    if resp.status_code >= 300:
        problems.append(f"{where} answered HTTP {resp.status_code}")
    if overall.lower() not in ok_values:
        problems.append(f"overall status is {overall or 'missing'!r}")
    bad = [(n, s, d) for n, s, d in components if s.lower() not in ok_values]
    for n, s, d in bad:
        problems.append(f"{n} is {s or 'without status'}" + (f" ({d})" if d and s else ""))
    names = {n for n, _, _ in components}
    missing = [r for r in require if r not in names]
    if missing:
        problems.append(f"no status for required component(s) {', '.join(missing)}")
    if problems:
        return Outcome.failed("; ".join(problems), evidence=evidence)
    if not components:
        return Outcome.warn(
            f"{where} reports {overall!r} but no component checks, so the database, Redis, "
            "scheduler and workers are not proven healthy",
            evidence=evidence,
        )
    return Outcome.passed(
        f"{where} reports {overall!r} and all {len(components)} components healthy "
        f"({', '.join(sorted(names))}) in {elapsed_ms:.0f} ms",
        evidence=evidence,
        measurements={"health_ms": elapsed_ms},
    )
