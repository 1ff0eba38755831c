"""Checks of the monitoring section: Prometheus, Alertmanager, Grafana, key metrics and an
end-to-end alert test.

PromQL goes through ``ctx.prometheus.query()/scalar()`` (prometheus-api-client); the rest
of Prometheus's ``/api/v1`` through ``ctx.prometheus.api()``. Alertmanager is used through
its v2 API only (v1 was removed upstream in 0.27). The three health checks
(``prometheus_health``, ``alertmanager_health``, ``grafana``) do not declare their server in
``needs``: a server that does not answer is *their* FAIL, while every other check of that
server is skipped by the runner with the probe's reason (one root cause, one failure).
Helpers: `_monitoring.py` (Prometheus names and durations, times and values, error and
summary formatting, polling, target and receiver rows, the webhook sink).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from golive.api import Context, Outcome, Severity, check

from ._monitoring import (
    _ID_LIKE,
    _METRIC_NAME,
    _PROM_DURATION,
    _SELECTOR,
    _age,
    _closest,
    _duration_seconds,
    _http_errors,
    _human,
    _iso,
    _label_value,
    _names,
    _number,
    _parse_time,
    _plain_error,
    _plural,
    _poll,
    _prometheus_link,
    _receivers,
    _sink_deliveries,
    _target_row,
)

# ---------------------------------------------------------------------------------------------
# Prometheus


@check(
    id="monitoring.prometheus_health",
    title="Prometheus is healthy and ready",
    severity=Severity.CRITICAL,
    remediation="Start Prometheus (or fix targets.prometheus.url); if it is not ready, let it "
    "finish replaying its WAL; if a reload failed, fix prometheus.yml (promtool check config) "
    "and POST /-/reload.",
    tags=("prometheus",),
)
async def prometheus_health(ctx: Context) -> Outcome:
    """Prometheus answers 200 on `/-/healthy` and `/-/ready`; its version (buildinfo), start
    time and uptime (runtimeinfo) go into the evidence. A Prometheus that does not answer,
    is unhealthy or not ready FAILS; one whose last configuration reload failed (it keeps
    running the previous configuration) is a WARN."""
    if ctx.config.targets.prometheus is None:
        return Outcome.skip(
            "no prometheus target is configured in golive.yaml (targets.prometheus)"
        )
    prom = ctx.prometheus
    try:
        healthy = await prom.get("/-/healthy")
        ready = await prom.get("/-/ready")
    except _http_errors() as exc:
        return Outcome.failed(f"Prometheus does not answer: {prom.describe(exc)}")
    ctx.record("healthy_status", healthy.status_code)
    ctx.record("ready_status", ready.status_code)
    if healthy.status_code != 200:
        body = healthy.text.strip()[:120]
        return Outcome.failed(
            "Prometheus reports itself unhealthy: /-/healthy answered "
            f"HTTP {healthy.status_code} ({body!r})"
        )
    if ready.status_code != 200:
        return Outcome.failed(
            f"Prometheus runs but is not ready: /-/ready answered HTTP {ready.status_code}"
            " (it may still be replaying its write-ahead log)"
        )
    evidence: dict[str, Any] = {"url": prom.url}
    version = "unknown version"
    try:
        build = await prom.api("status/buildinfo")
        version = str(build.get("version") or version)
        evidence["version"] = version
        evidence["revision"] = build.get("revision")
    except _http_errors(RuntimeError) as exc:
        evidence["version"] = f"unknown ({type(exc).__name__})"
    runtime: dict[str, Any] = {}
    try:
        runtime = await prom.api("status/runtimeinfo") or {}
    except _http_errors(RuntimeError) as exc:
        evidence["runtimeinfo"] = f"unavailable ({type(exc).__name__})"
    started = _parse_time(runtime.get("startTime"))
    uptime = _age(started)
    measurements: dict[str, float] = {}
    if started is not None and uptime is not None:
        evidence["started_at"] = _iso(started)
        evidence["uptime"] = _human(uptime)
        measurements["uptime_seconds"] = round(uptime, 1)
    if "reloadConfigSuccess" in runtime:
        evidence["last_reload_ok"] = bool(runtime["reloadConfigSuccess"])
        evidence["last_config_time"] = runtime.get("lastConfigTime")
    if runtime.get("reloadConfigSuccess") is False:
        return Outcome.warn(
            f"Prometheus {version} is healthy, but its last configuration reload failed: it still "
            f"runs the configuration loaded at {runtime.get('lastConfigTime')}",
            evidence=evidence,
            measurements=measurements,
        )
    up = f" (up {_human(uptime)})" if uptime is not None else ""
    return Outcome.passed(
        f"Prometheus {version} is healthy and ready{up}",
        evidence=evidence,
        measurements=measurements,
    )


@check(
    id="monitoring.targets",
    title="Every Prometheus scrape target is up",
    severity=Severity.HIGH,
    needs=("prometheus",),
    remediation="Start the service behind each down target, or fix its address in "
    "prometheus.yml; the last error of each target says why its scrape fails.",
    tags=("prometheus",),
)
async def targets(ctx: Context, required_jobs: list[str] = []) -> Outcome:  # noqa: B006
    """Every active scrape target of Prometheus is up (or, with `required_jobs`, every target
    of those jobs is up and each job has at least one target; other down targets are then a
    WARN). Each down target is listed with its job, instance, last error and last scrape.
    Prometheus having no active target at all FAILS: nothing would be monitored."""
    data = await ctx.prometheus.api("targets", state="active")
    now = datetime.now(timezone.utc)
    rows = [_target_row(t, now) for t in (data or {}).get("activeTargets") or []]
    rows.sort(key=lambda r: (r["health"] == "up", r["job"], r["instance"]))
    ctx.record("targets", rows)
    up = [r for r in rows if r["health"] == "up"]
    down = [r for r in rows if r["health"] == "down"]
    measurements = {"targets_up": float(len(up)), "targets_down": float(len(down))}
    if not rows:
        return Outcome.failed(
            "Prometheus has no active scrape target: nothing is being monitored",
            measurements=measurements,
        )
    jobs = {r["job"] for r in rows}
    missing_jobs = [j for j in required_jobs if j not in jobs]
    unknown = [r for r in rows if r["health"] not in ("up", "down")]
    if required_jobs:
        blocking = [r for r in down if r["job"] in required_jobs]
        other = [r for r in down if r["job"] not in required_jobs]
    else:
        blocking, other = down, []
    evidence: dict[str, Any] = {}
    if down:
        evidence["down"] = [
            {k: r[k] for k in ("job", "instance", "last_error", "last_scrape", "last_scrape_ago")}
            for r in down
        ]

    def describe(items: list[dict[str, Any]]) -> str:
        return _names(
            [f"{r['job']} {r['instance']} ({r['last_error'] or 'no error text'})" for r in items], 3
        )

    if missing_jobs or blocking:
        parts = []
        if blocking:
            parts.append(f"{_plural(len(blocking), 'scrape target')} down: {describe(blocking)}")
        if missing_jobs:
            parts.append(f"required job(s) with no target: {', '.join(missing_jobs)}")
        evidence["missing_jobs"] = missing_jobs
        return Outcome.failed(
            f"{len(up)} of {len(rows)} targets up; " + "; ".join(parts),
            evidence=evidence,
            measurements=measurements,
        )
    if other or unknown:
        parts = []
        if other:
            parts.append(
                f"{_plural(len(other), 'target')} outside the required jobs down: {describe(other)}"
            )
        if unknown:
            parts.append(
                f"{_plural(len(unknown), 'target')} not scraped yet: "
                + _names(r["job"] + " " + r["instance"] for r in unknown)
            )
        return Outcome.warn(
            f"{len(up)} of {len(rows)} targets up; " + "; ".join(parts),
            evidence=evidence,
            measurements=measurements,
        )
    scope = f" (required jobs: {', '.join(required_jobs)})" if required_jobs else ""
    return Outcome.passed(
        f"All {_plural(len(rows), 'scrape target')} in {_plural(len(jobs), 'job')} are up{scope}",
        measurements=measurements,
    )


@check(
    id="monitoring.rules",
    title="Alerting and recording rules are loaded and evaluate without error",
    severity=Severity.HIGH,
    needs=("prometheus",),
    remediation="Validate the rule files with `promtool check rules`, make sure prometheus.yml "
    "lists them under rule_files, fix the expression of each failing rule and reload Prometheus.",
    tags=("prometheus",),
)
async def rules(
    ctx: Context,
    min_alerting_rules: int = 1,
    required_groups: list[str] = [],  # noqa: B006
) -> Outcome:
    """Prometheus has rules loaded (counted by group: alerting and recording), at least
    `min_alerting_rules` of them alerting rules, every group of `required_groups` present,
    and no rule whose last evaluation failed (each failing rule is named with its error)."""
    data = await ctx.prometheus.api("rules")
    groups = (data or {}).get("groups") or []
    table: list[dict[str, Any]] = []
    broken: list[dict[str, Any]] = []
    alerting = recording = 0
    for g in groups:
        kinds = {"alerting": 0, "recording": 0}
        errors = 0
        for r in g.get("rules") or []:
            kind = r.get("type", "?")
            kinds[kind] = kinds.get(kind, 0) + 1
            if r.get("health") == "err":
                errors += 1
                broken.append(
                    {
                        "group": g.get("name"),
                        "rule": r.get("name"),
                        "type": kind,
                        "error": _plain_error(r.get("lastError")),
                        "last_evaluation": r.get("lastEvaluation"),
                    }
                )
        alerting += kinds["alerting"]
        recording += kinds["recording"]
        table.append(
            {
                "group": g.get("name"),
                "file": Path(str(g.get("file") or "")).name,
                "alerting": kinds["alerting"],
                "recording": kinds["recording"],
                "failing": errors,
                "interval_s": g.get("interval"),
            }
        )
    ctx.record("groups", table)
    measurements = {
        "alerting_rules": float(alerting),
        "recording_rules": float(recording),
        "failing_rules": float(len(broken)),
    }
    names = {str(g.get("name")) for g in groups}
    missing = [g for g in required_groups if g not in names]
    problems = []
    if broken:
        ctx.record("failing", broken)
        first = broken[0]
        verb = "fails" if len(broken) == 1 else "fail"
        problems.append(
            f"{_plural(len(broken), 'rule')} {verb} to evaluate: "
            f"{_names(str(b['rule']) for b in broken)}"
            f" ({first['rule']} in group {first['group']}: {first['error']})"
        )
    if alerting < min_alerting_rules:
        problems.append(
            f"only {_plural(alerting, 'alerting rule')} loaded "
            f"(at least {min_alerting_rules} expected)"
        )
    if missing:
        ctx.record("missing_groups", missing)
        problems.append(f"rule group(s) not loaded: {', '.join(missing)}")
    if problems:
        text = "; ".join(problems)
        return Outcome.failed(text[0].upper() + text[1:], measurements=measurements)
    return Outcome.passed(
        f"{_plural(alerting + recording, 'rule')} loaded in {_plural(len(groups), 'group')} "
        f"({alerting} alerting, {recording} recording); all evaluate without error",
        measurements=measurements,
    )


@check(
    id="monitoring.firing_alerts",
    title="No critical alert is firing",
    severity=Severity.HIGH,
    needs=("prometheus",),
    remediation="Resolve the cause of each firing alert (its runbook annotation says how) "
    "before go-live; silence or waive only alerts that are understood and accepted.",
    tags=("prometheus",),
)
async def firing_alerts(
    ctx: Context,
    fail_severities: list[str] = ["critical"],  # noqa: B006
    warn_severities: list[str] = ["warning"],  # noqa: B006
    ignore_alerts: list[str] = ["Watchdog", "InfoInhibitor"],  # noqa: B006
    severity_label: str = "severity",
) -> Outcome:
    """No alert evaluated by Prometheus is firing at a severity of `fail_severities` (FAIL,
    each listed with its labels and since when); one firing at `warn_severities` is a WARN.
    Pending alerts (not yet past their `for:`) are counted in the evidence; alerts named in
    `ignore_alerts` (always-firing heartbeats such as Watchdog) are ignored."""
    data = await ctx.prometheus.api("alerts")
    now = datetime.now(timezone.utc)
    fail_set = {s.lower() for s in fail_severities}
    warn_set = {s.lower() for s in warn_severities}
    rows: list[dict[str, Any]] = []
    pending = 0
    for a in (data or {}).get("alerts") or []:
        labels = dict(a.get("labels") or {})
        name = labels.pop("alertname", "?")
        if name in ignore_alerts:
            continue
        if a.get("state") != "firing":
            pending += a.get("state") == "pending"
            continue
        since = _parse_time(a.get("activeAt"))
        severity = str(labels.pop(severity_label, "none"))
        rows.append(
            {
                "alert": name,
                "severity": severity,
                "since": _iso(since) if since else "unknown",
                "for": _human(_age(since, now)),
                "labels": ", ".join(f"{k}={v}" for k, v in sorted(labels.items())),
                "summary": str((a.get("annotations") or {}).get("summary", ""))[:200],
                "value": a.get("value"),
            }
        )
    rows.sort(
        key=lambda r: (
            r["severity"].lower() not in fail_set,
            r["severity"].lower() not in warn_set,
            r["alert"],
        )
    )
    ctx.record("pending", pending)
    if rows:
        ctx.record("firing", rows)
    failing = [r for r in rows if r["severity"].lower() in fail_set]
    warning = [r for r in rows if r["severity"].lower() in warn_set]
    measurements = {
        "firing": float(len(rows)),
        "firing_failing": float(len(failing)),
        "pending": float(pending),
    }

    def describe(items: list[dict[str, Any]]) -> str:
        return _names([f"{r['alert']} (for {r['for']})" for r in items], 4)

    if failing:
        sev = "/".join(sorted(fail_set))
        return Outcome.failed(
            f"{_plural(len(failing), f'{sev} alert')} firing: {describe(failing)}",
            measurements=measurements,
        )
    if warning:
        sev = "/".join(sorted(warn_set))
        return Outcome.warn(
            f"{_plural(len(warning), f'{sev} alert')} firing: {describe(warning)}",
            measurements=measurements,
        )
    if rows:
        return Outcome.passed(
            f"No {' or '.join(sorted(fail_set | warn_set)) or 'blocking'} alert is firing "
            f"({_plural(len(rows), 'lower-severity alert')} firing: {describe(rows)})",
            measurements=measurements,
        )
    return Outcome.passed(
        "No alert is firing" + (f" ({pending} pending)" if pending else ""),
        measurements=measurements,
    )


_DEFAULT_METRICS = [
    "up",
    "http_requests_total",
    "database_connections",
    "task_processing_rate",
    "worker_active_count",
]


@check(
    id="monitoring.key_metrics",
    title="Key metrics have recent samples in Prometheus",
    severity=Severity.HIGH,
    needs=("prometheus",),
    remediation="Make the service expose the metric and Prometheus scrape it; if the metric was "
    "renamed or prefixed (e.g. ord_http_requests_total), update dashboards, alert rules and "
    "this check's `metrics:` list to the new name.",
    tags=("prometheus",),
)
async def key_metrics(
    ctx: Context,
    metrics: list[str] = _DEFAULT_METRICS,
    max_age_seconds: float = 120.0,
    lookback_seconds: float = 3600.0,
) -> Outcome:
    """Each metric of `metrics` (a name, or a selector such as `up{job="api"}`) has at least one
    series whose newest sample is at most `max_age_seconds` old. A missing metric is reported
    with the existing metric names that look closest (a renamed `ord_http_requests_total`),
    or as "stopped reporting" when it had samples within `lookback_seconds`."""
    prom = ctx.prometheus
    selectors: list[tuple[str, str, str]] = []  # (entry, selector, bare name)
    for entry in metrics:
        entry = entry.strip()
        if _METRIC_NAME.match(entry):
            selectors.append((entry, f'{{__name__="{entry}"}}', entry))
        elif _SELECTOR.match(entry):
            selectors.append((entry, entry, entry.split("{", 1)[0]))
        else:
            return Outcome.error(
                f"{entry!r} is neither a metric name nor a PromQL selector "
                "(params.metrics in golive.yaml)"
            )
    if not selectors:
        return Outcome.error("the metrics list is empty: name at least one metric to look for")

    async def measure(selector: str) -> tuple[float | None, float | None]:
        age, count = await asyncio.gather(
            prom.scalar(f"time() - max(timestamp({selector}))"),
            prom.scalar(f"count({selector})"),
        )
        return age, count

    measured = await asyncio.gather(*(measure(sel) for _, sel, _ in selectors))
    existing: list[str] | None = None
    rows: list[dict[str, Any]] = []
    for (entry, selector, bare), (age, count) in zip(selectors, measured, strict=True):
        row: dict[str, Any] = {
            "metric": entry,
            "series": int(count or 0),
            "age_s": None if age is None else round(age, 1),
        }
        if age is not None and age <= max_age_seconds:
            row["state"] = "ok"
        elif age is not None:
            row["state"] = f"stale ({_human(age)} old)"
        else:
            since = f"{time.time() - lookback_seconds:.3f}"
            seen = await prom.api("series", **{"match[]": selector, "start": since})
            if seen:
                row["state"] = f"stopped reporting (had samples within {_human(lookback_seconds)})"
            else:
                if existing is None:
                    existing = [str(n) for n in (await prom.api("label/__name__/values") or [])]
                close = _closest(bare, existing) if bare else []
                row["state"] = "missing"
                row["closest"] = ", ".join(close) if close else "no similar metric exists"
        rows.append(row)
    ctx.record("metrics", rows)
    bad = [r for r in rows if r["state"] != "ok"]
    stalest = max((r["age_s"] for r in rows if r["age_s"] is not None), default=None)
    measurements = {"metrics_missing": float(len(bad))}
    if bad:
        parts = []
        for r in bad:
            if r["state"] != "missing":
                parts.append(f"{r['metric']} ({r['state']})")
            elif r["closest"] == "no similar metric exists":
                parts.append(f"{r['metric']} (missing; no similar metric exists)")
            else:
                parts.append(f"{r['metric']} (missing; closest existing: {r['closest']})")
        return Outcome.failed(
            f"{len(bad)} of {_plural(len(rows), 'key metric')} "
            f"{'has' if len(bad) == 1 else 'have'} no recent samples: " + _names(parts, 5),
            measurements=measurements,
        )
    series = sum(r["series"] for r in rows)
    return Outcome.passed(
        f"All {_plural(len(rows), 'key metric')} have recent samples "
        f"({series} series, each metric sampled within the last {_human(stalest)})",
        measurements=measurements,
    )


@check(
    id="monitoring.ingestion",
    title="Prometheus is ingesting samples and scrapes finish well within their timeout",
    severity=Severity.MEDIUM,
    needs=("prometheus",),
    remediation="When nothing is ingested, check that targets are up and scraped (monitoring."
    "targets); when a job's scrapes approach their timeout, reduce what it exposes or raise "
    "scrape_timeout/scrape_interval for it.",
    tags=("prometheus",),
)
async def ingestion(
    ctx: Context,
    window: str = "5m",
    self_job: str = "prometheus",
    max_scrape_fraction: float = 0.8,
) -> Outcome:
    """Samples appended per second, computed with `rate()` of Prometheus's own
    `prometheus_tsdb_head_samples_appended_total` over `window` when Prometheus scrapes itself
    (job `self_job`), otherwise from the per-scrape `scrape_samples_post_metric_relabeling`
    series summed over the window (this is a rate, not a raw counter value). Also the average
    scrape duration of each job over the window, against its scrape timeout. WARN when
    ingestion is zero or unknown, or a job's scrapes take more than `max_scrape_fraction` of
    their timeout."""
    if not _PROM_DURATION.match(window):
        return Outcome.error(f"window {window!r} is not a PromQL duration such as '5m' or '30s'")
    seconds = _duration_seconds(window) or 300.0
    prom = ctx.prometheus
    method = f"rate(prometheus_tsdb_head_samples_appended_total[{window}])"
    rate = await prom.scalar(
        f"sum(rate(prometheus_tsdb_head_samples_appended_total{{job={_label_value(self_job)}}}[{window}]))"
    )
    if rate is None:
        method = f"sum_over_time(scrape_samples_post_metric_relabeling[{window}]) / {seconds:g}s"
        rate = await prom.scalar(
            f"sum(sum_over_time(scrape_samples_post_metric_relabeling[{window}])) / {seconds:g}"
        )
    ctx.record("method", method)
    ctx.record("window", window)
    durations = await prom.query(f"max by (job) (avg_over_time(scrape_duration_seconds[{window}]))")
    data = await prom.api("targets", state="active")
    timeouts: dict[str, float] = {}
    for t in (data or {}).get("activeTargets") or []:
        job = (t.get("labels") or {}).get("job") or t.get("scrapePool")
        limit = _duration_seconds(str(t.get("scrapeTimeout") or ""))
        if job and limit:
            timeouts[job] = max(limit, timeouts.get(job, 0.0))
    jobs: list[dict[str, Any]] = []
    for row in durations:
        job = (row.get("metric") or {}).get("job", "?")
        value = _number((row.get("value") or [None, None])[1])
        limit = timeouts.get(job)
        jobs.append(
            {
                "job": job,
                "avg_scrape_ms": None if value is None else round(value * 1000, 1),
                "timeout_s": limit,
                "share_of_timeout": None if value is None or not limit else round(value / limit, 3),
            }
        )
    jobs.sort(key=lambda j: -(j["share_of_timeout"] or 0))
    ctx.record("scrape_durations", jobs)
    measurements: dict[str, float] = {}
    if rate is not None:
        measurements["samples_per_second"] = round(rate, 3)
    slowest = max(
        (j["avg_scrape_ms"] for j in jobs if j["avg_scrape_ms"] is not None), default=None
    )
    if slowest is not None:
        measurements["max_avg_scrape_ms"] = slowest
    slow = [
        j
        for j in jobs
        if j["share_of_timeout"] is not None and j["share_of_timeout"] > max_scrape_fraction
    ]
    if rate is None:
        return Outcome.warn(
            f"Prometheus ingested no samples in the last {window}: it has no scrape data at all",
            measurements=measurements,
        )
    speed = f"{rate:.1f}" if rate < 10 else f"{rate:.0f}"
    if rate <= 0:
        return Outcome.warn(
            f"Prometheus ingests nothing: 0 samples/s over the last {window}",
            measurements=measurements,
        )
    if slow:
        text = _names(
            [
                f"{j['job']} ({j['avg_scrape_ms']} ms of its {j['timeout_s']:g} s timeout)"
                for j in slow
            ]
        )
        return Outcome.warn(
            f"Prometheus ingests {speed} samples/s, but scrapes come close to their timeout: "
            + text,
            measurements=measurements,
        )
    worst = (
        f"; slowest job {jobs[0]['job']} scrapes in {jobs[0]['avg_scrape_ms']} ms on average"
        if jobs
        else ""
    )
    return Outcome.passed(
        f"Prometheus ingests {speed} samples/s (over the last {window}){worst}",
        measurements=measurements,
    )


@check(
    id="monitoring.cardinality",
    title="No metric or label has runaway cardinality",
    severity=Severity.MEDIUM,
    needs=("prometheus",),
    remediation="Label requests by route template (`/tasks/{id}`), never by raw path or id; drop "
    "or aggregate offending labels with metric_relabel_configs; split metrics whose series "
    "count keeps growing.",
    tags=("prometheus",),
)
async def cardinality(
    ctx: Context,
    max_series_per_metric: int = 1000,
    max_label_values: int = 500,
    ignore_labels: list[str] = ["__name__"],  # noqa: B006
) -> Outcome:
    """From `/api/v1/status/tsdb` (head block): the series count of the largest metrics and
    the number of values of the largest labels. WARN when a metric has more than
    `max_series_per_metric` series or a label more than `max_label_values` values; for each
    such label a few example values are shown and whether they look like ids (a request
    path label holding ids is the classic cause)."""
    prom = ctx.prometheus
    data = await prom.api("status/tsdb") or {}
    head = data.get("headStats") or {}
    metrics = [
        {"metric": m.get("name"), "series": int(m.get("value") or 0)}
        for m in data.get("seriesCountByMetricName") or []
    ]
    labels = [
        {"label": m.get("name"), "values": int(m.get("value") or 0)}
        for m in data.get("labelValueCountByLabelName") or []
        if m.get("name") not in ignore_labels
    ]
    ctx.record("head_series", head.get("numSeries"))
    ctx.record("top_metrics", metrics)
    ctx.record("top_labels", labels)
    big_metrics = [m for m in metrics if m["series"] > max_series_per_metric]
    big_labels = [lb for lb in labels if lb["values"] > max_label_values]
    for lb in big_labels:
        values = await prom.api(f"label/{lb['label']}/values", limit="200") or []
        sample = [str(v) for v in values[:200]]
        ids = [v for v in sample if _ID_LIKE.search(v)]
        lb["examples"] = ", ".join(v[:60] for v in (ids or sample)[:4])
        lb["id_like"] = bool(sample) and len(ids) * 2 >= len(sample)
    measurements = {"head_series": float(head.get("numSeries") or 0)}
    if metrics:
        measurements["max_series_per_metric"] = float(metrics[0]["series"])
    if labels:
        measurements["max_label_values"] = float(max(lb["values"] for lb in labels))
    if big_metrics or big_labels:
        parts = []
        for lb in big_labels:
            why = (
                f"; its values look like ids (e.g. {lb['examples']})"
                if lb["id_like"]
                else f" (e.g. {lb['examples']})"
            )
            parts.append(
                f"label {lb['label']!r} has {lb['values']} values, over {max_label_values}{why}"
            )
        for m in big_metrics:
            parts.append(
                f"metric {m['metric']} has {m['series']} series, over {max_series_per_metric}"
            )
        evidence = {
            "over_threshold": [
                *({"kind": "label", **lb} for lb in big_labels),
                *({"kind": "metric", **m} for m in big_metrics),
            ]
        }
        return Outcome.warn(
            "High cardinality: " + "; ".join(parts[:4]),
            evidence=evidence,
            measurements=measurements,
        )
    largest = (
        f"; largest metric {metrics[0]['metric']} with {metrics[0]['series']} series"
        if metrics
        else ""
    )
    return Outcome.passed(
        f"No metric has more than {max_series_per_metric} series and no label more than "
        f"{max_label_values} values "
        f"({head.get('numSeries', '?')} series in the head block{largest})",
        measurements=measurements,
    )


# ---------------------------------------------------------------------------------------------
# Alertmanager


@check(
    id="monitoring.alertmanager_health",
    title="Alertmanager is up, clustered as configured, and has a receiver",
    severity=Severity.CRITICAL,
    remediation="Start Alertmanager (v2 API, 0.16 or later) or fix targets.alertmanager.url; "
    "configure at least one receiver with an integration (webhook, email, pager) and point "
    "Prometheus's `alerting:` section at Alertmanager.",
    tags=("alertmanager",),
)
async def alertmanager_health(ctx: Context) -> Outcome:
    """Alertmanager answers its v2 `/api/v2/status` (version, uptime and cluster state in the
    evidence), its cluster is not still settling, and at least one receiver with an
    integration is configured (a receiver without any only drops alerts). When a Prometheus
    target is configured, Prometheus must also list at least one active Alertmanager (WARN
    otherwise: its alerts would go nowhere)."""
    if ctx.config.targets.alertmanager is None:
        return Outcome.skip(
            "no alertmanager target is configured in golive.yaml (targets.alertmanager)"
        )
    import httpx

    am = ctx.alertmanager
    try:
        status = await am.status()
    except httpx.HTTPStatusError as exc:
        code = exc.response.status_code
        hint = " (Alertmanager older than 0.16 has no v2 API)" if code == 404 else ""
        return Outcome.failed(f"Alertmanager answered HTTP {code} to GET /api/v2/status{hint}")
    except _http_errors(ValueError) as exc:
        return Outcome.failed(f"Alertmanager does not answer: {am.describe(exc)}")
    version = str((status.get("versionInfo") or {}).get("version") or "unknown version")
    started = _parse_time(status.get("uptime"))
    uptime = _age(started)
    cluster = status.get("cluster") or {}
    state = str(cluster.get("status") or "unknown")
    peers = len(cluster.get("peers") or [])
    receivers, root = _receivers(str((status.get("config") or {}).get("original") or ""))
    evidence: dict[str, Any] = {
        "url": am.url,
        "version": version,
        "started_at": _iso(started) if started else None,
        "uptime": _human(uptime),
        "cluster": state,
        "peers": peers,
        "root_route_receiver": root,
        "receivers": receivers,
    }
    measurements = {"uptime_seconds": round(uptime, 1)} if uptime is not None else {}
    problems: list[str] = []
    warnings: list[str] = []
    delivering = [r for r in receivers if not r["integrations"].startswith("none")]
    if not delivering:
        problems.append(
            "no receiver with an integration is configured: alerts are delivered nowhere"
        )
    elif root and not any(r["receiver"] == root and r in delivering for r in receivers):
        warnings.append(
            f"the root route's receiver {root!r} has no integration: "
            "alerts that no route matches are dropped"
        )
    if state == "settling":
        warnings.append(f"its cluster is still settling ({_plural(peers, 'peer')})")
    elif state not in ("ready", "disabled"):
        warnings.append(f"its cluster state is {state!r}")
    if ctx.config.targets.prometheus is not None:
        link = await _prometheus_link(ctx)
        evidence["prometheus_alertmanagers"] = link
        if link == []:
            warnings.append("Prometheus lists no active Alertmanager: its alerts go nowhere")
    cluster_text = (
        "single instance"
        if state == "disabled"
        else f"cluster {state} with {_plural(peers, 'peer')}"
    )
    head = f"Alertmanager {version} (running {_human(uptime)}, {cluster_text})"
    if problems:
        return Outcome.failed(
            f"{head} answers, but " + "; ".join(problems + warnings),
            evidence=evidence,
            measurements=measurements,
        )
    if warnings:
        return Outcome.warn(
            f"{head} answers, but " + "; ".join(warnings),
            evidence=evidence,
            measurements=measurements,
        )
    names = _names(f"{r['receiver']} ({r['integrations']})" for r in delivering)
    return Outcome.passed(
        f"{head} answers with {_plural(len(delivering), 'receiver')}: {names}",
        evidence=evidence,
        measurements=measurements,
    )


@check(
    id="monitoring.alert_pipeline",
    title="A test alert goes through Alertmanager and is resolved",
    severity=Severity.HIGH,
    needs=("alertmanager",),
    writes=True,
    remediation="Check Alertmanager's logs and that it accepts POST /api/v2/alerts; for "
    "delivery, check the receiver's URL and network path, and group_wait (this check's timeout "
    "must exceed it).",
    tags=("alertmanager",),
)
async def alert_pipeline(
    ctx: Context,
    alertname: str = "GoliveAlertPipelineTest",
    labels: dict[str, str] = {"severity": "info"},  # noqa: B006
    webhook_sink: str | None = None,
    ttl_seconds: float = 300.0,
) -> Outcome:
    """Posts one uniquely labelled test alert (`golive_marker=golive-<run id>`, plus `labels`)
    through the v2 API, polls until Alertmanager lists it, then resolves it (endsAt = now) and
    polls until it is no longer active. With `webhook_sink` (a JSON-lines file a webhook
    receiver writes, such as the demo's sink) it also waits for the firing notification to be
    delivered. The alert carries endsAt = now + `ttl_seconds`, so it expires by itself even if
    golive is killed before resolving it."""
    import httpx

    am = ctx.alertmanager
    loop = asyncio.get_running_loop()
    began = loop.time()
    deadline = began + max(1.0, ctx.timeout - min(5.0, ctx.timeout * 0.2))  # keep time to resolve
    sink = Path(webhook_sink).expanduser() if webhook_sink else None
    if sink is not None and not sink.is_file():
        return Outcome.error(f"webhook sink file {sink} does not exist (params.webhook_sink)")
    offset = sink.stat().st_size if sink is not None else 0
    alert_labels = {
        **labels,
        "alertname": alertname,
        "golive_marker": ctx.marker,
        "golive_check": ctx.check_id,
    }
    matcher = f"golive_marker={_label_value(ctx.marker)}"
    started = datetime.now(timezone.utc)
    alert = {
        "labels": alert_labels,
        "annotations": {
            "summary": "golive end-to-end alert test; safe to ignore",
            "run_id": ctx.run_id,
        },
        "startsAt": _iso(started),
        "endsAt": _iso(started + timedelta(seconds=ttl_seconds)),
    }
    ctx.record("labels", alert_labels)
    steps: list[dict[str, Any]] = []
    ctx.record("steps", steps)

    def step(name: str, ok: bool, detail: str = "") -> None:
        steps.append(
            {
                "step": name,
                "ok": ok,
                "after_ms": round((loop.time() - began) * 1000),
                "detail": detail,
            }
        )

    async def active() -> list[dict[str, Any]]:
        found = await am.alerts(filter=matcher)
        return [a for a in found if (a.get("status") or {}).get("state") != "resolved"]

    state = {"posted": False, "resolved": False}

    async def resolve() -> None:
        await am.post_alerts([{**alert, "endsAt": _iso(datetime.now(timezone.utc))}])
        state["resolved"] = True

    async def run() -> Outcome:
        try:
            await am.post_alerts([alert])
        except httpx.HTTPStatusError as exc:
            code = exc.response.status_code
            text = " ".join(exc.response.text.split())[:200]
            step("post", False, f"HTTP {code}")
            return Outcome.failed(
                "Alertmanager rejected the test alert: POST /api/v2/alerts answered "
                f"HTTP {code} ({text!r})"
            )
        except _http_errors() as exc:
            step("post", False, am.describe(exc))
            return Outcome.failed(f"Could not post the test alert: {am.describe(exc)}")
        state["posted"] = True
        step("post", True, "accepted")
        listed = await _poll(active, deadline)
        if not listed:
            step("listed", False)
            return Outcome.failed(
                "Alertmanager accepted the test alert but did not list it within "
                + _human(deadline - began)
            )
        receivers = sorted({r.get("name", "?") for a in listed for r in a.get("receivers") or []})
        step("listed", True, "receivers: " + (", ".join(receivers) or "none"))
        ctx.record(
            "side_effects",
            [
                {
                    "target": "alertmanager",
                    "what": f"test alert {alertname} ({ctx.marker}) posted, then resolved; "
                    "Alertmanager notifies its receivers ("
                    + (", ".join(receivers) or "none")
                    + ") of it after group_wait and logs those notifications",
                    "records": [{"labels": alert_labels, "receivers": receivers}],
                }
            ],
        )
        listed_ms = steps[-1]["after_ms"]
        via = ""
        if sink is not None:
            path = sink

            async def delivered() -> dict[str, Any]:
                return await asyncio.to_thread(_sink_deliveries, path, offset, ctx.marker)

            seen = await _poll(delivered, deadline)
            if not seen or "firing" not in seen:
                step("delivered", False, str(sink))
                return Outcome.failed(
                    "The test alert was listed by Alertmanager but not delivered to the "
                    f"webhook sink within {_human(deadline - began)} (Alertmanager waits "
                    "group_wait before the first notification)"
                )
            step("delivered", True, f"receiver {seen['firing']}")
            via = f", delivered to receiver {seen['firing']} after {steps[-1]['after_ms']} ms"
        await resolve()
        step("resolve", True, "endsAt = now")

        async def gone() -> bool:
            return not await active()

        if not await _poll(gone, max(deadline, loop.time() + 2.0)):
            step("resolved", False)
            return Outcome.failed(
                "Alertmanager still lists the test alert as active after it was resolved"
            )
        step("resolved", True)
        route = f" (routed to {', '.join(receivers)})" if receivers else ""
        return Outcome.passed(
            "A test alert went through Alertmanager: "
            f"listed after {listed_ms} ms{route}{via}, then resolved",
            measurements={"listed_ms": float(listed_ms), "total_ms": float(steps[-1]["after_ms"])},
        )

    outcome: Outcome | None = None
    try:
        outcome = await run()
    finally:
        if state["posted"] and not state["resolved"]:
            try:
                await resolve()
                step("cleanup", True, "resolved the test alert")
            except _http_errors() as exc:
                step("cleanup", False, am.describe(exc))
                ctx.record("not_cleaned_up", {"labels": alert_labels, "expires": alert["endsAt"]})
                outcome = Outcome.failed(
                    f"{outcome.summary if outcome else 'The check was interrupted'}; and the "
                    f"test alert could not be resolved ({am.describe(exc)}): "
                    f"it expires by itself at {alert['endsAt']}"
                )
    return outcome


# ---------------------------------------------------------------------------------------------
# Grafana


@check(
    id="monitoring.grafana",
    title="Grafana is healthy, its Prometheus datasource works and dashboards are provisioned",
    severity=Severity.MEDIUM,
    remediation="Start Grafana (or fix targets.grafana.url); give golive a viewer token "
    "(targets.grafana.token) so it can verify the datasource and dashboards; fix the "
    "datasource URL in the provisioning file and provision the missing dashboards.",
    tags=("grafana",),
)
async def grafana(
    ctx: Context,
    datasource_type: str = "prometheus",
    datasource_name: str | None = None,
    dashboards: list[str] = [],  # noqa: B006
) -> Outcome:
    """Grafana's `/api/health` answers with database "ok" (version in the evidence). With a
    token: a datasource of `datasource_type` (named `datasource_name`, if given) exists and
    its health check (`/api/datasources/uid/<uid>/health`) passes, and every dashboard of
    `dashboards` (title or uid) is found by `/api/search`. Without a token only health is
    verified, which is a WARN: the datasource is the part that breaks."""
    if ctx.config.targets.grafana is None:
        return Outcome.skip("no grafana target is configured in golive.yaml (targets.grafana)")
    g = ctx.grafana
    ctx.secret(g.token)
    try:
        resp = await g.get("/api/health")
    except _http_errors() as exc:
        return Outcome.failed(f"Grafana does not answer: {g.describe(exc)}")
    try:
        health = resp.json()
    except ValueError:
        health = {}
    version = str(health.get("version") or "unknown version")
    database = str(health.get("database") or "unknown")
    evidence: dict[str, Any] = {
        "url": g.url,
        "version": version,
        "database": database,
        "health_status": resp.status_code,
    }
    ctx.record("health", {"version": version, "database": database})
    if resp.status_code != 200 or database != "ok":
        return Outcome.failed(
            f"Grafana {version} is unhealthy: /api/health answered HTTP {resp.status_code} "
            f"with database {database!r}",
            evidence=evidence,
        )
    if not g.token:
        return Outcome.warn(
            f"Grafana {version} is healthy (database ok), but without a token "
            "(targets.grafana.token) golive cannot verify its Prometheus datasource and dashboards",
            evidence=evidence,
        )
    resp = await g.get("/api/datasources")
    if resp.status_code in (401, 403):
        return Outcome.failed(
            f"Grafana rejected golive's token (HTTP {resp.status_code} on /api/datasources)",
            evidence=evidence,
        )
    resp.raise_for_status()
    sources = [d for d in resp.json() or [] if isinstance(d, dict)]
    evidence["datasources"] = [
        {
            "name": d.get("name"),
            "type": d.get("type"),
            "uid": d.get("uid"),
            "default": d.get("isDefault", False),
        }
        for d in sources
    ]
    wanted = [
        d
        for d in sources
        if d.get("type") == datasource_type
        and (datasource_name is None or d.get("name") == datasource_name)
    ]
    problems: list[str] = []
    warnings: list[str] = []
    checked: list[str] = []
    if not wanted:
        named = f" named {datasource_name!r}" if datasource_name else ""
        found = _names(f"{d.get('name')} ({d.get('type')})" for d in sources) or "none"
        problems.append(f"no {datasource_type} datasource{named} exists (found: {found})")
    results = []
    for d in wanted:
        r = await g.get(f"/api/datasources/uid/{d.get('uid')}/health")
        try:
            body = r.json()
        except ValueError:
            body = {}
        message = _plain_error(body.get("message") or r.text.strip(), 200)
        results.append(
            {
                "datasource": d.get("name"),
                "http": r.status_code,
                "status": body.get("status"),
                "message": message,
            }
        )
        if r.status_code == 404:
            warnings.append(
                f"datasource {d.get('name')!r} has no health endpoint (Grafana older than 9?)"
            )
        elif r.status_code != 200 or str(body.get("status", "")).upper() != "OK":
            problems.append(f"datasource {d.get('name')!r} fails its health check: {message}")
        else:
            checked.append(f"{d.get('name')!r} ({message})")
    evidence["datasource_health"] = results
    if dashboards:
        r = await g.get("/api/search", params={"type": "dash-db", "limit": 5000})
        r.raise_for_status()
        found_boards = [b for b in r.json() or [] if isinstance(b, dict)]
        have = {str(b.get("title")) for b in found_boards} | {
            str(b.get("uid")) for b in found_boards
        }
        missing = [d for d in dashboards if d not in have]
        evidence["dashboards"] = [{"dashboard": d, "provisioned": d in have} for d in dashboards]
        if missing:
            problems.append(
                f"{_plural(len(missing), 'expected dashboard')} not found: {_names(missing)}"
            )
    if problems:
        return Outcome.failed(
            f"Grafana {version} is up, but " + "; ".join(problems + warnings), evidence=evidence
        )
    if warnings:
        return Outcome.warn(
            f"Grafana {version} is up, but " + "; ".join(warnings), evidence=evidence
        )
    boards = (
        f"; all {_plural(len(dashboards), 'expected dashboard')} provisioned" if dashboards else ""
    )
    return Outcome.passed(
        f"Grafana {version} is healthy (database ok); "
        f"{datasource_type} datasource {_names(checked)} answers{boards}",
        evidence=evidence,
    )
