"""Generic checks, declared in golive.yaml alone with `uses: <kind>`.

    - id: operations.env_file_private
      uses: file
      title: The .env file is private
      params: {path: .env, mode: "0600"}

Relative paths resolve against the project root when `targets.project` is configured,
else against the current directory.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Literal

from golive.api import Context, Outcome, check


def _resolve(ctx: Context, path: str) -> Path:
    p = Path(os.path.expanduser(path))
    if p.is_absolute():
        return p
    project = ctx.config.targets.project
    return (Path(project.root) / p) if project is not None else p.resolve()


@check(
    id="generic.file",
    generic=True,
    title="File exists with safe permissions and expected content",
    remediation="Create the file, fix its mode with chmod, or correct its content.",
)
async def file(
    ctx: Context,
    path: str,
    exists: bool = True,
    mode: str | None = None,
    not_world_writable: bool = True,
    contains: list[str] = [],  # noqa: B006 - read-only default, validated by pydantic
    not_contains: list[str] = [],  # noqa: B006
) -> Outcome:
    """A file exists (or must not), its permission bits are no wider than `mode` (octal,
    e.g. "0640"), it is not world-writable, and it contains / does not contain the given
    substrings. Content is never copied into the report, only which pattern matched."""
    p = _resolve(ctx, path)
    ctx.record("path", str(p))
    if not p.exists():
        if exists:
            return Outcome.failed(f"{path} does not exist")
        return Outcome.passed(f"{path} does not exist, as required")
    if not exists:
        return Outcome.failed(f"{path} exists but must not")
    st = p.stat()
    perms = stat.S_IMODE(st.st_mode)
    ctx.record("mode", f"{perms:04o}")
    problems = []
    if not_world_writable and perms & stat.S_IWOTH:
        problems.append(f"is world-writable (mode {perms:04o})")
    if mode is not None:
        try:
            allowed = int(mode, 8)
        except ValueError:
            return Outcome.error(f"mode {mode!r} is not an octal permission such as '0640'")
        extra = perms & ~allowed
        if extra:
            problems.append(f"mode {perms:04o} is wider than {allowed:04o}")
    if contains or not_contains:
        if not p.is_file():
            return Outcome.failed(f"{path} is not a regular file")
        text = await asyncio.to_thread(p.read_text, encoding="utf-8", errors="replace")
        missing = [s for s in contains if s not in text]
        present = [s for s in not_contains if s in text]
        if missing:
            problems.append(f"does not contain {', '.join(repr(s) for s in missing)}")
        if present:
            problems.append(f"contains forbidden {', '.join(repr(s) for s in present)}")
    if problems:
        return Outcome.failed(f"{path} " + "; ".join(problems))
    return Outcome.passed(
        f"{path} exists (mode {perms:04o})"
        + (" with the expected content" if contains or not_contains else "")
    )


@check(
    id="generic.port",
    generic=True,
    title="TCP port accepts connections",
    remediation="Start the service, or fix the host/port and any firewall in between.",
)
async def port(
    ctx: Context,
    port: int,
    host: str = "127.0.0.1",
    timeout: float = 3.0,
    expect: Literal["open", "closed"] = "open",
) -> Outcome:
    """A TCP connection to host:port succeeds within `timeout` (or, with `expect: closed`,
    is refused or times out)."""
    where = f"{host}:{port}"
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError, TimeoutError) as exc:
        reason = (
            f"no answer within {timeout:g}s"
            if isinstance(exc, (asyncio.TimeoutError, TimeoutError))
            else (exc.strerror or str(exc))
        )
        if expect == "closed":
            return Outcome.passed(f"{where} does not accept connections ({reason}), as required")
        return Outcome.failed(f"{where} does not accept connections: {reason}")
    elapsed = (loop.time() - t0) * 1000
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    if expect == "closed":
        return Outcome.failed(f"{where} accepts connections but must not")
    return Outcome.passed(
        f"{where} accepts connections ({elapsed:.0f} ms)", measurements={"connect_ms": elapsed}
    )
