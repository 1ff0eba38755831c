"""The post-deploy smoke test of DEPLOYMENT_RUNBOOK.md (section 5.4), run by ``up``.

Through the real API, as the system agent: create a ``once`` task due now with a ``noop``
pipeline, wait until a worker has run it successfully, then delete it. A stack whose
API, scheduler and workers do not work together fails to start instead of failing later
checks. What stays behind is what a real deployment's smoke test leaves: the
application's own ``task.created`` and ``task.deleted`` rows in ``audit_log``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any

from demo.stack import procs
from demo.stack.model import Stack

TITLE = "deploy-smoke"


def _call(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        stack.api_url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {stack.api_token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            raw = resp.read()
            return int(resp.status), json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8", "replace")[:300]


def run(stack: Stack, timeout: float = 20) -> dict[str, Any]:
    """Create, watch and delete the smoke task; return its run. Raise ServiceFailed."""
    log = stack.state_dir / "logs" / "api.log"
    status, task = _call(
        stack,
        "POST",
        "/tasks/",
        {
            "title": TITLE,
            "description": "post-deploy smoke test (DEPLOYMENT_RUNBOOK.md, section 5.4)",
            "created_by": stack.agent_id,
            "schedule_kind": "once",
            "schedule_expr": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "payload": {"pipeline": [{"id": "s1", "uses": "noop"}]},
        },
    )
    if status != 201:
        raise procs.ServiceFailed("smoke test", f"POST /tasks/ answered {status}: {task}", log)
    runs: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            status, found = _call(stack, "GET", f"/runs/?task_id={task['id']}")
            runs = found if status == 200 and isinstance(found, list) else []
            if runs and runs[0].get("finished_at"):
                break
            time.sleep(0.1)
    finally:
        deleted, _ = _call(stack, "DELETE", f"/tasks/{task['id']}")
    if not runs or runs[0].get("success") is not True:
        what = f"its run failed: {runs[0].get('error')}" if runs else f"no run in {timeout:g}s"
        raise procs.ServiceFailed("smoke test", f"task {task['id']}: {what}", log)
    if deleted != 204:
        raise procs.ServiceFailed("smoke test", f"DELETE /tasks/{task['id']} answered {deleted}")
    return runs[0]
