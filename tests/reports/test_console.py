"""reports/console.py: the live progress display on a terminal."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
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


# ------------------------------------------------------------------ layout at 80 and 200 columns

LONG = (
    "the API answered 37 of 40 probes within 200 ms, but three took longer than the limit "
    "(1.2 s, 1.4 s and 2.9 s) at http://127.0.0.1:8080/health/ready?verbose=true&component="
    "database-and-redis-and-scheduler-heartbeat-and-queue-depth, and the tail is end-of-summary"
)
LONG_FAIL = "x" * 30 + " failing summary that must reach the CI log whole, ending in tail-of-fail"


def _golive_run(tmp_path: Path, columns: str) -> subprocess.CompletedProcess[str]:
    """`golive run` in a real subprocess with stdout piped, as in a CI log."""
    cfg = {
        "version": 1,
        "plugin_paths": [str(Path(__file__).with_name("console_checks.py"))],
        "sections": {
            "layout": {
                "checks": [
                    {
                        "id": "layout.a_check_with_a_rather_long_identifier_for_narrow_terminals",
                        "params": {"summary": LONG},
                    },
                    {"id": "layout.short", "params": {"summary": LONG_FAIL, "fail": True}},
                ]
            }
        },
    }
    path = tmp_path / "golive.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TERM")}
    env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-m", "golive", "run", "-c", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _words(text: str) -> str:
    """Text with box-drawing characters and line breaks folded to single spaces."""
    return " ".join(re.sub(r"[│┃║|]", " ", text).split())


@pytest.mark.parametrize("columns", ["80", "200"])
def test_every_summary_is_whole_in_a_piped_log(tmp_path: Path, columns: str) -> None:
    done = _golive_run(tmp_path, columns)
    assert done.returncode == 0, done.stdout + done.stderr  # a low-severity FAIL: CONDITIONAL
    out = done.stdout
    assert "CONDITIONAL" in out
    assert "…" not in out and "..." not in out, out
    assert max(len(line) for line in out.splitlines()) <= int(columns), out
    flat = _words(out)
    # wrapped, never cut: every word of each summary is there
    for summary in (LONG, LONG_FAIL):
        for word in summary.split():
            if len(word) <= 40:
                assert word in flat, (word, out)
    assert "end-of-summary" in flat and "tail-of-fail" in flat
    assert "layout.a_check_with_a_rather_long_identifier_for_narrow_terminals" in out
    if columns == "80":  # one block per result: status and id on the result's first line
        assert re.search(
            r"^PASS +layout\.a_check_with_a_rather_long_identifier_for_narrow_terminals ",
            out,
            re.M,
        ), out
        assert re.search(r"^FAIL +layout\.short ", out, re.M), out
        assert "┃ Status" not in out and "Summary" not in out
        # a word longer than a line (the URL) is folded onto the next lines, whole
        unbroken = re.sub(r"\n *", "", out)
        for word in [*LONG.split(), *LONG_FAIL.split()]:
            assert word in unbroken, (word, out)
    else:  # the wide table
        assert re.search(r"┃ Status +┃ Check +┃ Title +┃ Summary +┃ +Time ┃", out), out


def test_the_layout_follows_the_width() -> None:
    """The renderer picks blocks below WIDE columns and a table from WIDE on."""
    from reports.console import WIDE, renderables
    from tests.reports.runs import sample_run

    run = sample_run()
    narrow = Console(file=io.StringIO(), width=WIDE - 1, color_system=None)
    for item in renderables(run, width=WIDE - 1):
        narrow.print(item)
    wide = Console(file=io.StringIO(), width=WIDE, color_system=None)
    for item in renderables(run, width=WIDE):
        wide.print(item)
    assert "┃ Status" not in narrow.file.getvalue()  # type: ignore[attr-defined]
    assert "┃ Status" in wide.file.getvalue()  # type: ignore[attr-defined]
