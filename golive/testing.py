"""Helpers for testing checks and plugins: run checks from a config written as a dict.

    from golive.testing import run_check
    result = run_check("security.db_roles", targets={"database": {"dsn": dsn}})
    assert result.status is Status.FAIL

Everything goes through the real loader, registry, planner and runner.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from golive.config import Config, load_config
from golive.engine import Options, execute, make_redactor
from golive.models import CheckResult, Run
from golive.plan import resolve, select
from golive.registry import build_registry


def write_config(data: Mapping[str, Any], directory: str | None = None) -> str:
    """Write a golive.yaml from a dict (version 1 added when missing); returns its path."""
    doc = {"version": 1, **data}
    fd, path = tempfile.mkstemp(prefix="golive-", suffix=".yaml", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False)
    return path


def load_dict(
    data: Mapping[str, Any], directory: str | None = None, env: dict[str, str] | None = None
) -> Config:
    """Load a config dict through the real loader (the temporary file is removed)."""
    path = write_config(data, directory)
    try:
        return load_config([path], env=env or {})
    finally:
        os.unlink(path)


def run_config(
    config: Config,
    *,
    checks: Sequence[str] = (),
    sections: Sequence[str] = (),
    allow_writes: bool = False,
    options: Options | None = None,
) -> Run:
    """Run (a selection of) a loaded config's checklist and return the run."""
    registry = build_registry(config.plugin_paths)
    planned = select(resolve(config, registry), registry, config, sections=sections, checks=checks)
    opts = options or Options(allow_writes=allow_writes)
    return execute(config, planned, opts, make_redactor(config))


def run_check(
    check_id: str,
    *,
    targets: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    allow_writes: bool = False,
    timeout: float | None = None,
    directory: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> CheckResult:
    """Run one registered check with the given targets and params; returns its result."""
    section = check_id.split(".", 1)[0]
    entry: dict[str, Any] = {"id": check_id, "params": dict(params or {})}
    if timeout is not None:
        entry["timeout"] = timeout
    data: dict[str, Any] = {
        "targets": dict(targets or {}),
        "sections": {section: {"checks": [entry]}},
    }
    data.update(extra or {})
    config = load_dict(data, directory)
    run = run_config(config, checks=[check_id], allow_writes=allow_writes)
    return run.results[0]
