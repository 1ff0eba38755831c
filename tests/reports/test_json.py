"""reports/json.py: versioned JSON, its shipped schema, and reading runs back."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
from golive.reports.json import from_dict, json_schema, load, render

from golive.config import Config
from golive.engine import Options
from golive.errors import RunFileError
from golive.models import SCHEMA_VERSION
from golive.testing import load_dict, run_config

FIXTURES = Path(__file__).parents[1] / "golive" / "fixtures"


def _lab_config() -> Config:
    return load_dict(
        {
            "plugin_paths": [str(FIXTURES / "runner_checks.py")],
            "targets": {
                "database": {
                    "dsn": "postgresql://x:pw-canary-1@127.0.0.1:1/db",
                    "connect_timeout": 1,
                }
            },
            "sections": {
                "lab": {
                    "checks": [
                        {"id": "lab.sleepy", "params": {"seconds": 0}},
                        {
                            "id": "lab.failing",
                            "waiver": {"reason": "r", "approved_by": "a", "expires": "2999-01-01"},
                        },
                        {"id": "lab.db"},
                        {"id": "lab.boom"},
                    ]
                }
            },
        }
    )


@pytest.fixture(scope="module")
def real_run() -> object:
    return run_config(_lab_config())


def test_real_wait_output_validates_against_schema() -> None:
    """`golive run --wait`: the rounds are in the JSON, described by the shipped schema."""
    run = run_config(_lab_config(), options=Options(wait=0.3, interval=0.05))
    data = json.loads(render(run))
    jsonschema.validate(
        data, json.loads(files("golive.reports").joinpath("run.schema.json").read_text())
    )
    assert data["wait"]["ended"] == "ran-out"
    assert data["wait"]["rounds"] == len(data["wait"]["history"]) >= 1
    assert data["wait"]["history"][0]["checks"] == [
        "lab.sleepy",
        "lab.failing",
        "lab.db",
        "lab.boom",
    ]
    assert all(r["checks"] == ["lab.db", "lab.boom"] for r in data["wait"]["history"][1:])
    assert json.loads(render(from_dict(data))) == data


def test_shipped_schema_is_current() -> None:
    shipped = json.loads(files("golive.reports").joinpath("run.schema.json").read_text())
    assert shipped == json_schema(), "regenerate reports/run.schema.json"


def test_real_output_validates_against_schema(real_run: object) -> None:
    data = json.loads(render(real_run))  # type: ignore[arg-type]
    assert data["schema_version"] == SCHEMA_VERSION
    jsonschema.validate(
        data, json.loads(files("golive.reports").joinpath("run.schema.json").read_text())
    )
    assert [r["status"] for r in data["results"]] == ["PASS", "WAIVED", "SKIP", "ERROR"]
    assert "pw-canary-1" not in json.dumps(data)


def test_round_trip(real_run: object, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(render(real_run))  # type: ignore[arg-type]
    again = load(str(path))
    assert again == from_dict(json.loads(path.read_text()))
    assert again.results[1].waiver is not None
    assert again.decision.verdict.value == "INCOMPLETE"


def test_bad_files(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(RunFileError, match="not valid JSON"):
        load(str(p))
    p.write_text(json.dumps({"schema_version": "9.0"}))
    with pytest.raises(RunFileError, match=r"schema_version 9\.0 is not supported"):
        load(str(p))
    p.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "run_id": 5}))
    with pytest.raises(RunFileError, match="not a valid golive run"):
        load(str(p))
    with pytest.raises(RunFileError, match="cannot read"):
        load(str(tmp_path / "missing.json"))
