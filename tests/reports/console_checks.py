"""Checks whose results carry long ids, titles and summaries, for the console layout tests."""

from __future__ import annotations

from golive.api import Context, Outcome, check


@check(
    id="layout.a_check_with_a_rather_long_identifier_for_narrow_terminals",
    title="Reports the summary it is given, however long that summary happens to be",
    severity="high",
)
async def long_summary(ctx: Context, summary: str = "ok", fail: bool = False) -> Outcome:
    """Passes (or fails) with `summary` as its one-sentence summary."""
    return Outcome.failed(summary) if fail else Outcome.passed(summary)


@check(id="layout.short", title="Short", severity="low", remediation="Shorten nothing.")
async def short(ctx: Context, summary: str = "ok", fail: bool = False) -> Outcome:
    """Passes (or fails) with `summary`."""
    return Outcome.failed(summary) if fail else Outcome.passed(summary)
