"""golive/registry.py: built-ins, entry-point plugins, plugin paths, duplicates, naming rules."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from golive.errors import RegistryError
from golive.registry import BUILTIN_MODULES, SECTION_ORDER, build_registry

FIXTURES = Path(__file__).parent / "fixtures"


def test_check_id_is_module_path_and_function_name() -> None:
    """`golive run --check database.connections` finds checks/database.py::connections."""
    registry = build_registry(entry_points=False)
    for spec in registry.checks.values():
        module, func = spec.source.split(":")
        assert module == f"golive.checks.{spec.section}", spec.id
        assert func == spec.name, spec.id
        assert spec.section in SECTION_ORDER
        assert spec.description, f"{spec.id} has no docstring"
        assert spec.remediation, f"{spec.id} has no remediation"
        assert spec.title[0].isupper(), spec.id


def test_builtin_modules_exist_for_every_section() -> None:
    names = {m.rsplit(".", 1)[1] for m in BUILTIN_MODULES}
    assert set(SECTION_ORDER) <= names
    for m in BUILTIN_MODULES:
        importlib.import_module(m)


def test_duplicate_id_names_both_sources() -> None:
    with pytest.raises(RegistryError) as exc:
        build_registry([str(FIXTURES / "duplicate_checks.py")], entry_points=False)
    msg = str(exc.value)
    assert "duplicate check id 'generic.port'" in msg
    assert "golive.checks.generic:port" in msg
    assert "duplicate_checks:port" in msg


def test_missing_and_broken_plugin_paths(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="does not exist"):
        build_registry([str(tmp_path / "nope.py")], entry_points=False)
    bad = tmp_path / "bad.py"
    bad.write_text("import not_a_module_anywhere\n")
    with pytest.raises(RegistryError, match=r"cannot load plugin .*bad\.py: ModuleNotFoundError"):
        build_registry([str(bad)], entry_points=False)


@pytest.mark.slow
def test_entry_point_plugin_installed_into_an_environment(tmp_path: Path) -> None:
    """A real package with a `golive.checks` entry point, installed with pip."""
    target = tmp_path / "site"
    source = tmp_path / "src"
    shutil.copytree(FIXTURES / "example_plugin", source)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    env = {**os.environ, "PYTHONPATH": str(target), "HELLO_OK": "1"}
    listed = subprocess.run(
        [sys.executable, "-m", "golive", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ids = [c["id"] for c in json.loads(listed.stdout)["checks"]]
    assert "example.hello" in ids
    cfg = tmp_path / "golive.yaml"
    cfg.write_text("version: 1\n")
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "golive",
            "run",
            "-c",
            str(cfg),
            "--check",
            "example.hello",
            "--no-color",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert "HELLO_OK is 1" in ran.stdout
