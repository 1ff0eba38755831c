"""demo/stack/prereq.py: every program the launchers, tests and benchmarks run is listed,
comes from a Debian package that scripts/bootstrap installs, and `doctor` says what is missing.

The package test asks dpkg and apt on this machine (no mock): each listed program is
resolved the way its caller resolves it, `dpkg -S` names the package that owns the file
(and the file a symlink points to), and that package must be in bootstrap's PACKAGES, in
their recursive hard dependencies (Depends/Pre-Depends), or Essential (Debian installs
Essential packages everywhere and packages need not declare them).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from demo.stack import lifecycle, prereq
from tests.conftest import _missing

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("demo", "golive", "checks", "reports", "tests", "benchmarks", "scripts")
# Calls whose first argument is an argv list starting with the program.
RUNNERS = {
    "run",
    "Popen",
    "spawn",
    "call",
    "check_call",
    "check_output",
    "create_subprocess_exec",
    "_as_postgres",
}
NAME_RUNNERS = {
    "which",
    "_tool",
    "_need",
    "tool",
    "create_subprocess_exec",
}  # a bare name is the program
PREREQ_LOOKUPS = {"path", "tool"}  # prereq.path("x"), prereq.tool("x")
# Names an argv list may be bound to before it is run.
ARGV_NAMES = {"cmd", "argv", "command", "run_argv"}
ARGV_KEYS = {"argv", "command"}  # keys of dicts (YAML params) that hold an argv list
# argv[0]s that are not host programs from Debian: they run inside a container image or
# are the interpreter of golive's own venv.
NOT_HOST_PROGRAMS = {"python", "python3", "printf", "tail", "sleep", "true", "false", "echo"}


def bootstrap_packages() -> list[str]:
    """PACKAGES as scripts/bootstrap declares it."""
    text = (ROOT / "scripts" / "bootstrap").read_text()
    m = re.search(r'^PACKAGES="([^"]*)"', text, re.M)
    assert m, 'scripts/bootstrap has no PACKAGES="..."'
    return m.group(1).replace("\\\n", " ").split()


@cache
def allowed_packages() -> frozenset[str]:
    """Bootstrap's packages, their recursive hard dependencies, and Essential packages."""
    if shutil.which("apt-cache") is None or shutil.which("dpkg-query") is None:
        _missing("apt-cache and dpkg-query (a Debian system)")
    proc = subprocess.run(
        [
            "apt-cache",
            "depends",
            "--recurse",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
            *bootstrap_packages(),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    closure = {ln.strip() for ln in proc.stdout.splitlines() if ln and not ln[0].isspace()}
    essential = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Essential}\\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    closure |= {ln.split()[0] for ln in essential.splitlines() if ln.endswith(" yes")}
    closure |= prereq.PRECONDITIONS
    return frozenset(p.split(":")[0] for p in closure if not p.startswith("<"))


def _aliases(path: str) -> list[str]:
    """`path` and its other name under Debian's merged /usr (/bin/x <-> /usr/bin/x)."""
    out = [path]
    for top in ("/bin/", "/sbin/", "/lib/"):
        if path.startswith(top):
            out.append("/usr" + path)
        elif path.startswith("/usr" + top):
            out.append(path[4:])
    return out


def owners(path: str) -> set[str]:
    """Debian packages that own `path` or the file it finally points to (dpkg -S)."""
    found: set[str] = set()
    for candidate in {*_aliases(path), *_aliases(os.path.realpath(path))}:
        proc = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            if line.startswith("diversion ") or ": " not in line:
                continue
            pkgs, _, owned = line.partition(": ")
            if owned.strip() == candidate:
                found |= {p.strip().split(":")[0] for p in pkgs.split(",")}
    return found


@pytest.mark.parametrize("tool", prereq.TOOLS, ids=lambda t: f"{t.name}[{','.join(t.groups)}]")
def test_each_program_comes_from_a_package_bootstrap_installs(tool: prereq.Tool) -> None:
    where = tool.find()
    if where is None:
        _missing(f"{tool.name} (Debian package {tool.package})")
    assert where is not None
    owned_by = owners(where)
    assert owned_by, f"{where}: no Debian package owns it (dpkg -S); install it from Debian"
    assert tool.package in owned_by, f"{where} comes from {owned_by}, not from {tool.package}"
    outside = owned_by - allowed_packages()
    assert not outside, (
        f"{where} ({tool.name}) comes from {sorted(outside)}, which scripts/bootstrap neither "
        "installs nor pulls in as a hard dependency: add it to PACKAGES"
    )


def test_bootstrap_installs_every_listed_package() -> None:
    """The declared packages, without asking dpkg: a quick guard for machines without one."""
    declared = {t.package for t in prereq.TOOLS}
    essential = {"util-linux", "bash", "dash", "findutils", "coreutils"}
    deps = {"postgresql-15", "postgresql-client-15", "conmon", "postgresql-client-common", "mount"}
    assert declared - essential - deps - prereq.PRECONDITIONS <= set(bootstrap_packages())


def _argv0(node: ast.AST, string_ok: bool = False) -> str | None:
    """The program an argv list starts with (or a bare name when `string_ok`), if literal."""
    if string_ok and isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        first = node.elts[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def programs_run_by_the_code() -> Iterator[tuple[str, str]]:
    """(program, file:line) for each literal program name the Python code runs or looks up."""
    for top in SCANNED:
        for file in sorted((ROOT / top).rglob("*.py")):
            tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
            constants = {  # module-level NAME = "program", passed by name
                t.id: n.value
                for n in tree.body
                if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
                for t in n.targets
                if isinstance(t, ast.Name)
            }
            for node in ast.walk(tree):
                found: list[ast.AST] = []
                named: list[ast.AST] = []  # a program's bare name
                if isinstance(node, ast.Call) and node.args:
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    on = getattr(func, "value", None)
                    if name in NAME_RUNNERS or (
                        name in PREREQ_LOOKUPS and isinstance(on, ast.Name) and on.id == "prereq"
                    ):
                        named.append(node.args[0])
                    elif name in RUNNERS:
                        found.append(node.args[0])
                if isinstance(node, ast.Call):
                    found += [k.value for k in node.keywords if k.arg in ARGV_KEYS]
                elif isinstance(node, ast.Assign):
                    if any(isinstance(t, ast.Name) and t.id in ARGV_NAMES for t in node.targets):
                        found.append(node.value)
                elif isinstance(node, ast.Dict):
                    for key, value in zip(node.keys, node.values, strict=True):
                        if isinstance(key, ast.Constant) and key.value in ARGV_KEYS:
                            found.append(value)
                named = [
                    constants[a.id] if isinstance(a, ast.Name) and a.id in constants else a
                    for a in named
                ]
                for arg in [*found, *named]:
                    program = _argv0(arg, string_ok=arg in named)
                    if program and re.fullmatch(r"/?[\w./+-]+", program) and " " not in program:
                        yield os.path.basename(program), f"{file.relative_to(ROOT)}:{node.lineno}"


def test_every_program_the_code_runs_is_listed() -> None:
    """A program run by name anywhere in the code must have a line in prereq.TOOLS."""
    listed = {t.name for t in prereq.TOOLS}
    unlisted = {
        f"{program} ({where})"
        for program, where in programs_run_by_the_code()
        if program not in listed
        and program not in NOT_HOST_PROGRAMS
        and not program.startswith("golive-no-such")  # deliberately missing, in tests
    }
    assert not unlisted, (
        "programs run by the code but not listed in demo/stack/prereq.py TOOLS (add one line "
        f"each, with its Debian package, and the package to scripts/bootstrap): {sorted(unlisted)}"
    )


def test_the_scan_finds_what_the_launchers_run() -> None:
    """The scanner is not blind: it sees the programs known to be run."""
    seen = {program for program, _ in programs_run_by_the_code()}
    assert {"runuser", "podman", "crontab", "hey", "ab", "umount", "promtool"} <= seen


def test_an_unlisted_program_cannot_be_resolved() -> None:
    with pytest.raises(KeyError, match=r"not listed in demo/stack/prereq\.py"):
        prereq.path("golive-no-such-program")


def _doctor(env_path: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": env_path}
    return subprocess.run(
        [sys.executable, "-m", "demo.stack", "doctor", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def _path_without(tmp_path: Path, *left_out: str) -> str:
    """A PATH directory with every listed PATH program except `left_out` (symlinks)."""
    bindir = tmp_path / "bin"
    bindir.mkdir(parents=True)
    for t in prereq.TOOLS:
        where = t.find()
        if not t.dirs and t.name not in left_out and where and not (bindir / t.name).exists():
            (bindir / t.name).symlink_to(where)
    return str(bindir)


def test_doctor_exits_0_when_everything_is_installed(tmp_path: Path) -> None:
    missing = prereq.missing()
    if missing:
        _missing(", ".join(f"{t.name} ({t.package})" for t in missing))
    done = _doctor(_path_without(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == (
        f"all {len(prereq.TOOLS)} programs present ({', '.join(prereq.GROUPS)})\n"
    )


def test_doctor_names_the_missing_package_and_exits_1(tmp_path: Path) -> None:
    """A PATH without redis-server and hey, for real: doctor names their packages."""
    if prereq.missing():
        _missing("every listed program (to leave out exactly two)")
    done = _doctor(_path_without(tmp_path, "redis-server", "hey"))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"missing 2 of {len(prereq.TOOLS)} programs:"
    assert re.match(r"  redis-server +Debian package redis-server +\[stack\] Redis", lines[1])
    assert re.match(r"  hey +Debian package hey +\[benchmarks\]", lines[2])
    assert lines[-1] == "install them with: apt-get install -y hey redis-server"
    only = _doctor(_path_without(tmp_path / "s", "redis-server", "hey"), "--for", "stack")
    assert only.returncode == 1
    assert only.stdout.splitlines()[-1] == "install them with: apt-get install -y redis-server"
    bad = _doctor(str(tmp_path / "bin"), "--for", "stakc")
    assert bad.returncode == 2
    assert "unknown prerequisite groups: stakc" in bad.stderr


def test_up_refuses_to_start_without_a_program_and_names_its_package(tmp_path: Path) -> None:
    """`python -m demo.stack up` with a PATH lacking prometheus stops before starting anything."""
    if prereq.missing(["stack"]):
        _missing("the stack's programs")
    state = tmp_path / "state"
    env = {**os.environ, "PATH": _path_without(tmp_path, "prometheus")}
    done = subprocess.run(
        [sys.executable, "-m", "demo.stack", "up", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 1
    assert "missing binaries: prometheus (Debian package prometheus)" in done.stderr
    assert not state.exists()


def test_missing_required_reads_the_real_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert "redis-server (Debian package redis-server)" in lifecycle.missing_required()


@pytest.mark.integration
def test_podman_runs_no_helper_that_is_not_listed(stack_containers: Any, tmp_path: Path) -> None:
    """Helpers are found the way iptables was: by tracing what podman executes while it runs a
    container on the compose network (conmon, runc, netavark, iptables...). Every program it
    executes on the host must have a line in TOOLS."""
    from demo.stack import containers

    strace = prereq.tool("strace").find()
    if strace is None:
        _missing("strace (Debian package strace)")
    assert strace is not None
    trace = tmp_path / "execve.trace"
    in_container = "/bin/busybox"  # what the container runs: not a host program
    done = subprocess.run(
        [
            strace,
            "-f",
            "-qq",
            "-e",
            "trace=execve",
            "-o",
            str(trace),
            prereq.path("podman"),
            "run",
            "--rm",
            "--network",
            containers.NETWORK,
            containers.IMAGE,
            in_container,
            "true",
        ],
        env=containers.engine_env(stack_containers),
        cwd=stack_containers.state_dir,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0 and "ptrace" in done.stderr.lower():
        pytest.skip(f"strace may not trace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    executed = {
        path
        for path in re.findall(r'execve\("([^"]+)"', trace.read_text())
        if os.path.isfile(path) and path not in ("/proc/self/exe", in_container)
    }
    names = {os.path.basename(p) for p in executed}
    assert {"conmon", "runc", "netavark", "iptables"} <= names, sorted(executed)
    listed = {t.name for t in prereq.TOOLS}
    assert names <= listed, f"podman ran programs not in TOOLS: {sorted(names - listed)}"
