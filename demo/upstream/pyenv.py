"""The Python environment that runs Ordinaut: built once, shared, keyed by what it holds.

The virtualenv lives outside any clone, in ``$GOLIVE_UPSTREAM_CACHE`` (default
``~/.cache/golive``), as ``upstream-<key>`` where ``key`` is the SHA-256 of Ordinaut's
``requirements.txt``, the extra pins below and the interpreter's version: a fresh clone,
another worktree or a CI run on the same machine reuses it, and a change to any of those
builds a new one. A build goes into a temporary directory beside the final one and is
renamed into place when complete, so that an interrupted build leaves nothing that looks
usable and two concurrent builders cannot mix their files (the first rename wins; the
other discards its copy). After the rename the console scripts' ``#!`` lines point at
the temporary path, so the launcher only ever runs ``<env>/bin/python -m ...``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# bcrypt 5 rejects passwords over 72 bytes, which passlib 1.7.4 (pinned) probes at import
EXTRA_PINS = ("bcrypt<5",)
CACHE_ENV = "GOLIVE_UPSTREAM_CACHE"
COMPLETE = ".golive-complete"


class EnvBuildFailed(RuntimeError):
    """pip could not build the environment; carries pip's output."""

    def __init__(self, message: str, output: str) -> None:
        self.output = output
        super().__init__(message)


def cache_root() -> Path:
    """Where environments are kept: ``$GOLIVE_UPSTREAM_CACHE`` or ``~/.cache/golive``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "golive"


def key(requirements: Path, python: str = sys.executable) -> str:
    """SHA-256 of the requirements, the extra pins and the interpreter's version."""
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    for part in (*EXTRA_PINS, version):
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()


def env_dir(requirements: Path, python: str = sys.executable) -> Path:
    """The directory of the environment for ``requirements`` (built or not)."""
    return cache_root() / f"upstream-{key(requirements, python)[:16]}"


def is_complete(path: Path) -> bool:
    """True when ``path`` holds a finished environment."""
    return (path / COMPLETE).is_file() and (path / "bin" / "python").exists()


def ensure(requirements: Path, python: str = sys.executable, log: Path | None = None) -> Path:
    """The environment for ``requirements``, built now if no complete one exists.

    ``python`` is the interpreter to build it with (default: the one running golive,
    whose venv module bases the new environment on the same base interpreter).
    """
    final = env_dir(requirements, python)
    if is_complete(final):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=final.name + ".build-", dir=final.parent))
    try:
        _build(tmp, requirements, python, log)
        if final.exists() and not is_complete(final):
            shutil.rmtree(final, ignore_errors=True)  # a leftover without its marker
        try:
            os.rename(tmp, final)
        except OSError:
            if not is_complete(final):  # not another builder's finished env: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _build(target: Path, requirements: Path, python: str, log: Path | None) -> None:
    steps = [
        [python, "-m", "venv", "--clear", str(target)],
        [
            str(target / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "-r",
            str(requirements),
            *EXTRA_PINS,
        ],
    ]
    for argv in steps:
        proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        output = proc.stdout + proc.stderr
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as fh:
                fh.write(f"$ {' '.join(argv)}\n{output}\n")
        if proc.returncode != 0:
            raise EnvBuildFailed(f"{' '.join(argv[:4])} exited {proc.returncode}", output)
    (target / COMPLETE).write_text(" ".join(EXTRA_PINS) + "\n")
