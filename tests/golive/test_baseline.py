"""golive/baseline.py: building, loading (every way a file can be unusable) and comparing.

Baselines are built from real runs of `performance.api_latency` against a loopback HTTP
server (the standard library's ThreadingHTTPServer, whose response delay a test can raise
to create a real regression). No test asserts how two real timings compare (a busy machine
changes that): verdicts are asserted against controlled figures - synthetic baselines, and
seeded synthetic latency samples for the statistics of `compare` on their own.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from golive.baseline import FORMAT, KIND, Metric, build, compare, load_baseline, save
from golive.config import BaselineConfig, Config
from golive.engine import Options
from golive.errors import BaselineError
from golive.models import Outcome, Run, Status
from golive.plan import resolve
from golive.registry import build_registry
from golive.testing import load_dict, run_config


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    delay = 0.0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.server.delay:
            time.sleep(self.server.delay)
        body = b'{"status": "healthy"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _config(server: _Server, tmp_path: Path, project: str = "ordinaut", **params: Any) -> Config:
    return load_dict(
        {
            "project": project,
            "targets": {"api": {"url": f"http://127.0.0.1:{server.server_address[1]}"}},
            "sections": {
                "performance": {
                    "checks": [
                        {
                            "id": "performance.api_latency",
                            "params": {"requests": 40, "concurrency": 4, **params},
                        }
                    ]
                }
            },
        },
        directory=str(tmp_path),
    )


def _baseline(server: _Server, tmp_path: Path) -> tuple[Config, Run, dict[str, Any], str]:
    cfg = _config(server, tmp_path)
    run = run_config(cfg)
    doc = build(run, resolve(cfg, build_registry()))
    path = str(tmp_path / "baseline.json")
    save(doc, path)
    return cfg, run, doc, path


def test_build_save_and_load_round_trip(server: _Server, tmp_path: Path) -> None:
    cfg, run, doc, path = _baseline(server, tmp_path)
    assert run.results[0].status is Status.PASS
    assert doc["kind"] == KIND and doc["format"] == FORMAT
    assert doc["project"] == "ordinaut" and doc["config_digest"] == cfg.digest
    assert doc["targets"]["api"] == cfg.targets.api.url  # type: ignore[union-attr]
    entry = doc["checks"]["performance.api_latency"]
    assert entry["params"]["requests"] == 40 and entry["params"]["endpoints"] == ["/health"]
    assert set(entry["measurements"]) >= {"p50_ms", "p95_ms", "p99_ms", "error_rate", "rps"}
    assert len(entry["samples"]["/health"]) == 40
    loaded = load_baseline(path, cfg)
    assert loaded["checks"] == doc["checks"] and loaded["path"] == path


def _edit(path: str, change: Any) -> None:
    doc = json.loads(Path(path).read_text())
    change(doc)
    Path(path).write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: Path(p).unlink(), "does not exist (save one with `golive baseline save -o"),
        (lambda p: Path(p).write_text(Path(p).read_text()[:200]), "is corrupt: not valid JSON"),
        (lambda p: Path(p).write_text("[1, 2]"), "is not a golive baseline (kind 'list')"),
        (lambda p: _edit(p, lambda d: d.update(kind="other")), "is not a golive baseline"),
        (lambda p: _edit(p, lambda d: d.update(format=2)), "has format 2; this golive reads"),
        (lambda p: _edit(p, lambda d: d.pop("checks")), "'checks' is missing"),
        (
            lambda p: _edit(
                p,
                lambda d: d["checks"]["performance.api_latency"]["measurements"].update(
                    p95_ms=0.001
                ),
            ),
            "do not match its digest (edited or truncated)",
        ),
        (
            lambda p: _edit(
                p, lambda d: d["checks"]["performance.api_latency"].update(samples={"x": ["a"]})
            ),
            "samples must map names to lists of finite numbers",
        ),
        (
            lambda p: _edit(
                p,
                lambda d: d["checks"]["performance.api_latency"]["measurements"].update(
                    p50_ms=math.nan
                ),
            ),
            "measurements must map names to finite numbers",
        ),
        (
            lambda p: _edit(
                p, lambda d: d["checks"]["performance.api_latency"]["params"].update(x=math.inf)
            ),
            "holds a number that is not finite",
        ),
        (lambda p: Path(p).write_bytes(b"\xff\xfe{"), "cannot read baseline file"),
    ],
)
def test_unusable_files_raise_baseline_error(
    server: _Server, tmp_path: Path, damage: Any, message: str
) -> None:
    cfg, _, _, path = _baseline(server, tmp_path)
    damage(path)
    with pytest.raises(BaselineError) as exc:
        load_baseline(path, cfg)
    assert message in str(exc.value)
    assert exc.value.exit_code == 2


def test_mismatched_configuration_is_refused(server: _Server, tmp_path: Path) -> None:
    _, _, _, path = _baseline(server, tmp_path)
    other_project = _config(server, tmp_path, project="other")
    with pytest.raises(BaselineError, match="saved for project 'ordinaut'"):
        load_baseline(path, other_project)
    more_load = _config(server, tmp_path, concurrency=8)
    with pytest.raises(BaselineError) as exc:
        load_baseline(path, more_load)
    assert "performance.api_latency was measured with concurrency=4" in str(exc.value)
    assert "this configuration uses concurrency=8" in str(exc.value)
    # a different SLA threshold does not change what is measured: still comparable
    assert load_baseline(path, _config(server, tmp_path, p95_ms=50))["checks"]


def test_another_api_target_is_refused(server: _Server, tmp_path: Path) -> None:
    _, _, _, path = _baseline(server, tmp_path)
    cfg = load_dict({"targets": {"api": {"url": "http://127.0.0.1:9"}}}, directory=str(tmp_path))
    with pytest.raises(
        BaselineError, match=re.escape("this configuration targets http://127.0.0.1:9")
    ):
        load_baseline(path, cfg)


def test_run_with_baseline_compares_with_a_real_run(server: _Server, tmp_path: Path) -> None:
    """Two real runs, one the baseline of the other: what the comparison reports, not its
    verdict (how two real timings compare depends on how busy the machine is)."""
    cfg = _config(server, tmp_path, p95_ms=5000, p99_ms=5000)
    run = run_config(cfg)
    path = str(tmp_path / "baseline.json")
    save(build(run, resolve(cfg, build_registry())), path)
    doc = load_baseline(path, cfg)
    again = run_config(cfg, options=Options(baseline=doc, baseline_path=path)).results[0]
    assert again.status in (Status.PASS, Status.WARN, Status.FAIL), again.summary
    assert "baseline of" in again.summary
    assert again.evidence["baseline"]["file"] == path
    rows = {r["measurement"]: r for r in again.evidence["baseline_comparison"]}
    assert set(rows) >= {"p50_ms", "p95_ms", "p99_ms", "error_rate", "rps"}
    assert all(r["verdict"] in ("ok", "WARN", "FAIL") for r in rows.values())
    assert rows["p50_ms"]["baseline"].endswith(" ms") and rows["rps"]["now"].endswith(" req/s")
    (mw,) = again.evidence["mann_whitney"]
    assert mw["samples"] == "/health" and 0 <= mw["p_value"] <= 1


def _controlled(run: Run, samples: list[float], **measurements: float) -> Run:
    """The run, its latency result's samples and figures replaced by controlled values."""
    (r,) = run.results
    figures = {**r.measurements, **measurements}
    return replace(run, results=[replace(r, samples={"/health": samples}, measurements=figures)])


