"""golive/monitor/report.py: the HTML timeline from a synthetic history."""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from html import unescape

from golive.config import MonitorCriteria
from golive.monitor.criteria import evaluate
from golive.monitor.model import Event, Sample
from golive.monitor.report import build_view, render

CRITERIA = MonitorCriteria()
T0 = 1_760_000_000.0  # 2025-10-09 08:53:20Z


def history() -> tuple[list[Sample], list[Event]]:
    samples = []
    for i in range(30):
        ts = T0 + i * 600
        if i in (7, 8):  # missed cron runs: a gap from 6 to 9
            continue
        down = 20 <= i <= 23
        samples.append(
            Sample(
                id=f"s{i}",
                ts=ts,
                interval=600.0,
                api_ok=not down,
                api_detail="connection refused" if down else None,
                latency_p95_ms=None if down else 20.0 + i,
                latency_p50_ms=None if down else 10.0 + i,
                error_rate=1.0 if down else 0.002,
                error_rate_source="prometheus",
                tasks_last_hour=100 + i,
                firing_alerts=1 if down else 0,
                critical_alerts=1 if down else 0,
                baseline_ms=25.0,
                perf_ratio=None if down else (20.0 + i) / 25.0,
                db_connections=7,
                error_lines=3,
                error_span=600.0,
                problems={"the database": "timeout"} if i == 5 else {},
            )
        )
    events = [
        Event(
            1,
            T0 + 600 * 21.5,
            "verdict",
            {"from": "WATCHING", "to": "ROLLBACK", "reasons": ["API down"]},
        ),
        Event(
            2, T0 + 600 * 22, "trigger", {"reason": "<script>alert(1)</script> breach", "by": "sre"}
        ),
        Event(
            3,
            T0 + 600 * 22.1,
            "notify",
            {
                "notifier": "email",
                "kind": "verdict",
                "verdict": "ROLLBACK",
                "ok": False,
                "error": "SMTP down",
            },
        ),
        Event(
            4,
            T0 + 600 * 22.2,
            "rollback",
            {"status": "done", "exit_code": 0, "command": "rollback.sh"},
        ),
    ]
    return samples, events


def page() -> str:
    samples, events = history()
    now = samples[-1].ts + 1
    ev = evaluate(samples, [e for e in events if e.kind in ("trigger", "clear")], now, CRITERIA)
    view = build_view(
        project="ordinaut",
        environment="production",
        history="/var/lib/golive/h.sqlite",
        samples=samples,
        events=events,
        evaluation=ev,
        criteria=CRITERIA,
        rollback={
            "status": "done",
            "command": "rollback.sh",
            "exit_code": 0,
            "output": "stopping <api>\nstarted v1.2.2\n",
        },
        generated_at=now,
    )
    return render(view)


def test_verdict_and_summary() -> None:
    html = page()
    assert '<section class="verdict v-rollback" id="verdict">' in html
    assert "<h2>ROLLBACK</h2>" in html
    assert "exit code 12" in html
    assert "28 samples over 4h 50m · 1 missed-sample gaps" in html


def test_four_charts_with_the_criteria_drawn() -> None:
    html = page()
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(svgs) == 4
    for svg in svgs:
        ET.fromstring(svg)  # each chart is well-formed SVG
    latency, errors, tasks, alerts = svgs
    assert "baseline (25 ms)" in latency and "success limit (27.5 ms)" in latency
    assert "rollback trigger (37.5 ms)" in latency
    assert "rollback trigger (20%)" in errors and "success limit (1%)" in errors
    assert "attention above (5)" in alerts
    assert latency.count('class="gap"') == 1  # the missed runs at 07 and 08
    assert latency.count('class="mark mark-down"') == 4  # four samples with the API down
    assert "<title>ROLLBACK</title>" in latency  # the verdict change is marked
    assert "rollback command exit 0" in latency
    # lines break at missed samples, and where a value is missing (latency with the API down)
    assert latency.count('<polyline class="s1"') == 3
    assert errors.count('<polyline class="s1"') == 2
    assert 'class="dot-s1"' in tasks


def test_tables_and_escaping() -> None:
    html = page()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; breach" in html
    assert "<script>" not in html
    assert "<pre>stopping &lt;api&gt;\nstarted v1.2.2\n</pre>" in html
    assert "FAILED: SMTP down" in html
    assert "the database: timeout" in html
    assert '<td class="down">DOWN</td>' in html


def test_self_contained_with_a_strict_policy() -> None:
    html = page()
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert meta is not None
    policy = unescape(meta.group(1))
    assert policy.startswith("default-src 'none';")
    assert policy.endswith(f"style-src 'sha256-{digest}'")
    assert not re.search(r"""(src|href)=["']https?://""", html)  # nothing loaded from elsewhere


def test_empty_history() -> None:
    now = T0
    ev = evaluate([], [], now, CRITERIA)
    view = build_view(
        project="p",
        environment="e",
        history="h",
        samples=[],
        events=[],
        evaluation=ev,
        criteria=CRITERIA,
        rollback=None,
        generated_at=now,
    )
    html = render(view)
    assert "<h2>WATCHING</h2>" in html
    assert html.count("Not measured in any sample.") == 4
    assert "0 samples over no samples" in html
