"""HTML report: content, escaping and self-containment; then a real browser (headless Chromium)
rendering a real run against the demo stack, a hostile run, and the page with JavaScript off."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from golive.reports.html import MAX_ROWS, build_view, render

from golive.models import Run, Severity, SignOff, Status
from tests.reports import browser
from tests.reports.runs import (
    UNSIGNED,
    HOSTILE,
    IMG,
    SCRIPT,
    hostile_run,
    make_run,
    result,
    sample_results,
    sample_run,
    waited_run,
)

GATE_TITLES = [
    "Technical validation",
    "Security clearance",
    "Infrastructure ready",
    "Monitoring active",
    "Backup systems",
    "Operations ready",
    "Rollback plan",
]


BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "br",
        "caption",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)


class Dom(HTMLParser):
    """The parts of a page the tests look at: articles, gates, attributes, text (block
    elements separate words, as a browser's innerText does)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html_attrs: dict[str, str] = {}
        self.articles: list[dict[str, Any]] = []
        self.links: list[str] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self._script = 0
        self._style = 0
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag in BLOCK:
            self.text.append(" ")
        if tag == "html":
            self.html_attrs = a
        elif tag == "article":
            self.articles.append(a)
        elif tag == "a":
            self.links.append(a.get("href", ""))
        elif tag == "script":
            self._script += 1
        elif tag == "style":
            self._style += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCK:
            self.text.append(" ")
        if tag == "script":
            self._script -= 1
        elif tag == "style":
            self._style -= 1

    def handle_data(self, data: str) -> None:
        if not self._script and not self._style:
            self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join("".join(self.text).split())

    def by_id(self, element_id: str) -> tuple[str, dict[str, str]] | None:
        return next(((t, a) for t, a in self.tags if a.get("id") == element_id), None)


# --- the page itself ---------------------------------------------------------------------


def test_decision_blocking_checks_gates_and_every_result_are_on_the_page() -> None:
    run = sample_run()
    page = render(run)
    dom = Dom(page)
    text = dom.all_text
    assert "NO-GO Not ready to go live." in text
    assert "1 check(s) at or above high severity failed" in text
    # blocking checks first, in the decision's order, before the gates
    first_blocking = text.index("Blocking checks (2)")
    assert text.index("security.jwt_secret", first_blocking) < text.index(
        "database.backups", first_blocking
    )
    assert text.index("Blocking checks") < text.index("Approval gates")
    for title in GATE_TITLES:
        assert title in text
    assert "Signed by Sam Approver on 2026-05-04 11:00:00 UTC “Dashboards reviewed”" in text
    assert "SSH signature verified, key SHA256:QfZ0wIEr1B0lqHkN8A3Nn2v9pQm5e0xLr7tY4uWkS6c" in text
    security = text[text.index("Security clearance security") : text.index("Infrastructure ready")]
    assert (
        "Lee Reviewer on 2026-05-04 11:05:00 UTC unverified "
        "not signed: a name typed with --by proves nothing" in security
    )
    assert (
        "Awaiting sign-off: 2 more verified signatures needed "
        "(2 distinct verified signers required)" in security
    )
    assert "Signed by Lee" not in text
    assert [a["id"] for a in dom.articles] == [f"check-{r.id}" for r in run.results]
    assert {a["id"]: a["data-status"] for a in dom.articles} == {
        f"check-{r.id}": r.status.value for r in run.results
    }
    for r in run.results:
        assert r.summary in text


def test_remediation_waivers_skips_findings_and_metadata_are_shown() -> None:
    text = Dom(render(sample_run())).all_text
    assert "How to fix: Fix security.jwt_secret and run golive again." in text
    assert (
        "Waived by Dana Ops until 2099-01-01: Fixed by the release image; the host copy is not used"
        in text
    )
    assert "Skipped: alertmanager unreachable: connection refused" in text
    assert "ops/docker-compose.yml:14 JWT_SECRET_KEY has an insecure default" in text
    for label, value in [
        ("Run id", "20260504T100000-abc123"),
        ("golive version", "0.1.0"),
        ("Configuration digest", "sha256:" + "ab" * 32),
        ("Started", "2026-05-04 10:00:00 UTC"),
    ]:
        assert f"{label} {value}" in text
    assert "postgresql://orchestrator:***@127.0.0.1:5432/orchestrator" in text


def test_evidence_becomes_tables_and_long_tables_are_truncated() -> None:
    rows = [{"table": f"t{i}", "dead_tuples": i} for i in range(MAX_ROWS + 25)]
    run = make_run(
        [result("database.table_health", Status.WARN, "Bloat.", evidence={"tables": rows, "n": 3})]
    )
    view = build_view(run)
    blocks = view.sections[0].results[0].blocks
    assert blocks[0].caption == "" and blocks[0].rows == [("n", "3")]  # type: ignore[union-attr]
    table = blocks[1]
    assert table.columns == ["table", "dead_tuples"]  # type: ignore[union-attr]
    assert len(table.rows) == MAX_ROWS and table.more == 25
    page = render(run)
    assert "<thead><tr><th>table</th><th>dead_tuples</th></tr></thead>" in page
    assert "25 more rows in the JSON report." in page
    assert '<details class="evidence">' in page


def test_baseline_comparisons_are_drawn_as_inline_svg() -> None:
    perf = next(r for r in sample_results() if r.id == "performance.api_latency")
    comparison = [
        {
            "measurement": "p95_ms",
            "baseline": "40 ms",
            "now": "48.4 ms",
            "change": "+21.0%",
            "verdict": "WARN",
        },
        {
            "measurement": "rps",
            "baseline": "900 req/s",
            "now": "812 req/s",
            "change": "-9.8%",
            "verdict": "ok",
        },
    ]
    from dataclasses import replace

    golive_baseline_shape = replace(
        perf,
        evidence={
            "baseline": {"file": "b.json", "warn_pct": 10},
            "baseline_comparison": comparison,
        },
    )
    for r, labels in [
        (perf, ["p95_ms", "p50_ms", "rps"]),
        (golive_baseline_shape, ["p95_ms", "rps"]),
    ]:
        page = render(make_run([r]))
        svg = re.search(r"<svg .*?</svg>", page, re.S)
        assert svg is not None
        assert 'role="img"' in svg.group(0)
        assert [
            m for m in re.findall(r'<text class="lbl"[^>]*>([^<]*)</text>', svg.group(0))
        ] == labels
        assert "now 48.4" in svg.group(0) and "(+21.0 %)" in svg.group(0)
    page = render(make_run([golive_baseline_shape]))
    assert "baseline 40 ms" in page and "now 48.4 ms (+21.0 %)" in page
    assert 'class="now st-warn"' in page and 'class="now st-pass"' in page
    # a result without a baseline has no chart
    assert "<svg" not in render(make_run([sample_results()[0]]))


def test_changes_since_a_previous_run() -> None:
    before = make_run(
        [
            result("security.jwt_secret", Status.PASS, "ok"),
            result("database.backups", Status.FAIL, "no backup"),
            result("database.connections", Status.FAIL, "too many"),
            result("operations.cron", Status.PASS, "ok"),
            result("operations.gone", Status.PASS, "ok"),
        ],
        run_id="20260503T100000-old000",
        started_at="2026-05-03T10:00:00+00:00",
    )
    now = make_run(
        [
            result("security.jwt_secret", Status.FAIL, "default secret"),
            result("database.backups", Status.PASS, "fresh backup"),
            result("database.connections", Status.FAIL, "still too many"),
            result("operations.cron", Status.PASS, "ok"),
            result("operations.new_one", Status.ERROR, "boom"),
        ]
    )
    dom = Dom(render(now, previous=before))
    text = dom.all_text
    assert (
        "Compared with run 20260503T100000-old000 of 2026-05-03 10:00:00 UTC (decision then: NO-GO): "
        "2 new failures, 1 fixed, 1 still failing, 2 unchanged."
    ) in text
    section = text[text.index("Since the previous run") : text.index("Sections")]
    assert "New failures (2) security.jwt_secret PASS → FAIL" in section
    assert "operations.new_one absent → ERROR" in section
    assert "Fixed (1) database.backups FAIL → PASS" in section
    assert "Still failing (1) database.connections FAIL → FAIL" in section
    assert "Checks removed (1) operations.gone PASS → absent" in section
    assert "Since the previous run" not in Dom(render(now)).all_text


def test_self_contained_page_with_a_strict_content_security_policy() -> None:
    page = render(sample_run())
    dom = Dom(page)
    assert not [a for t, a in dom.tags if t in ("link", "img", "iframe", "object", "embed")]
    assert not [a for t, a in dom.tags if t == "script" and "src" in a]
    assert all(href.startswith("#") for href in dom.links)
    assert "http://" not in re.sub(r"<(code|td|dd)>[^<]*</\1>", "", page).replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    csp = next(
        a["content"]
        for t, a in dom.tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)  # type: ignore[union-attr]
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)  # type: ignore[union-attr]
    for body, directive in ((script, "script-src"), (style, "style-src")):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp
    assert "@media print" in style
    assert 'class="no-js"' in page  # the filters are hidden until the script runs


