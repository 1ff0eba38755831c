"""What the targets keep of golive's visit: collected at the end of a run, for the report.

golive removes what it creates (tasks, audit rows, test alerts). What it cannot and should
not remove is the targets' own history of the visit: the audit rows an API writes for the
token golive requested and for the requests made with it, or the notifications that
Alertmanager sent for a test alert. Checks report theirs in their evidence under
``side_effects`` (a list of ``{"target", "what", "records"}``); the run adds the token
requests of the API target and the ``audit_log`` rows written for that agent during the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from golive.models import CheckResult, SideEffect

if TYPE_CHECKING:
    from golive.redact import Redactor
    from golive.targets import Targets

AUDIT_QUERY = (
    "SELECT id::text AS id, action, subject_id::text AS subject_id, at"
    " FROM audit_log WHERE actor_agent_id::text = %s AND at >= %s ORDER BY audit_log.id LIMIT 200"
)


def from_results(results: Sequence[CheckResult]) -> list[SideEffect]:
    """Side effects that checks recorded in their evidence."""
    out: list[SideEffect] = []
    for r in results:
        entries = r.evidence.get("side_effects") if isinstance(r.evidence, Mapping) else None
        for entry in entries or []:
            if isinstance(entry, Mapping) and entry.get("what"):
                out.append(
                    SideEffect(
                        target=str(entry.get("target", "")),
                        what=str(entry["what"]),
                        check=r.id,
                        records=[
                            dict(x) for x in entry.get("records") or [] if isinstance(x, Mapping)
                        ],
                    )
                )
    return out


async def collect(
    targets: Targets,
    results: Sequence[CheckResult],
    started: datetime,
    redactor: Redactor,
    timeout: float = 10.0,
) -> list[SideEffect]:
    """Every side effect of the run, secrets masked; never raises."""
    effects = from_results(results)
    try:
        effects += await asyncio.wait_for(_from_api(targets, started), timeout)
    except Exception as exc:  # the report still gets written
        effects.append(
            SideEffect(target="database", what=f"could not list the API's records: {exc}")
        )
    return [redactor.redact_obj(e) for e in effects]


async def _from_api(targets: Targets, started: datetime) -> list[SideEffect]:
    api = targets.built("api")
    requests: list[dict[str, Any]] = list(getattr(api, "token_requests", None) or [])
    if not requests:
        return []
    agents = sorted({str(r["agent_id"]) for r in requests})
    out = [
        SideEffect(
            target="api",
            what=f"golive requested {len(requests)} bearer token(s) for agent(s) "
            f"{', '.join(agents)} (POST /agents/auth/token)",
            records=requests,
        )
    ]
    if not targets.configured("database") or await targets.probe("database") is not None:
        return out
    from golive.targets.database import DatabaseTarget

    db: DatabaseTarget = targets.database
    for agent in agents:
        try:
            rows = await db.fetch(AUDIT_QUERY, (agent, started))
        except Exception as exc:
            out.append(
                SideEffect(
                    target="database",
                    what=f"could not read audit_log rows of agent {agent}: "
                    + " ".join(str(exc).split())[:200],
                )
            )
            continue
        if rows:
            actions = sorted({str(r["action"]) for r in rows})
            out.append(
                SideEffect(
                    target="database",
                    what=f"the API wrote {len(rows)} audit_log row(s) for agent {agent} during "
                    f"the run ({', '.join(actions)}): its append-only record of golive's "
                    "requests, left in place (rows of other clients acting as the same agent "
                    "in that window would be listed too)",
                    records=[{k: _plain(v) for k, v in r.items()} for r in rows],
                )
            )
    return out


def _plain(value: Any) -> Any:
    return value.isoformat(timespec="milliseconds") if isinstance(value, datetime) else value
