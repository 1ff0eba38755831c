"""Markdown summary: decision first, problems in full, passes folded, text escaped."""

from __future__ import annotations

import re
from pathlib import Path

from golive.reports.markdown import MAX_CHARS, code, esc, render

from golive.models import Severity, Status
from tests.reports.runs import hostile_run, make_run, result, sample_run, waited_run


def table_rows(text: str, heading: str) -> list[list[str]]:
    part = text.split(heading, 1)[1].split("\n\n", 2)[1]
    rows = [line for line in part.splitlines() if line.startswith("|")][2:]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_decision_reasons_counts_and_blocking_checks() -> None:
    text = render(sample_run())
    lines = text.splitlines()
    assert lines[0] == "## 🔴 golive: **NO-GO** — ordinaut / production"
    assert lines[2] == (
        "Run `20260504T100000-abc123` · 2026-05-04 10:00 UTC · 12.3 s · golive 0.1.0 · "
        "config `sha256:abababababab`"
    )
    assert "- 1 check(s) at or above high severity failed" in lines
    assert "✅ 3 PASS · ⚠️ 2 WARN · ❌ 2 FAIL · 💥 1 ERROR · ⏭️ 1 SKIP · 🛡️ 1 WAIVED" in lines
    blocking = table_rows(text, "### Blocking checks")
    assert [r[1] for r in blocking] == ["`security.jwt_secret`", "`database.backups`"]
    assert blocking[0][0] == "❌ FAIL" and blocking[0][2] == "critical"
    assert blocking[0][4] == "Fix security.jwt\\_secret and run golive again."
    others = table_rows(text, "### Warnings and accepted risks")
    assert [r[1] for r in others] == [
        "`operations.cron`",
        "`database.connections`",
        "`performance.api_latency`",
        "`security.file_permissions`",
    ]
    assert others[-1][4].startswith(
        "waived by Dana Ops until 2099-01-01: Fixed by the release image"
    )


def test_gates_show_verified_signers_unverified_entries_and_what_is_still_needed() -> None:
    text = render(sample_run(require_signoff=True))
    gates = table_rows(text, "### Approval gates")
    assert len(gates) == 7
    assert gates[3] == [
        "Monitoring active",
        "⏭️ SKIP",
        "✔ Sam Approver (2026-05-04 11:00 UTC): Dashboards reviewed",
        "—",
        "none: complete (1 required)",
    ]
    assert gates[1] == [
        "Security clearance",
        "❌ FAIL",
        "—",
        "Lee Reviewer (2026-05-04 11:05 UTC): not signed: a name typed with --by proves nothing",
        "**awaiting sign-off: 2 more of 2**",
    ]
    assert gates[0][2:] == ["—", "—", "**awaiting sign-off: 1 more of 1**"]
    assert table_rows(render(sample_run()), "### Approval gates")[2][4] == "— (not required)"


def test_every_result_is_listed_by_section_inside_details() -> None:
    run = sample_run()
    text = render(run)
    assert text.count("<details><summary>") == 5
    assert (
        "<details><summary>Security validation and hardening (1 PASS, 1 FAIL, 1 WAIVED)</summary>"
        in text
    )
    for r in run.results:
        assert f"| {code(r.id)} |" in text


def test_changes_since_previous() -> None:
    before = make_run(
        [result("security.a", Status.PASS, "ok"), result("security.b", Status.FAIL, "no")]
    )
    now = make_run(
        [result("security.a", Status.FAIL, "no"), result("security.b", Status.PASS, "ok")]
    )
    text = render(now, previous=before)
    assert "1 new failures, 1 fixed, 0 still failing, 0 unchanged." in text
    assert "- `security.a`: ✅ PASS → ❌ FAIL" in text
    assert "- `security.b`: ❌ FAIL → ✅ PASS" in text
    assert "### Since run" not in render(now)


def test_hostile_text_cannot_become_html_links_or_table_cells() -> None:
    text = render(hostile_run())
    outside_code = re.sub(r"(`+).*?\1", "", text)  # HTML is not recognised inside code spans
    raw_tags = set(re.findall(r"(?<!\\)<(/?[A-Za-z]+)", outside_code))
    assert raw_tags == {
        "details",
        "summary",
        "/summary",
        "/details",
    }  # ours; every other < is escaped
    assert "](javascript:" not in text
    assert "<details><summary>&lt;script&gt;document" in text
    for line in text.splitlines():
        if line.startswith("| ") and "`security.hostile_" in line:
            assert len(re.split(r"(?<!\\)\|", line)) - 2 in (4, 5)
    assert (
        esc("a|b<c>[x](javascript:y) *s* _t_ # h")
        == "a\\|b\\<c\\>\\[x\\](javascript:y) \\*s\\* \\_t\\_ \\# h"
    )
    assert esc("line\nbreak") == "line break"
    assert code("a`b") == "``a`b``"


def test_very_large_runs_are_cut_below_the_github_limit() -> None:
    results = [result(f"security.c{i}", Status.PASS, "x" * 400) for i in range(3000)]
    text = render(make_run(results))
    assert len(text) <= MAX_CHARS + 200
    assert text.endswith("_Truncated: the JSON or HTML report has every result._\n")


def test_a_conditional_run_lists_what_needs_attention() -> None:
    run = make_run([result("operations.cron", Status.FAIL, "No backup job.", Severity.LOW)])
    text = render(run)
    assert "### Needs attention" in text and "### Blocking checks" not in text


def test_a_run_that_waited_says_how_many_rounds_and_what_changed(tmp_path: Path) -> None:
    text = render(waited_run(tmp_path))
    assert re.search(
        r"^Waited: 2 rounds \(--wait 10m, --interval 0\.01s\): GO reached\. Changes: round 2 "
        r"\(t\+\d+s\): lab\.appears FAIL → PASS; GO$",
        text,
        re.M,
    ), text
    assert "- GO in round 2 of --wait 10m" in text