def test_hostile_text_is_escaped_everywhere() -> None:
    page = render(hostile_run())
    assert SCRIPT not in page and IMG not in page
    assert "<script>document" not in page
    assert 'onerror="document' not in page
    assert (
        "&lt;script&gt;document.documentElement.setAttribute(&#39;data-pwned&#39;,&#39;script&#39;)"
        in page
    )
    assert "{{ 7*7 }}" in page and "{% raw %}" in page
    dom = Dom(page)
    assert all(href.startswith("#") for href in dom.links)
    assert [t for t, _ in dom.tags].count("script") == 1
    assert HOSTILE in dom.all_text


# --- a real browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_run(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Run]:
    """The default checklist run against the demo stack (plus two generic checks)."""
    import yaml

    from golive.config import load_config
    from golive.engine import Options
    from golive.testing import run_config

    api_port = int(stack.api_url.rsplit(":", 1)[1].split("/")[0])
    overlay = tmp_path_factory.mktemp("cfg") / "overlay.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "defaults": {"timeout": "20s", "deadline": "180s", "concurrency": 4},
                "sections": {
                    "final": {
                        "checks": [
                            {
                                "id": "final.api_port_open",
                                "uses": "port",
                                "title": "The API port accepts connections",
                                "params": {"port": api_port},
                            },
                            {
                                "id": "final.legacy_port_closed",
                                "uses": "port",
                                "severity": "low",
                                "title": "The legacy admin port is open",
                                "params": {"port": 1, "timeout": 1},
                                "waiver": {
                                    "reason": "legacy admin console retired",
                                    "approved_by": "Ops Lead",
                                    "expires": "2099-12-31",
                                },
                            },
                        ]
                    }
                },
            }
        )
    )
    checklist = Path(__file__).resolve().parents[2] / "golive" / "checklist.yaml"
    cfg = load_config([str(checklist), str(overlay)], env=stack.env())
    return cfg, run_config(cfg, options=Options())


