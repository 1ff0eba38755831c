"""golive/cli.py: commands, exit codes, error text, and signals in a real subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from golive.cli import app

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


def config(tmp_path: Path, checks: list[dict[str, Any]], **extra: Any) -> str:
    data = {
        "version": 1,
        "plugin_paths": [str(FIXTURES / "runner_checks.py")],
        "sections": {"lab": {"checks": checks}},
        **extra,
    }
    path = tmp_path / "golive.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def golive(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **kw.pop("env", {})}
    return subprocess.run(
        [sys.executable, "-m", "golive", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        **kw,
    )


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip().startswith("golive ")


@pytest.mark.parametrize(
    ("checks", "code", "verdict"),
    [
        ([{"id": "lab.sleepy", "params": {"seconds": 0}}], 0, "GO"),
        ([{"id": "lab.failing"}], 1, "NO-GO"),
        ([{"id": "lab.failing", "severity": "low"}], 0, "CONDITIONAL"),
        ([{"id": "lab.boom"}], 3, "INCOMPLETE"),
    ],
)
def test_run_exit_codes(
    tmp_path: Path, checks: list[dict[str, Any]], code: int, verdict: str
) -> None:
    result = runner.invoke(app, ["run", "-c", config(tmp_path, checks), "--no-color"])
    assert result.exit_code == code, result.output
    assert verdict in result.stdout


def test_strict_makes_conditional_fail(tmp_path: Path) -> None:
    path = config(tmp_path, [{"id": "lab.failing", "severity": "low"}])
    assert runner.invoke(app, ["run", "-c", path, "--strict"]).exit_code == 1


def test_fail_on_flag(tmp_path: Path) -> None:
    path = config(tmp_path, [{"id": "lab.failing", "severity": "low"}])
    assert runner.invoke(app, ["run", "-c", path, "--fail-on", "low"]).exit_code == 1
    bad = runner.invoke(app, ["run", "-c", path, "--fail-on", "severe"])
    assert bad.exit_code == 2
    assert "golive: --fail-on 'severe': use one of critical, high, medium, low, info" in bad.stderr


def test_config_error_exit_2_and_exact_text(tmp_path: Path) -> None:
    path = tmp_path / "golive.yaml"
    path.write_text("version: 1\ndefaults:\n  concurency: 2\n")
    proc = golive("run", "-c", str(path))
    assert proc.returncode == 2
    assert proc.stderr == (
        f"{path}:3:3: defaults.concurency: unknown key 'concurency' (did you mean 'concurrency'?)\n"
        "golive: 1 configuration problem; nothing was run\n"
    )
    assert "Traceback" not in proc.stderr + proc.stdout


def test_missing_config_file(tmp_path: Path) -> None:
    proc = golive("run", cwd=str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("golive.yaml: file not found")


def test_unknown_selection_is_usage_error(tmp_path: Path) -> None:
    path = config(tmp_path, [{"id": "lab.failing"}])
    r = runner.invoke(app, ["run", "-c", path, "--check", "lab.failng"])
    assert r.exit_code == 2
    assert "golive: no check matches 'lab.failng' (did you mean 'lab.failing'?)" in r.stderr
    r = runner.invoke(app, ["run", "-c", path, "--section", "securty"])
    assert r.exit_code == 2
    assert "unknown section 'securty' (did you mean 'security'?)" in r.stderr
    r = runner.invoke(app, ["run", "-c", path, "--output", "nonsense"])
    assert r.exit_code == 2
    assert "must look like FORMAT:PATH" in r.stderr


def test_selection_by_check_tag_and_exclude(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        [{"id": "lab.failing", "tags": ["slow"]}, {"id": "lab.sleepy", "params": {"seconds": 0}}],
    )
    out = tmp_path / "r.json"
    assert (
        runner.invoke(app, ["run", "-c", path, "--tag", "slow", "-o", f"json:{out}"]).exit_code == 1
    )
    assert [r["id"] for r in json.loads(out.read_text())["results"]] == ["lab.failing"]
    assert (
        runner.invoke(
            app, ["run", "-c", path, "--exclude", "lab.fail*", "-o", f"json:{out}"]
        ).exit_code
        == 0
    )
    assert [r["id"] for r in json.loads(out.read_text())["results"]] == ["lab.sleepy"]
    assert (
        runner.invoke(app, ["run", "-c", path, "--check", "lab.s*", "-o", f"json:{out}"]).exit_code
        == 0
    )


def test_format_json_on_stdout_and_several_outputs(tmp_path: Path) -> None:
    path = config(tmp_path, [{"id": "lab.failing"}])
    out = tmp_path / "nested" / "dir" / "run.json"
    txt = tmp_path / "run.txt"
    proc = golive(
        "run", "-c", path, "--format", "json", "-o", f"json:{out}", "-o", f"console:{txt}"
    )
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["decision"]["verdict"] == "NO-GO"
    assert json.loads(out.read_text())["run_id"] == data["run_id"]
    assert "lab.failing" in txt.read_text()


def test_pipes_get_no_colour_codes(tmp_path: Path) -> None:
    path = config(tmp_path, [{"id": "lab.failing"}])
    proc = golive("run", "-c", path)
    assert "\x1b[" not in proc.stdout + proc.stderr
    forced = golive("run", "-c", path, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    colour = re.compile(r"\x1b\[(?:\d+;)*(?:3[0-8]|9[0-7])[;m]")
    assert "\x1b[" in forced.stdout  # styles (bold) are still allowed on a forced terminal
    assert not colour.search(forced.stdout)  # NO_COLOR wins: no colour escape codes


def test_list_json_and_explain() -> None:
    r = runner.invoke(app, ["list", "--json"])
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    kinds = {g["kind"] for g in data["generic"]}
    assert {"file", "port"} <= kinds
    for row in data["checks"]:
        assert set(row) == {"id", "section", "severity", "needs", "writes", "title"}
    e = runner.invoke(app, ["explain", "port"])
    assert e.exit_code == 0
    assert "port: int = required" in e.stdout
    assert "timeout: float = 3.0" in e.stdout
    assert "Remediation:" in e.stdout
    bad = runner.invoke(app, ["explain", "prot"])
    assert bad.exit_code == 2
    assert "unknown check 'prot' (did you mean 'port'?)" in bad.stderr


def test_validate_and_probe(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        [{"id": "lab.failing"}],
        targets={"api": {"url": "http://127.0.0.1:1", "timeout": 1}},
    )
    r = runner.invoke(app, ["validate", "-c", path])
    assert r.exit_code == 0
    assert r.stdout.strip() == f"{path}: OK (1 checks in 1 sections)"
    p = runner.invoke(app, ["validate", "-c", path, "--probe"])
    assert p.exit_code == 3
    assert "api           UNREACHABLE: connection refused by http://127.0.0.1:1" in p.stdout


def test_init_writes_valid_starter_and_refuses_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "golive.yaml"
    r = runner.invoke(app, ["init", str(target)])
    assert r.exit_code == 0
    assert target.read_text().startswith("# golive checklist")
    assert runner.invoke(app, ["validate", "-c", str(target)]).exit_code == 0
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 2
    assert "already exists; use --force" in again.stderr
    assert runner.invoke(app, ["init", str(target), "--force"]).exit_code == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_keeps_partial_results_and_exits_130(tmp_path: Path, sig: int) -> None:
    flag = tmp_path / "started"
    path = config(
        tmp_path,
        [{"id": "lab.failing"}, {"id": "lab.flag_then_sleep", "params": {"flag": str(flag)}}],
        defaults={"concurrency": 1},
    )
    out = tmp_path / "partial.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "golive", "run", "-c", path, "-o", f"json:{out}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flag.exists()
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)  # guards against a hang only
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    data = json.loads(out.read_text())
    assert data["interrupted"] is True
    statuses = {r["id"]: (r["status"], r["summary"]) for r in data["results"]}
    assert statuses["lab.failing"][0] == "FAIL"
    assert statuses["lab.flag_then_sleep"] == ("SKIP", "interrupted while running")
    assert "the run was interrupted" in stdout


def test_config_errors_mask_credentials_they_quote(tmp_path: Path) -> None:
    path = tmp_path / "golive.yaml"
    path.write_text(
        "version: 1\ntargets:\n  api: {url: 'htp://golive:s3cr3t-canary-pw@127.0.0.1:1'}\n"
    )
    r = runner.invoke(app, ["validate", "-c", str(path)])
    assert r.exit_code == 2
    assert "canary-pw" not in r.stderr
    assert "targets.api.url: 'htp://golive:***@127.0.0.1:1' is not an http(s) URL" in r.stderr


def test_run_previous_shows_the_change_in_html_and_markdown(tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    passing = config(
        tmp_path,
        [{"id": "lab.failing", "enabled": False}, {"id": "lab.sleepy", "params": {"seconds": 0}}],
    )
    assert runner.invoke(app, ["run", "-c", passing, "-o", f"json:{first}"]).exit_code == 0
    failing = config(
        tmp_path, [{"id": "lab.failing"}, {"id": "lab.sleepy", "params": {"seconds": 0}}]
    )
    md, html, js = tmp_path / "r.md", tmp_path / "r.html", tmp_path / "r.json"
    result = runner.invoke(
        app,
        [
            "run",
            "-c",
            failing,
            "--previous",
            str(first),
            "-o",
            f"markdown:{md}",
            "-o",
            f"html:{html}",
            "-o",
            f"json:{js}",
        ],
    )
    assert result.exit_code == 1, result.output
    run_id = json.loads(first.read_text())["run_id"]
    text = md.read_text()
    assert f"### Since run `{run_id}`" in text
    assert "1 new failures, 0 fixed" in text
    assert run_id in html.read_text()
    bad = runner.invoke(app, ["run", "-c", failing, "--previous", str(tmp_path / "missing.json")])
    assert bad.exit_code == 2
    assert "cannot read" in bad.stderr


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out = [(path, group)]
    if hasattr(group, "commands"):  # a group (Typer may ship its own copy of Click)
        for name, cmd in group.commands.items():
            out += _commands(cmd, (*path, name))
    return out


def test_every_command_that_reads_golive_yaml_takes_c_and_env_file_alike() -> None:
    """One definition (golive/cli_options.py) of -c/--env-file, on every command with -c."""
    import typer.main

    root = typer.main.get_command(app)
    seen = []
    for path, cmd in _commands(root):
        opts = {o: p for p in cmd.params for o in getattr(p, "opts", [])}
        if "--config" not in opts:
            continue
        seen.append(" ".join(path))
        assert "-c" in opts and "--env-file" in opts, f"golive {' '.join(path)}"
        assert (opts["--config"].help, opts["--env-file"].help) == (
            "golive.yaml; repeat to merge overlays in order (default: ./golive.yaml).",
            "KEY=VALUE file for ${VAR} references (repeatable).",
        )
        assert opts["--config"].multiple and opts["--env-file"].multiple
    for name in (
        "run",
        "validate",
        "list",
        "explain",
        "report",
        "approve",
        "approvals verify",
        "approvals list",
        "baseline save",
        "monitor",
        "monitor status",
    ):
        assert name in seen, name


@pytest.mark.parametrize("columns", ["80", "200"])
def test_list_wraps_and_never_cuts_in_a_piped_log(columns: str) -> None:
    done = golive("list", env={"COLUMNS": columns})
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout and "..." not in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= int(columns)
    assert done.stdout.splitlines()[0].strip().endswith(" checks")