def test_run_with_baseline_catches_a_real_regression(server: _Server, tmp_path: Path) -> None:
    """A baseline of controlled fast figures (1-5 ms, 2000 req/s); the server then really
    answers after 150 ms. A sleep only ever makes an answer slower, and 4 clients waiting
    150 ms each cannot exceed 27 req/s, so this is a regression however busy the machine."""
    cfg = _config(server, tmp_path, p95_ms=5000, p99_ms=5000)
    rnd = random.Random(7)
    fast = [rnd.uniform(1.0, 5.0) for _ in range(40)]
    figures = {m: 5.0 for m in ("p50_ms", "p95_ms", "p99_ms", "max_ms")}
    baseline_run = _controlled(run_config(cfg), fast, **figures, rps=2000.0)
    path = str(tmp_path / "baseline.json")
    save(build(baseline_run, resolve(cfg, build_registry())), path)
    doc = load_baseline(path, cfg)

    server.delay = 0.15
    slow = run_config(cfg, options=Options(baseline=doc, baseline_path=path)).results[0]
    assert slow.status is Status.FAIL, slow.summary
    assert "worse than the baseline of" in slow.summary and "p50_ms" in slow.summary
    assert min(slow.samples["/health"]) >= 150
    rows = {r["measurement"]: r for r in slow.evidence["baseline_comparison"]}
    assert rows["p50_ms"]["verdict"] == "FAIL"
    assert rows["p50_ms"]["note"].startswith("significant (Mann-Whitney p=")
    assert rows["rps"]["verdict"] == "FAIL"
    (mw,) = slow.evidence["mann_whitney"]
    assert mw["samples"] == "/health" and mw["slower"] is True and mw["p_value"] < 0.01


