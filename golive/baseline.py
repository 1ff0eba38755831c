"""Performance baselines: save what the performance checks measured, load it back, compare.

`golive baseline save` runs the performance checks and writes a JSON document::

    {"kind": "golive-baseline", "format": 1, "created_at": ..., "golive_version": ...,
     "config_digest": ..., "project": ..., "environment": ..., "targets": {...},
     "checks": {"performance.api_latency": {"params": {...}, "measurements": {...},
                                             "samples": {"/health": [ms, ...]}, ...}},
     "digest": "sha256:..."}

`golive run --baseline FILE` loads it (`load_baseline`: a missing, corrupt or mismatched
file raises `BaselineError`, exit 2) and each performance check compares its figures with
its entry (`apply_baseline`): a value more than `baseline.warn_pct` % worse is a WARN, more
than `baseline.fail_pct` % worse a FAIL; changes smaller than a metric's noise floor are
ignored. Latency samples are compared with a one-sided Mann-Whitney U test: a FAIL needs a
significant shift (p < `baseline.alpha`), so noise alone never fails a release (it stays a
WARN). Mismatched means: another project, environment or API target, or a check measured
with another workload (request count, concurrency, endpoints, number of tasks, ...).
"""

from __future__ import annotations

import hashlib
import json
import math
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from golive.errors import BaselineError
from golive.models import Outcome, Status

if TYPE_CHECKING:
    from golive.api import Context
    from golive.config import BaselineConfig, Config
    from golive.models import Run
    from golive.plan import Planned
    from golive.redact import Redactor

KIND = "golive-baseline"
FORMAT = 1
#: Parameters that shape what a built-in check measures; a baseline measured with other
#: values is not comparable. Other checks (plugins) are compared on all their parameters.
WORKLOAD_PARAMS: dict[str, tuple[str, ...]] = {
    "performance.api_latency": ("endpoints", "requests", "concurrency", "warmup"),
    "performance.task_throughput": ("tasks", "due_in", "tasks_path", "submit_concurrency"),
    "performance.container_resources": ("services", "cpu_window"),
}
_MIN_SAMPLES = 8  # fewer samples on either side: no Mann-Whitney test


@dataclass(frozen=True)
class Metric:
    """How to compare one measured value with its baseline.

    `better` says which direction is an improvement; differences smaller than `floor` (in
    the value's own unit) are noise; `samples` names the raw latency series (larger is
    worse) whose Mann-Whitney test must confirm a regression before it may FAIL.
    """

    better: Literal["lower", "higher"]
    floor: float = 0.0
    unit: str = ""
    samples: str | None = None


# ---------------------------------------------------------------------------------------------
# saving


def _finite(values: Mapping[str, Any]) -> dict[str, float]:
    return {
        str(k): float(v)
        for k, v in values.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }


