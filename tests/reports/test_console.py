"""reports/console.py: the live progress display on a terminal."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from reports.console import LiveProgress


def test_live_progress_shows_a_started_check_and_its_progress() -> None:
    """A started check has no total until it reports progress; rendering must not fail."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    with LiveProgress(console, total=2, enabled=True) as live:
        assert live.enabled
        live.started(SimpleNamespace(id="performance.api_latency"))
        live._progress.refresh()
        live.progress("performance.api_latency", 30, 100, "requests")
        live._progress.refresh()
    text = out.getvalue()
    assert "performance.api_latency requests" in text
    assert "30/100" in text
