"""Renderers: pure functions `render(run) -> str | bytes`, looked up by format name.

Built-in formats map to dotted paths and are imported on use; third-party formats load
through the `golive.reports` entry-point group the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from golive.errors import UsageError
from golive.models import Run

Renderer = Callable[[Run], "str | bytes"]

BUILTIN: dict[str, str] = {
    "console": "golive.reports.console:render",
    "json": "golive.reports.json:render",
    "html": "golive.reports.html:render",
    "junit": "golive.reports.junit:render",
    "markdown": "golive.reports.markdown:render",
    "sarif": "golive.reports.sarif:render",
    "prometheus": "golive.reports.prometheus:render",
}

EXTENSIONS: dict[str, str] = {
    "console": "txt",
    "json": "json",
    "html": "html",
    "junit": "xml",
    "markdown": "md",
    "sarif": "sarif",
    "prometheus": "prom",
}


def formats() -> list[str]:
    """Every format that has a renderer installed."""
    names = [n for n, path in BUILTIN.items() if _exists(path)]
    names += [n for n in _entry_points() if n not in names]
    return names


def _exists(path: str) -> bool:
    import importlib.util

    module = path.split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _entry_points() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group="golive.reports")}


def get(name: str) -> Renderer:
    """The renderer of a format; unknown formats are usage errors."""
    path = BUILTIN.get(name) or _entry_points().get(name)
    if path is None or (name in BUILTIN and not _exists(path)):
        raise UsageError(f"unknown report format {name!r}; formats: {', '.join(formats())}")
    module, _, attr = path.partition(":")
    fn: Renderer = getattr(importlib.import_module(module), attr or "render")
    return fn
