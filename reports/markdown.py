"""Markdown summary (GitHub-flavoured): the decision, blocking checks, gates and results.

Written for pull-request comments and the GitHub Actions job summary (`golive run` appends
it to ``$GITHUB_STEP_SUMMARY``). Problems are listed in full; passing checks are folded into
a ``<details>`` block per section. Text from the run is escaped: it never becomes a link,
an image, HTML or a table break.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone

from golive.reports.compare import Change, compare

from golive.models import CheckResult, Run, Status, Verdict

ICON = {
    Status.PASS: "✅",
    Status.WARN: "⚠️",
    Status.FAIL: "❌",
    Status.ERROR: "💥",
    Status.SKIP: "⏭️",
    Status.WAIVED: "🛡️",
}
VERDICT_ICON = {
    Verdict.GO: "🟢",
    Verdict.CONDITIONAL: "🟡",
    Verdict.NO_GO: "🔴",
    Verdict.INCOMPLETE: "🟣",
}
MAX_CHARS = 900_000  # GitHub rejects job summaries over 1 MiB
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def esc(text: object, limit: int = 500) -> str:
    """Text safe inside a Markdown table cell or paragraph (no markup, links or HTML)."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[:limit] + "…"
    s = s.replace("&", "&amp;")
    return _SPECIAL.sub(r"\\\1", s)


def code(text: object) -> str:
    """An inline code span that survives any content (backticks and pipes included)."""
    s = " ".join(str(text).split()).replace("|", "¦")
    fence = "`"
    while fence in s:
        fence += "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def when(iso: str) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM UTC' (unchanged when it is not one)."""
    try:
        t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return iso
    if t.tzinfo is None:
        return t.strftime("%Y-%m-%d %H:%M")
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _badge(status: Status | None) -> str:
    if status is None:
        return "absent"
    return f"{ICON[status]} {status.value}"


def _row(r: CheckResult, *, fix: bool = True) -> str:
    cells = [_badge(r.status), code(r.id), esc(r.severity.value), esc(r.summary)]
    if fix:
        extra = r.remediation
        if r.waiver is not None:
            extra = f"waived by {r.waiver.approved_by} until {r.waiver.expires}: {r.waiver.reason}"
        cells.append(esc(extra))
    return "| " + " | ".join(cells) + " |"


def render(run: Run, *, previous: Run | None = None) -> str:
    """Render a run as a Markdown summary (and its change since `previous`, if given)."""
    d = run.decision
    counts = run.counts()
    lines = [
        f"## {VERDICT_ICON[d.verdict]} golive: **{d.verdict.value}** — "
        f"{esc(run.project)} / {esc(run.environment)}",
        "",
        f"Run {code(run.run_id)} · {esc(when(run.finished_at))} · {run.duration:.1f} s"
        f" · golive {esc(run.golive_version)} · config {code(run.config_digest[:19])}",
        "",
    ]
    if run.interrupted:
        lines += ["> **The run was interrupted: results are partial.**", ""]
    if run.wait is not None:
        changed = "; ".join(run.wait.changed_rounds())
        text = f"Waited: {run.wait.describe()}" + (f". Changes: {changed}" if changed else "")
        lines += [esc(text, limit=2000), ""]
    lines += [f"- {esc(reason)}" for reason in d.reasons]
    lines += [
        "",
        " · ".join(f"{ICON[s]} {counts[s.value]} {s.value}" for s in Status if counts[s.value]),
        "",
    ]

    by_id = {r.id: r for r in run.results}
    blocking = [by_id[c] for c in d.blocking if c in by_id]
    if blocking:
        lines += [
            "### Needs attention" if d.verdict is Verdict.CONDITIONAL else "### Blocking checks",
            "",
            "| Status | Check | Severity | Summary | How to fix |",
            "|---|---|---|---|---|",
        ]
        lines += [_row(r) for r in blocking]
        lines.append("")
    others = [
        r
        for r in run.results
        if r.id not in set(d.blocking)
        and r.status in (Status.FAIL, Status.ERROR, Status.WARN, Status.WAIVED)
    ]
    if others:
        lines += [
            "### Warnings and accepted risks",
            "",
            "| Status | Check | Severity | Summary | How to fix / waiver |",
            "|---|---|---|---|---|",
        ]
        lines += [
            _row(r) for r in sorted(others, key=lambda r: (-r.status.rank, -r.severity.rank, r.id))
        ]
        lines.append("")

    if run.gates:
        lines += [
            "### Approval gates",
            "",
            "| Gate | Automated status | Verified signers | Unverified entries | Still needed |",
            "|---|---|---|---|---|",
        ]
        for g in run.gates:
            verified = "; ".join(
                f"✔ {esc(s.by)} ({esc(when(s.at))})" + (f": {esc(s.note)}" if s.note else "")
                for s in g.signoffs
                if s.verified
            )
            unverified = "; ".join(
                f"{esc(s.by)} ({esc(when(s.at))}): {esc(s.problem or 'no signature')}"
                + (f" — {esc(s.note)}" if s.note else "")
                for s in g.signoffs
                if not s.verified
            )
            if g.needed:
                need = f"**awaiting sign-off: {g.needed} more of {g.required}**"
            elif g.required:
                need = f"none: complete ({g.required} required)"
            else:
                need = "— (not required)"
            lines.append(
                f"| {esc(g.title)} | {_badge(g.status)} | {verified or '—'} "
                f"| {unverified or '—'} | {need} |"
            )
        lines.append("")

    if previous is not None:
        lines += _changes(run, previous)

    lines += ["### Results by section", ""]
    for section, results in run.by_section():
        title = run.sections.get(section) or section
        sc = {s: sum(r.status is s for r in results) for s in Status}
        tally = ", ".join(f"{n} {s.value}" for s, n in sc.items() if n)
        summary = html.escape(" ".join(f"{title} ({tally})".split()))
        lines += [
            f"<details><summary>{summary}</summary>",
            "",
            "| Status | Check | Severity | Summary |",
            "|---|---|---|---|",
        ]
        lines += [_row(r, fix=False) for r in results]
        lines += ["", "</details>", ""]

    text = "\n".join(lines) + "\n"
    if len(text) > MAX_CHARS:
        cut = text[:MAX_CHARS].rsplit("\n", 1)[0]
        text = cut + "\n\n</details>\n\n_Truncated: the JSON or HTML report has every result._\n"
    return text


def _changes(run: Run, previous: Run) -> list[str]:
    cmp = compare(run, previous)
    lines = [
        f"### Since run {code(cmp.previous_run_id)} ({esc(cmp.previous_verdict)})",
        "",
        f"{len(cmp.new_failures)} new failures, {len(cmp.fixed)} fixed, "
        f"{len(cmp.still_failing)} still failing, {cmp.unchanged} unchanged.",
        "",
    ]

    def items(title: str, changes: list[Change]) -> list[str]:
        if not changes:
            return []
        out = [f"**{title}**", ""]
        out += [f"- {code(c.id)}: {_badge(c.before)} → {_badge(c.now)}" for c in changes]
        return [*out, ""]

    lines += items("New failures", cmp.new_failures)
    lines += items("Fixed", cmp.fixed)
    lines += items("Still failing", cmp.still_failing)
    lines += items("Other changes", cmp.changed + cmp.added + cmp.removed)
    return lines
