"""Hostile golive.yaml documents: golive answers 0 or 2 with a message, never a traceback.

The known hostile documents (alias bombs, python tags, binary junk, absurd nesting, empty
files, ...) are each checked every time; Hypothesis generates 500 more (wrong types,
unicode, huge numbers, deep nesting, truncated YAML, junk) and may draw the known ones
too. Each goes through the loading code of `golive validate` in-process, with the CLI's
own error handling, and a sample also goes through the real `golive` executable. Time
per document is recorded and printed, not asserted (a busy machine changes it); the peak
memory, which does not depend on the machine's load, is.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golive.cli import fatal_errors, load
from golive.plan import resolve

WORKDIR = Path(tempfile.mkdtemp(prefix="golive-hostile-"))
atexit.register(shutil.rmtree, WORKDIR, ignore_errors=True)  # every process that imports it
GENERATED = 500  # documents Hypothesis generates (each parsed by golive's YAML loader)
STATS = {"documents": 0, "exit0": 0, "exit2": 0, "max_seconds": 0.0, "max_peak_bytes": 0}

KEYS = [
    "version",
    "project",
    "environment",
    "targets",
    "defaults",
    "sections",
    "gates",
    "plugin_paths",
    "outputs",
    "require_signoff",
    "approvals",
    "api",
    "database",
    "url",
    "dsn",
    "timeout",
    "deadline",
    "concurrency",
    "fail_on",
    "checks",
    "id",
    "uses",
    "params",
    "severity",
    "enabled",
    "tags",
    "waiver",
    "expires",
    "title",
    "security",
    "database.x",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        ["${HOME}", "${NOPE}", "${X:?boom}", "$$", "${", "high", "1h", "-5s", "∞", "\u202e"]
    ),
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), children, max_size=6
        ),
    ),
    max_leaves=40,
)
documents = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)


ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9)
)
#: known hostile documents: each one is always checked (test_known_hostile_documents), and
#: Hypothesis also draws them among its generated ones
FIXED = [
    b"",
    b"\x00\x01\x02\xff\xfe",
    b"version: 1\nproject: !!python/object/apply:os.system ['echo pwned']\n",
    b"!!python/name:os.system\n",
    ALIAS_BOMB.encode(),
    b"a: &a [*a]\n",
    b"[" * 5000 + b"]" * 5000,
    b"{" * 200 + b"}" * 200,
    b"version: 1\nsections:\n  security:\n    checks: [{id: security.nope}]\n",
    b"version: 1\ndefaults: {timeout: 1e400, concurrency: 99999999999999999999}\n",
    b"version: 1\n" + b"x" * 200_000 + b": 1\n",
    b"\xef\xbb\xbfversion: 1\n",
    b"---\nversion: 1\n---\nversion: 2\n",
    b"version: 1\n\tbad: tab\n",
]


def nasty_texts() -> st.SearchStrategy[bytes]:
    fixed = FIXED
    generated = documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True).encode("utf-8"))
    junk = st.binary(max_size=300)
    return st.one_of(
        st.sampled_from(fixed), generated, junk, generated.map(lambda b: b[: len(b) // 2])
    )


def validate_like_the_cli(path: str) -> tuple[int, str]:
    """`golive validate -c PATH` without Typer's argument parsing: the same loading code
    and the same error-to-exit-code mapping (golive.cli.fatal_errors)."""
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err):
        try:
            with fatal_errors():
                cfg, registry = load([path], None)
                resolve(cfg, registry)
        except typer.Exit as exc:
            code = exc.exit_code
    return code, err.getvalue()


def check_document(data: bytes) -> None:
    fd, name = tempfile.mkstemp(suffix=".yaml", dir=WORKDIR)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        code, stderr = validate_like_the_cli(name)
    finally:
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        os.unlink(name)
    STATS["documents"] += 1
    STATS["max_seconds"] = max(STATS["max_seconds"], elapsed)
    STATS["max_peak_bytes"] = max(STATS["max_peak_bytes"], peak)
    assert code in (0, 2), (code, stderr)
    STATS[f"exit{code}"] += 1
    assert "Traceback" not in stderr
    if code == 2:
        assert stderr.strip(), "exit 2 without a message"
        assert "configuration problem" in stderr or stderr.startswith("golive: ")
    assert peak < 200 * 1024 * 1024, f"peak memory {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("data", FIXED, ids=range(len(FIXED)))
def test_known_hostile_documents(data: bytes) -> None:
    check_document(data)


@settings(
    max_examples=GENERATED,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(nasty_texts())
def test_hostile_documents_never_crash(data: bytes) -> None:
    check_document(data)


def test_record_figures() -> None:
    """Runs after the property test in this module; prints what was tried."""
    if STATS["documents"] == 0:
        pytest.skip("property test did not run")
    print(
        f"\nhostile configs: {STATS['documents']} documents, exit 0: {STATS['exit0']}, "
        f"exit 2: {STATS['exit2']}, slowest {STATS['max_seconds'] * 1000:.0f} ms, "
        f"peak {STATS['max_peak_bytes'] / 1e6:.1f} MB"
    )
    assert STATS["documents"] >= GENERATED + len(FIXED)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\xff junk",
        b"a: &a [*a]\n",
        b"version: 1\nproject: !!python/object/apply:os.system ['echo pwned']\n",
        b"[" * 5000 + b"]" * 5000,
        b"",
    ],
)
def test_real_executable_on_hostile_files(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "golive.yaml"
    path.write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-m", "golive", "run", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(str(path))
    assert "pwned" not in proc.stdout