@pytest.mark.integration
@pytest.mark.slow
def test_chromium_renders_a_real_run_of_the_demo_stack(
    real_run: tuple[Any, Run], tmp_path: Path
) -> None:
    from golive.engine import make_redactor
    from golive.output import render as render_output

    cfg, run = real_run
    assert len(run.results) >= 3
    statuses = {r.id: r.status for r in run.results}
    assert statuses["final.api_port_open"] is Status.PASS
    assert statuses["final.legacy_port_closed"] is Status.WAIVED
    page = tmp_path / "report.html"
    text = render_output(run, "html", make_redactor(cfg))
    page.write_text(text if isinstance(text, str) else text.decode(), encoding="utf-8")

    dom = Dom(browser.run(tmp_path, page.as_uri(), "--dump-dom"))
    assert "js" in dom.html_attrs["class"].split()  # the script ran
    assert dom.html_attrs["data-shown"] == str(len(run.results))
    text_all = dom.all_text
    verdict = run.decision.verdict.value
    assert f"{verdict} " in text_all[:2000]
    assert f"All {len(run.results)} checks shown" in text_all
    for title in GATE_TITLES:
        assert title in text_all
    articles = {a["id"]: a for a in dom.articles}
    for r in run.results:
        a = articles[f"check-{r.id}"]
        assert a["data-status"] == r.status.value
        assert "hidden" not in a
    for reason in run.decision.reasons:
        assert " ".join(reason.split()) in text_all

    shot = tmp_path / "report.png"
    browser.run(tmp_path, page.as_uri(), f"--screenshot={shot}", "--window-size=1280,2400")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")

    # the status filter, driven by the URL, hides everything else
    filtered = Dom(browser.run(tmp_path, page.as_uri() + "#status=FAIL,ERROR", "--dump-dom"))
    wanted = [r for r in run.results if r.status in (Status.FAIL, Status.ERROR)]
    shown = [a["id"] for a in filtered.articles if "hidden" not in a]
    assert shown == [f"check-{r.id}" for r in wanted]
    assert filtered.html_attrs["data-shown"] == str(len(wanted))

    # the search box filters by text (here: the id of one check)
    one = run.results[-1]
    searched = Dom(browser.run(tmp_path, page.as_uri() + f"#q={one.id}", "--dump-dom"))
    assert [a["id"] for a in searched.articles if "hidden" not in a] == [f"check-{one.id}"]

    # print to PDF gives a document
    pdf = tmp_path / "report.pdf"
    browser.run(tmp_path, page.as_uri(), f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and len(re.findall(rb"/Type\s*/Page\b", data)) >= 2


@pytest.mark.integration
def test_javascript_off_shows_every_result_and_hides_the_filters(tmp_path: Path) -> None:
    run = sample_run()
    page = tmp_path / "report.html"
    page.write_text(render(run), encoding="utf-8")
    with browser.page(tmp_path, scripts=False) as tab:
        tab.open(page.as_uri())
        assert tab.js("document.documentElement.className") == "no-js"
        assert tab.js("document.querySelectorAll('article.result').length") == len(run.results)
        assert tab.js("document.querySelectorAll('article.result[hidden]').length") == 0
        assert tab.js("getComputedStyle(document.querySelector('form.filters')).display") == "none"
        assert tab.js("document.querySelector('#decision-h').innerText").startswith("NO-GO")
        # evidence is one click away without any script: <details> is native
        tab.click("#check-database\\.connections details.evidence > summary")
        assert (
            tab.js("document.querySelector('#check-database\\\\.connections details').open") is True
        )


@pytest.mark.integration
def test_status_filters_and_search_respond_to_clicks_and_typing(tmp_path: Path) -> None:
    run = sample_run()
    page = tmp_path / "report.html"
    page.write_text(render(run), encoding="utf-8")
    visible = "[...document.querySelectorAll('article.result:not([hidden])')].map(a => a.id)"
    with browser.page(tmp_path) as tab:
        tab.open(page.as_uri())
        assert tab.js("document.documentElement.className") == "js"
        assert tab.js("getComputedStyle(document.querySelector('form.filters')).display") == "flex"
        assert tab.js("document.getElementById('shown').textContent") == "All 10 checks shown"
        tab.click("input[data-filter-status][value=PASS]")
        tab.click("input[data-filter-status][value=SKIP]")
        expected = [
            f"check-{r.id}" for r in run.results if r.status not in (Status.PASS, Status.SKIP)
        ]
        assert tab.js(visible) == expected
        assert (
            tab.js("document.getElementById('shown').textContent")
            == f"{len(expected)} of 10 checks shown"
        )
        # a section with nothing left to show is hidden as a whole
        assert tab.js("document.getElementById('section-4').hidden") is True  # monitoring: 1 SKIP
        assert "status=FAIL%2CERROR%2CWARN%2CWAIVED" in tab.js("location.hash")
        tab.click("#q")
        tab.type_text("Errno 13")
        assert tab.js(visible) == ["check-database.backups"]
        tab.send(
            "Input.dispatchKeyEvent",
            {"type": "keyDown", "key": "Escape", "code": "Escape", "windowsVirtualKeyCode": 27},
        )
        assert tab.js("document.getElementById('q').value") == ""
        assert tab.js(visible) == expected
        # printing opens every evidence block
        tab.send("Emulation.setEmulatedMedia", {"media": "print"})
        tab.js("window.dispatchEvent(new Event('beforeprint'))")
        assert tab.js("[...document.querySelectorAll('details')].every(d => d.open)") is True
        assert tab.js("getComputedStyle(document.querySelector('.topbar')).position") == "static"


@pytest.mark.integration
def test_hostile_evidence_executes_nothing_in_chromium(tmp_path: Path) -> None:
    # control: the same payloads, pasted raw into a page, do set the sentinel
    control = tmp_path / "control.html"
    control.write_text(
        f"<!DOCTYPE html><html><body><p>{SCRIPT}{IMG}</p></body></html>", encoding="utf-8"
    )
    assert 'data-pwned="' in browser.run(tmp_path, control.as_uri(), "--dump-dom")

    page = tmp_path / "hostile.html"
    page.write_text(render(hostile_run()), encoding="utf-8")
    out = browser.run(tmp_path, page.as_uri(), "--dump-dom")
    dom = Dom(out)
    assert "data-pwned" not in dom.html_attrs
    assert not [a for _, a in dom.tags if "data-pwned" in a]
    assert not [a for t, a in dom.tags if t == "img"]
    assert all(href.startswith("#") for href in dom.links)
    assert "js" in dom.html_attrs["class"].split()  # our own script did run
    text = dom.all_text
    assert HOSTILE in text  # shown as text, payloads and template syntax verbatim
    assert "{{ 7*7 }}" in text


def test_unsigned_signoffs_count_without_keys_but_are_shown_unverified() -> None:
    run = make_run(
        sample_results(),
        require_signoff=True,
        signoffs=[
            SignOff("security", "Alice", "2026-05-04T12:00:00+00:00", "pen test report reviewed"),
            SignOff("security", "Bob", "2026-05-04T12:30:00+00:00", problem=UNSIGNED),
        ],
    )
    text = Dom(render(run)).all_text
    row = text[text.index("Security clearance security") : text.index("Infrastructure ready")]
    assert (
        "Alice on 2026-05-04 12:00:00 UTC unverified no signature “pen test report reviewed”" in row
    )
    assert f"Bob on 2026-05-04 12:30:00 UTC unverified {UNSIGNED}" in row
    assert "Sign-off complete (1 distinct signer required)" in row
    assert "Signed by" not in text
    assert text.count("Awaiting sign-off: 1 more signature needed") == 6
    assert "golive approve --gate GATE --by NAME --run RUN.json" in text


def test_verified_signers_and_the_signatures_still_needed_per_gate() -> None:
    from golive.decision import SignoffPolicy

    alice = SignOff(
        "security",
        "alice@example.com",
        "2026-05-04T12:00:00+00:00",
        verified=True,
        key="SHA256:" + "A" * 43,
    )
    mallory = SignOff(
        "security",
        "mallory",
        "2026-05-04T12:10:00+00:00",
        key="SHA256:" + "M" * 43,
        problem="signed by ED25519 key SHA256:MMM, "
        "which the allowed signers do not list (an unknown key, or a revoked signer)",
    )
    policy = SignoffPolicy(signed=True, minimum={"security": 2})
    run = make_run(sample_results(), signoffs=[alice, mallory], policy=policy)
    text = Dom(render(run)).all_text
    row = text[text.index("Security clearance security") : text.index("Infrastructure ready")]
    assert "Signed by alice@example.com on 2026-05-04 12:00:00 UTC SSH signature verified" in row
    assert "mallory on 2026-05-04 12:10:00 UTC unverified signed by ED25519 key" in row
    assert (
        "Awaiting sign-off: 1 more verified signature needed "
        "(2 distinct verified signers required; verified: alice@example.com)" in row
    )
    assert "only SSH signatures by keys in the allowed signers count" in text
    assert "golive approve --gate GATE --key ~/.ssh/id_ed25519 --run RUN.json" in text
    # a gate that requires nothing and has nothing says so
    infra = text[
        text.index("Infrastructure ready infrastructure") : text.index("Monitoring active")
    ]
    assert "none recorded (not required)" in infra


def test_a_thousand_results_stay_under_two_megabytes() -> None:
    """The size half of benchmarks/report_size.py (time is measured there, not here)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "report_size.py"
    spec = importlib.util.spec_from_file_location("report_size", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    run = bench.build_run(1000)
    page = render(run)
    assert len(page.encode()) <= bench.LIMIT_BYTES
    assert len(Dom(page).articles) == 1000


def test_a_conditional_run_lists_what_needs_attention_not_what_blocks() -> None:
    run = make_run(
        [
            result("operations.cron", Status.FAIL, "No backup job.", Severity.LOW),
            result("security.jwt_secret", Status.PASS, "Strong."),
        ]
    )
    assert run.decision.verdict.value == "CONDITIONAL"
    text = Dom(render(run)).all_text
    assert "Needs attention (1) FAIL low operations.cron" in text
    assert "Blocking checks" not in text


def test_a_run_that_waited_shows_its_rounds_and_changes(tmp_path: Path) -> None:
    page = render(waited_run(tmp_path))
    assert (
        "<dt>Waited (--wait)</dt><dd>2 rounds (--wait 10m, --interval 0.01s): GO reached</dd>"
        in page
    )
    assert re.search(r"<dd>round 2 \(t\+\d+s\): lab\.appears FAIL → PASS; GO</dd>", page)
    assert "<li>GO in round 2 of --wait 10m</li>" in page
