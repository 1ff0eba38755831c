"""`golive --help` and `golive list` stay light: no heavy library is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("psycopg", "docker", "httpx", "jinja2", "prometheus_api_client", "scipy", "detect_secrets")


def imported_modules(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "golive", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


@pytest.mark.parametrize("args", [("--help",), ("list",), ("list", "--json")])
def test_no_heavy_imports(args: tuple[str, ...]) -> None:
    names = imported_modules(*args)
    assert names, "importtime produced no output"
    heavy = sorted(n for n in names if n.split(".")[0] in HEAVY)
    assert heavy == [], f"golive {' '.join(args)} imported {heavy}"


def test_help_does_not_import_pydantic() -> None:
    names = imported_modules("--help")
    assert not any(n.split(".")[0] == "pydantic" for n in names)
