"""Console output: per-section results, a decision banner, and live progress on a TTY.

Below :data:`WIDE` columns (an 80-column terminal, a CI log, a pipe without COLUMNS) each
result is one block: status, id and time on the first line, then the title and the whole
summary wrapped under it. From :data:`WIDE` columns on, each section is a table. Nothing
is ever cut with an ellipsis: text wraps, and a word longer than a line is folded.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from golive.models import CheckResult, Run, Status, Verdict

WIDE = 120  # columns from which a section is a table rather than blocks
INDENT = 7  # blocks: the title and summary start under the check id

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


def _summary(r: CheckResult, verbose: bool) -> Text:
    """The summary with the note, the waiver and (verbose) the detail under it."""
    summary = Text(r.summary, overflow="fold")
    if r.note:
        summary.append(f"\n{r.note}", style="italic yellow")
    if r.waiver:
        summary.append(
            f"\nwaived by {r.waiver.approved_by} until {r.waiver.expires}: {r.waiver.reason}",
            style="cyan",
        )
    if verbose and r.detail:
        summary.append("\n" + r.detail, style="dim")
    return summary


def section_table(
    title: str, results: list[CheckResult], *, verbose: bool = False, width: int = 140
) -> Table:
    """One section's results as a table fitting `width` columns (for wide terminals).

    Rich measures a text's minimum width by its longest word and crops a table that cannot
    fit: the title and summary columns get explicit maximum widths instead, so that a long
    word (a URL) is folded inside its column and nothing is cropped."""
    table = Table(title=title, title_justify="left", expand=False, show_lines=False)
    longest_id = max((len(r.id) for r in results), default=5)
    check_width = min(longest_id, width // 3)
    room = max(20, width - 6 - 6 - check_width - 16)  # 5 columns: 16 for borders and padding
    table.add_column("Status", no_wrap=True, min_width=6)
    table.add_column("Check", overflow="fold", min_width=check_width, max_width=check_width)
    table.add_column("Title", overflow="fold", max_width=room // 3)
    table.add_column("Summary", overflow="fold", max_width=room - room // 3)
    table.add_column("Time", justify="right", no_wrap=True, min_width=6)
    for r in results:
        summary = _summary(r, verbose)
        table.add_row(
            Text(r.status.value, style=STATUS_STYLE[r.status]),
            Text(r.id),
            Text(r.title),
            summary,
            _duration(r.duration),
        )
    return table


class _Indented:
    """Text wrapped to the width left after `indent` spaces, each line indented; no padding
    on the right (a CI log gets no trailing blanks)."""

    def __init__(self, text: Text, indent: int) -> None:
        self.text, self.indent = text, indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(20, options.max_width - self.indent)
        for line in self.text.wrap(console, width, overflow="fold"):
            line.rstrip()
            yield Segment(" " * self.indent)
            yield from line.render(console)
            yield Segment.line()


def section_blocks(title: str, results: list[CheckResult], *, verbose: bool = False) -> Group:
    """One section's results as blocks, one per result (for narrow terminals and logs)."""
    parts: list[Any] = [Text(title, style="bold underline")]
    for r in results:
        head = Text()
        head.append(f"{r.status.value:<6} ", style=STATUS_STYLE[r.status])
        head.append(r.id, style="bold")
        head.append(f"  {_duration(r.duration)}", style="dim")
        head.overflow = "fold"
        body = Text(r.title, style="italic", overflow="fold")
        body.append("\n")
        body.append_text(_summary(r, verbose))
        parts += [head, _Indented(body, INDENT)]
    parts.append(Text(""))
    return Group(*parts)


def banner(run: Run) -> Panel:
    """The decision, why, the blocking checks, and counts."""
    d = run.decision
    body = Text()
    body.append(f" {d.verdict.value} ", style=VERDICT_STYLE[d.verdict])
    body.append(f"  {run.project} / {run.environment}\n")
    for reason in d.reasons:
        body.append(f"• {reason}\n")
    by_id = {r.id: r for r in run.results}
    if d.blocking:
        label = "Needs attention" if d.verdict is Verdict.CONDITIONAL else "Blocking"
        body.append(f"{label}:\n", style="bold")
        for cid in d.blocking:
            r = by_id.get(cid)
            if r is None:
                continue
            body.append(f"  {r.status.value:<6} ", style=STATUS_STYLE[r.status])
            body.append(f"{r.id} [{r.severity.value}]: {r.summary}\n")
            if r.remediation and r.status is Status.FAIL:
                body.append(f"         fix: {r.remediation}\n", style="dim")
    if run.side_effects:
        body.append(
            f"Side effects: {len(run.side_effects)} record(s) the targets keep of this run "
            "(listed in the HTML and JSON reports)\n",
            style="dim",
        )
    counts = run.counts()
    parts = [f"{counts[s.value]} {s.value}" for s in Status if counts[s.value]]
    body.append(" · ".join(parts) + f" · {_duration(run.duration)}", style="dim")
    return Panel(body, title="golive decision", expand=False)


def renderables(
    run: Run, *, verbose: bool = False, quiet: bool = False, width: int = WIDE
) -> list[Any]:
    """Everything the console shows for a finished run, laid out for `width` columns."""
    out: list[Any] = []
    if not quiet:
        for section, results in run.by_section():
            title = f"{run.sections.get(section) or section} ({section})"
            if width >= WIDE:
                out.append(section_table(title, results, verbose=verbose, width=width))
            else:
                out.append(section_blocks(title, results, verbose=verbose))
    out.append(banner(run))
    return out


def render(run: Run, width: int = 140) -> str:
    """Plain-text rendering of the console view (for `--output console:FILE`)."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False, record=False)
    console.print(Group(*renderables(run, width=width)))
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

    def new_round(self, number: int, total: int) -> None:
        """A round of `--wait` starts with `total` checks."""
        if self._progress is not None:
            self._progress.reset(self._overall, total=total, description=f"round {number}")

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
