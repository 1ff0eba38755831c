"""The wheel ships what golive needs at run time: templates, schemas, the checklist."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_contents(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            ".golive-stack",
            "reports",
            "build",
            "*.egg-info",
            "__pycache__",
            ".*cache",
        ),
        symlinks=True,
    )
    (src / "reports").mkdir(exist_ok=True)
    for f in (ROOT / "reports").iterdir():
        if f.is_file() and not f.name.startswith("golive."):
            shutil.copy2(f, src / "reports" / f.name)
    out = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("golive-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "golive/checklist.yaml",
        "golive/py.typed",
        "golive/templates/report.html.j2",
        "golive/templates/monitor.html.j2",
        "golive/reports/run.schema.json",
        "golive/reports/junit.xsd",
        "golive/checks/security.py",
        "golive/reports/html.py",
    ):
        assert required in names, required
    assert not any(n.startswith(("demo/", "tests/", "checks/", "reports/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "golive = golive.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