def test_check_without_entry_is_left_unchanged(server: _Server, tmp_path: Path) -> None:
    cfg = _config(server, tmp_path)
    opts = Options(baseline={"checks": {}}, baseline_path="b.json")
    r = run_config(cfg, options=opts).results[0]
    assert r.status is Status.PASS
    assert r.evidence["baseline"] == "b.json has no entry for this check"


# ---------------------------------------------------------------------------------------------
# compare(): the statistics on their own


def _samples(seed: int, n: int = 200, scale: float = 1.0, base: float = 10.0) -> list[float]:
    rnd = random.Random(seed)
    return [base * scale + rnd.expovariate(1 / 3) * scale for _ in range(n)]


def _outcome(samples: list[float], **measurements: float) -> Outcome:
    return Outcome.passed("x", measurements=measurements, samples={"/health": samples})


def _entry(samples: list[float], **measurements: float) -> dict[str, Any]:
    return {"measurements": measurements, "samples": {"/health": samples}}


LATENCY = {
    "p50_ms": Metric("lower", floor=2.0, unit="ms", samples="/health"),
    "p99_ms": Metric("lower", floor=2.0, unit="ms", samples="/health"),
    "rps": Metric("higher", unit="req/s", samples="/health"),
}


def test_same_distribution_passes() -> None:
    status, rows, mw, regressions = compare(
        "performance.api_latency",
        _entry(_samples(1), p50_ms=12.0, p99_ms=30.0, rps=400.0),
        _outcome(_samples(2), p50_ms=12.2, p99_ms=31.0, rps=395.0),
        LATENCY,
        BaselineConfig(),
    )
    assert status is Status.PASS and regressions == []
    assert all(r["verdict"] == "ok" for r in rows)
    assert mw[0]["slower"] is False and mw[0]["p_value"] > 0.01


def test_shifted_distribution_fails() -> None:
    status, rows, mw, regressions = compare(
        "performance.api_latency",
        _entry(_samples(1), p50_ms=12.0, p99_ms=30.0, rps=400.0),
        _outcome(_samples(2, scale=2.0), p50_ms=24.0, p99_ms=60.0, rps=180.0),
        LATENCY,
        BaselineConfig(),
    )
    assert status is Status.FAIL
    by = {r["measurement"]: r for r in rows}
    assert by["p50_ms"]["verdict"] == "FAIL" and by["p50_ms"]["change"] == "+100.0%"
    assert by["rps"]["verdict"] == "FAIL" and by["rps"]["change"] == "-55.0%"
    assert mw[0]["slower"] is True
    assert regressions[0] == "p50_ms 12 ms -> 24 ms (+100%)"


def test_noise_alone_never_fails() -> None:
    """A worse p99 from a few outliers, with the bulk unchanged, is a WARN, not a FAIL."""
    now = _samples(2)
    now[:3] = [90.0, 95.0, 99.0]
    status, rows, mw, _ = compare(
        "performance.api_latency",
        _entry(_samples(1), p99_ms=30.0),
        _outcome(now, p99_ms=80.0),
        LATENCY,
        BaselineConfig(),
    )
    assert status is Status.WARN
    (row,) = rows
    assert row["verdict"] == "WARN" and row["note"].startswith("not significant (Mann-Whitney")
    assert mw[0]["slower"] is False


def test_floor_and_tolerances() -> None:
    cfg = BaselineConfig(metrics={"performance.task_throughput:per_*": {"warn_pct": 30}})
    metrics = {
        "per_minute": Metric("higher", unit="tasks/min"),
        "lag_p95_s": Metric("lower", floor=1.0, unit="s"),
    }
    status, rows, mw, _ = compare(
        "performance.task_throughput",
        {"measurements": {"per_minute": 1000.0, "lag_p95_s": 0.2}},
        Outcome.passed("x", measurements={"per_minute": 750.0, "lag_p95_s": 0.9}),
        metrics,
        cfg,
    )
    assert status is Status.PASS and mw == []  # -25 % within the 30 % override; lag < 1 s
    by = {r["measurement"]: r for r in rows}
    assert by["lag_p95_s"]["note"] == "within the noise floor of 1 s"
    status, rows, _, _ = compare(
        "performance.task_throughput",
        {"measurements": {"per_minute": 1000.0}},
        Outcome.passed("x", measurements={"per_minute": 400.0}),
        metrics,
        cfg,
    )
    assert status is Status.FAIL and rows[0]["change"] == "-60.0%"


def test_tolerances_are_validated() -> None:
    with pytest.raises(ValueError, match="fail_pct must not be below warn_pct"):
        BaselineConfig(warn_pct=60, fail_pct=50)