def _digest(checks: Any) -> str:
    canonical = json.dumps(checks, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def build(run: Run, planned: Sequence[Planned], redactor: Redactor | None = None) -> dict[str, Any]:
    """The baseline document of a run: every evaluated result that measured something.

    With a redactor, secrets are masked before the digest is computed.
    """
    params = {p.id: p.params for p in planned}
    checks: dict[str, Any] = {}
    for r in run.results:
        if r.status in (Status.ERROR, Status.SKIP) or not r.measurements:
            continue
        checks[r.id] = {
            "title": r.title,
            "status": r.status.value,
            "summary": r.summary,
            "measured_at": r.started_at,
            "duration": r.duration,
            "params": json.loads(json.dumps(params.get(r.id, {}), default=str)),
            "measurements": _finite(r.measurements),
            "samples": {
                str(k): [float(x) for x in v if math.isfinite(x)] for k, v in r.samples.items()
            },
        }
    if redactor is not None:
        checks = redactor.redact_obj(checks)
    return {
        "kind": KIND,
        "format": FORMAT,
        "created_at": run.finished_at,
        "golive_version": run.golive_version,
        "run_id": run.run_id,
        "host": socket.gethostname(),
        "project": run.project,
        "environment": run.environment,
        "config_digest": run.config_digest,
        "config_files": list(run.config_files),
        "targets": dict(run.targets),
        "checks": checks,
        "digest": _digest(checks),
    }


def save(doc: Mapping[str, Any], path: str) -> None:
    """Write a baseline document atomically (parent directories are created)."""
    from golive.output import write_atomic

    write_atomic(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")


# ---------------------------------------------------------------------------------------------
# loading


def _bad(path: str, why: str) -> BaselineError:
    return BaselineError(f"baseline {path} is corrupt: {why}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _validate(doc: Any, path: str) -> dict[str, Any]:
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        return_kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
        raise BaselineError(
            f"{path} is not a golive baseline (kind {return_kind!r}); "
            "save one with `golive baseline save`"
        )
    fmt = doc.get("format")
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise _bad(path, "no format number")
    if fmt != FORMAT:
        raise BaselineError(
            f"baseline {path} has format {fmt}; this golive reads format {FORMAT} "
            "(save a new baseline with this version)"
        )
    for key in ("created_at", "project", "environment"):
        if not isinstance(doc.get(key), str):
            raise _bad(path, f"{key!r} is missing or not a string")
    if not isinstance(doc.get("targets"), dict):
        raise _bad(path, "'targets' is missing or not an object")
    checks = doc.get("checks")
    if not isinstance(checks, dict):
        raise _bad(path, "'checks' is missing or not an object")
    for cid, entry in checks.items():
        where = f"checks[{cid!r}]"
        if not isinstance(entry, dict):
            raise _bad(path, f"{where} is not an object")
        meas, samples = entry.get("measurements"), entry.get("samples", {})
        if not isinstance(meas, dict) or not all(_is_number(v) for v in meas.values()):
            raise _bad(path, f"{where}.measurements must map names to finite numbers")
        if not isinstance(samples, dict) or not all(
            isinstance(v, list) and all(_is_number(x) for x in v) for v in samples.values()
        ):
            raise _bad(path, f"{where}.samples must map names to lists of finite numbers")
        if not isinstance(entry.get("params", {}), dict):
            raise _bad(path, f"{where}.params is not an object")
    try:
        digest = _digest(checks)
    except ValueError:  # NaN or Infinity somewhere (JSON allows neither)
        raise _bad(path, "it holds a number that is not finite (NaN or Infinity)") from None
    if doc.get("digest") != digest:
        raise _bad(path, "its measurements do not match its digest (edited or truncated)")
    return doc


def _mismatches(doc: Mapping[str, Any], cfg: Config) -> list[str]:
    from golive.engine import make_redactor
    from golive.plan import resolve
    from golive.registry import build_registry

    out = []
    for key, now in (("project", cfg.project), ("environment", cfg.environment)):
        if doc[key] != now:
            out.append(f"it was saved for {key} {doc[key]!r}, this configuration is {now!r}")
    api = cfg.targets.api
    saved_api = doc["targets"].get("api")
    if api is not None and saved_api is not None:
        current = make_redactor(cfg).redact(api.url)
        if saved_api != current:
            out.append(f"it measured the API at {saved_api}, this configuration targets {current}")
    planned = {p.id: p for p in resolve(cfg, build_registry(cfg.plugin_paths))}
    for cid, entry in doc["checks"].items():
        p = planned.get(cid)
        if p is None:
            continue
        saved = entry.get("params", {})
        now_params = json.loads(json.dumps(p.params, default=str))
        names = WORKLOAD_PARAMS.get(cid, tuple(now_params))
        for name in names:
            if name in saved and name in now_params and saved[name] != now_params[name]:
                out.append(
                    f"{cid} was measured with {name}={saved[name]!r}, "
                    f"this configuration uses {name}={now_params[name]!r}"
                )
    return out


def load_baseline(path: str, cfg: Config) -> dict[str, Any]:
    """Read and check a baseline file; raise BaselineError when it is unusable here."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(
            f"baseline file {path} does not exist (save one with `golive baseline save -o {path}`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"cannot read baseline file {path}: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(
            path, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise _bad(path, "nested too deeply") from None
    doc = _validate(doc, path)
    problems = _mismatches(doc, cfg)
    if problems:
        raise BaselineError(
            f"baseline {path} does not match this configuration: "
            + "; ".join(problems)
            + " (save a new baseline against this target)"
        )
    doc["path"] = path
    return doc


# ---------------------------------------------------------------------------------------------
# comparing


def mann_whitney(baseline: Sequence[float], now: Sequence[float]) -> tuple[float, float] | None:
    """(U, p) of a one-sided Mann-Whitney U test that `now` is larger than `baseline`."""
    if len(baseline) < _MIN_SAMPLES or len(now) < _MIN_SAMPLES:
        return None
    from scipy.stats import mannwhitneyu

    res = mannwhitneyu(list(now), list(baseline), alternative="greater")
    return float(res.statistic), float(res.pvalue)


def _fmt(value: float, unit: str) -> str:
    text = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return f"{text} {unit}".strip()


def _change(before: float, now: float, metric: Metric) -> tuple[float, float]:
    """(signed change in %, how much worse in %: positive is a regression)."""
    diff = now - before
    if before == 0:
        change = 0.0 if diff == 0 else math.copysign(math.inf, diff)
    else:
        change = diff / abs(before) * 100.0
    return change, change if metric.better == "lower" else -change


def compare(
    check_id: str,
    entry: Mapping[str, Any],
    outcome: Outcome,
    metrics: Mapping[str, Metric],
    tolerances: BaselineConfig,
) -> tuple[Status, list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Compare an outcome's figures with a baseline entry.

    Returns (status, one row per measured value, Mann-Whitney rows, regression texts).
    """
    saved_m: Mapping[str, float] = entry.get("measurements", {})
    saved_s: Mapping[str, Sequence[float]] = entry.get("samples", {})
    tests: dict[str, tuple[float, float] | None] = {}
    mw_rows: list[dict[str, Any]] = []
    for name in sorted({m.samples for m in metrics.values() if m.samples}):
        old_s, new_s = saved_s.get(name), outcome.samples.get(name)
        result = mann_whitney(old_s, new_s) if old_s and new_s else None
        tests[name] = result
        if result is not None and old_s and new_s:
            mw_rows.append(
                {
                    "samples": name,
                    "n_baseline": len(old_s),
                    "n_now": len(new_s),
                    "median_baseline_ms": round(sorted(old_s)[len(old_s) // 2], 2),
                    "median_now_ms": round(sorted(new_s)[len(new_s) // 2], 2),
                    "U": result[0],
                    "p_value": round(result[1], 6),
                    "slower": result[1] < tolerances.alpha,
                }
            )
    status = Status.PASS
    rows: list[dict[str, Any]] = []
    regressions: list[str] = []
    for key, metric in metrics.items():
        if key not in outcome.measurements or key not in saved_m:
            continue
        before, now = float(saved_m[key]), float(outcome.measurements[key])
        change, worse = _change(before, now, metric)
        tol = tolerances.tolerance(check_id, key)
        verdict, note = Status.PASS, ""
        if abs(now - before) <= metric.floor:
            note = f"within the noise floor of {_fmt(metric.floor, metric.unit)}"
        elif worse > tol.fail_pct:
            verdict = Status.FAIL
        elif worse > tol.warn_pct:
            verdict = Status.WARN
        test = tests.get(metric.samples) if metric.samples else None
        if verdict is Status.FAIL and metric.samples:
            if test is None:
                verdict, note = Status.WARN, "too few samples for a significance test"
            elif test[1] >= tolerances.alpha:
                verdict = Status.WARN
                note = f"not significant (Mann-Whitney p={test[1]:.3g} >= {tolerances.alpha:g})"
            else:
                note = f"significant (Mann-Whitney p={test[1]:.2g})"
        if verdict is not Status.PASS:
            regressions.append(
                f"{key} {_fmt(before, metric.unit)} -> {_fmt(now, metric.unit)} ({change:+.0f}%)"
            )
            if verdict.rank > status.rank:
                status = verdict
        rows.append(
            {
                "measurement": key,
                "baseline": _fmt(before, metric.unit),
                "now": _fmt(now, metric.unit),
                "change": f"{change:+.1f}%" if math.isfinite(change) else "new",
                "verdict": verdict.value if verdict is not Status.PASS else "ok",
                "note": note,
            }
        )
    return status, rows, mw_rows, regressions


def apply_baseline(ctx: Context, outcome: Outcome, metrics: Mapping[str, Metric]) -> Outcome:
    """The outcome, compared with the run's baseline when one was given (else unchanged)."""
    if ctx.settings.baseline_path is None or outcome.status in (Status.ERROR, Status.SKIP):
        return outcome
    entry = ctx.baseline
    if entry is None:
        note = {"baseline": f"{ctx.settings.baseline_path} has no entry for this check"}
        return replace(outcome, evidence={**outcome.evidence, **note})
    status, rows, mw_rows, regressions = compare(
        ctx.check_id, entry, outcome, metrics, ctx.config.baseline
    )
    saved_at = str(ctx.targets.baseline.get("created_at", "")) if ctx.targets.baseline else ""
    evidence = {
        **outcome.evidence,
        "baseline": {
            "file": ctx.settings.baseline_path,
            "saved_at": saved_at,
            "warn_pct": ctx.config.baseline.warn_pct,
            "fail_pct": ctx.config.baseline.fail_pct,
            "alpha": ctx.config.baseline.alpha,
        },
        "baseline_comparison": rows,
    }
    if mw_rows:
        evidence["mann_whitney"] = mw_rows
    when = saved_at[:10] or "the saved baseline"
    if regressions:
        text = f"; worse than the baseline of {when}: " + ", ".join(regressions[:3])
    else:
        text = f"; no regression against the baseline of {when}"
    new_status = status if status.rank > outcome.status.rank else outcome.status
    return replace(outcome, status=new_status, summary=outcome.summary + text, evidence=evidence)
