"""The tiny pipeline engine the workers run: steps ``noop``, ``echo``, ``fail``, ``sleep``."""

from __future__ import annotations

import time
from typing import Any

#: The steps ``run_pipeline`` knows, with what each does (served by ``GET /tools``).
TOOLS = {
    "noop": "does nothing and succeeds",
    "echo": "returns its `with` arguments",
    "sleep": "sleeps `with.seconds` (at most 30)",
    "fail": "fails with `with.message`",
}


class StepFailed(RuntimeError):
    """A step asked to fail (``uses: fail``) or was malformed."""


def run_pipeline(payload: dict[str, Any]) -> dict[str, Any]:
    """Run ``payload["pipeline"]`` and return ``{"steps": {step_id: result}}``."""
    steps = payload.get("pipeline") or []
    if not isinstance(steps, list):
        raise StepFailed("payload.pipeline must be a list")
    results: dict[str, Any] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            raise StepFailed(f"step {index} is not an object")
        step_id = str(step.get("id") or f"s{index + 1}")
        uses = step.get("uses")
        args = step.get("with") or {}
        if uses == "noop":
            results[step_id] = {"ok": True}
        elif uses == "echo":
            results[step_id] = {"ok": True, "echo": args}
        elif uses == "sleep":
            seconds = min(float(args.get("seconds", 0)), 30.0)
            time.sleep(seconds)
            results[step_id] = {"ok": True, "slept": seconds}
        elif uses == "fail":
            raise StepFailed(str(args.get("message", f"step {step_id} failed")))
        else:
            raise StepFailed(f"step {step_id}: unknown tool {uses!r}")
    return {"steps": results}
