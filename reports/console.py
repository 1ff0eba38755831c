"""Console output: per-section Rich tables, a decision banner, and live progress on a TTY."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from golive.models import CheckResult, Run, Status, Verdict

STATUS_STYLE = {
    Status.PASS: "bold green",
    Status.WARN: "bold yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "bold magenta",
    Status.SKIP: "dim",
    Status.WAIVED: "cyan",
}
VERDICT_STYLE = {
    Verdict.GO: "bold white on green",
    Verdict.CONDITIONAL: "bold black on yellow",
    Verdict.NO_GO: "bold white on red",
    Verdict.INCOMPLETE: "bold white on magenta",
}


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.1f}m"


def section_table(title: str, results: list[CheckResult], *, verbose: bool = False) -> Table:
    """One section's results as a table."""
    table = Table(title=title, title_justify="left", expand=False, show_lines=False)
    table.add_column("Status", no_wrap=True)
    table.add_column("Check", no_wrap=True)
    hosts = any(r.host for r in results)
    if hosts:  # a host-level check has one row per host, under its id
        table.add_column("Host", no_wrap=True)
    table.add_column("Title")
    table.add_column("Summary")
    table.add_column("Time", justify="right", no_wrap=True)
    previous = None
    for r in results:
        first = r.id != previous
        previous = r.id
        summary = Text(r.summary)
        if r.note:
            summary.append(f"\n{r.note}", style="italic yellow")
        if r.waiver:
            summary.append(
                f"\nwaived by {r.waiver.approved_by} until {r.waiver.expires}: {r.waiver.reason}",
                style="cyan",
            )
        if verbose and r.detail:
            summary.append("\n" + r.detail, style="dim")
        cells = [Text(r.status.value, style=STATUS_STYLE[r.status]), Text(r.id if first else "")]
        if hosts:
            cells.append(Text(r.host or "local"))
        cells += [Text(r.title if first else ""), summary, Text(_duration(r.duration))]
        table.add_row(*cells)
    return table


def banner(run: Run) -> Panel:
    """The decision, why, the blocking checks, and counts."""
    d = run.decision
    body = Text()
    body.append(f" {d.verdict.value} ", style=VERDICT_STYLE[d.verdict])
    body.append(f"  {run.project} / {run.environment}\n")
    for reason in d.reasons:
        body.append(f"• {reason}\n")
    by_id = {r.key: r for r in run.results}
    if d.blocking:
        label = "Needs attention" if d.verdict is Verdict.CONDITIONAL else "Blocking"
        body.append(f"{label}:\n", style="bold")
        for cid in d.blocking:
            r = by_id.get(cid)
            if r is None:
                continue
            body.append(f"  {r.status.value:<6} ", style=STATUS_STYLE[r.status])
            body.append(f"{r.key} [{r.severity.value}]: {r.summary}\n")
            if r.remediation and r.status is Status.FAIL:
                body.append(f"         fix: {r.remediation}\n", style="dim")
    counts = run.counts()
    parts = [f"{counts[s.value]} {s.value}" for s in Status if counts[s.value]]
    body.append(" · ".join(parts) + f" · {_duration(run.duration)}", style="dim")
    return Panel(body, title="golive decision", expand=False)


def renderables(run: Run, *, verbose: bool = False, quiet: bool = False) -> list[Any]:
    """Everything the console shows for a finished run."""
    out: list[Any] = []
    if not quiet:
        for section, results in run.by_section():
            title = run.sections.get(section) or section
            out.append(section_table(f"{title} ({section})", results, verbose=verbose))
    out.append(banner(run))
    return out


def render(run: Run) -> str:
    """Plain-text rendering of the console view (for `--output console:FILE`)."""
    buf = io.StringIO()
    console = Console(file=buf, width=140, color_system=None, force_terminal=False, record=False)
    console.print(Group(*renderables(run)))
    return buf.getvalue()


class LiveProgress:
    """A progress display while checks run; a no-op when output is not a terminal."""

    def __init__(self, console: Console, total: int, enabled: bool) -> None:
        self.enabled = enabled and console.is_terminal
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),  # "?" while a started check has no total yet
                console=console,
                transient=True,
            )
            self._overall = self._progress.add_task("checks", total=total)

    def __enter__(self) -> LiveProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def started(self, planned: Any) -> None:
        """A check started."""
        if self._progress is not None:
            self._tasks[planned.id] = self._progress.add_task(planned.id, total=None)

    def progress(self, check_id: str, done: float, total: float, desc: str) -> None:
        """A long check reported progress."""
        if self._progress is not None and check_id in self._tasks:
            label = f"{check_id} {desc}".strip()
            self._progress.update(
                self._tasks[check_id], completed=done, total=total, description=label
            )

    def finished(self, result: CheckResult) -> None:
        """A check finished."""
        if self._progress is None:
            return
        task = self._tasks.pop(result.id, None)
        if task is not None:
            self._progress.remove_task(task)
        self._progress.advance(self._overall)
