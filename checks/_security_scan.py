"""The work of `security.secrets_scan` (`checks/security.py`) on one host.

The project tree is walked on the host (over SFTP for a remote one) and its files are
scanned by the detect-secrets engine (`_secretscan.py`) in a thread. A remote host's files
are copied into a private temporary directory first, because detect-secrets reads files by
path; a file whose path and content (sha256 on the host) another host of the run already
had is not copied again, its result is reused. Every value the scanner finds is registered
with `ctx.secret` (from the scanning thread, through the event loop) before anything could
print it.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golive.api import Context, Finding, Outcome

if TYPE_CHECKING:
    from golive.hosts.interface import Host

from . import _secretscan as secretscan


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    loop.call_soon_threadsafe(fn, *args)


async def _scan_files(
    ctx: Context,
    files: list[tuple[Path, str]],
    plugins: list[dict[str, Any]] | None,
    deadline: float,
    stop: threading.Event,
) -> tuple[list[secretscan.Hit], int]:
    """detect-secrets over local files (path, name to report) in a thread: (hits, files
    scanned). Each secret found is registered with `ctx.secret`, and progress reported,
    through the event loop."""
    loop = asyncio.get_running_loop()
    return await asyncio.to_thread(
        secretscan.scan_files,
        files,
        plugins,
        deadline,
        lambda v: _call_soon(loop, ctx.secret, v),
        lambda d, t: _call_soon(loop, ctx.progress, d, t, "scanning for secrets"),
        stop,
    )


async def _fetch(host: Host, root: str, rels: list[str], into: Path) -> list[str]:
    """Copy files of a remote tree into a private local directory (at most 16 reads at a
    time); returns the ones that could not be read."""
    sem = asyncio.Semaphore(16)
    failed: list[str] = []

    async def one(rel: str) -> None:
        async with sem:
            try:
                data = await host.read_bytes(os.path.join(root, rel))
            except OSError:
                failed.append(rel)
                return
        dest = into / rel
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        dest.write_bytes(data)

    await asyncio.gather(*(one(r) for r in rels))
    return failed


async def _digests(host: Host, root: str, rels: list[str]) -> dict[str, str]:
    """sha256 of each file, computed on the host (`sha256sum`, 200 files a call); files it
    cannot hash are left out (they are then copied and scanned)."""
    out: dict[str, str] = {}
    for i in range(0, len(rels), 200):
        chunk = {os.path.join(root, rel): rel for rel in rels[i : i + 200]}
        try:
            done = await host.run(["sha256sum", "--", *chunk], timeout=60)
        except OSError:
            return out
        for line in done.stdout.splitlines():
            digest, _, path = line.partition("  ")
            if path in chunk and len(digest) == 64:
                out[chunk[path]] = digest
    return out


async def _scan_remote(
    ctx: Context,
    chosen: list[str],
    plugins: list[dict[str, Any]] | None,
    deadline: float,
    copy_dir: Path,
    skipped: Counter[str],
    stop: threading.Event,
) -> tuple[list[secretscan.Hit], int, int]:
    """Scan a remote host's files: (hits, files scanned, files to scan).

    The hosts of a stack usually hold the same release, so a file whose path and content
    (sha256 on the host) were already scanned on another host in this run is not copied
    or scanned again: its result is reused. Only new or changed files travel and are read
    by detect-secrets (which scans one file at a time for the whole process anyway).
    """
    host, root = ctx.host, ctx.project_root
    digests = await _digests(host, root, chosen)
    memo = ctx.targets.memo.setdefault("security.secrets_scan", {"lock": asyncio.Lock()})
    seen: dict[tuple[str, str, str], list[secretscan.Hit]] = memo.setdefault("seen", {})
    pkey = json.dumps(plugins, sort_keys=True, default=str)
    hits: list[secretscan.Hit] = []
    scanned = 0
    async with memo["lock"]:
        todo = []
        for rel in chosen:
            key = (rel, digests.get(rel, ""), pkey)
            if key[1] and key in seen:
                hits += seen[key]
                scanned += 1
            else:
                todo.append(rel)
        tree = copy_dir / "tree"
        unreadable = set(await _fetch(host, root, todo, tree))
        if unreadable:
            skipped["unreadable"] += len(unreadable)
        files = [(tree / rel, rel) for rel in todo if rel not in unreadable]
        found, done = await _scan_files(ctx, files, plugins, deadline, stop)
        by_rel: dict[str, list[secretscan.Hit]] = {}
        for h in found:
            by_rel.setdefault(h.path, []).append(h)
        for _, rel in files[:done]:
            if digests.get(rel):
                seen[(rel, digests[rel], pkey)] = by_rel.get(rel, [])
        hits += found
        scanned += done
    return hits, scanned, len(chosen) - len(unreadable)


async def secrets_scan_on_host(
    ctx: Context,
    baseline: str | None,
    exclude: list[str],
    secret_files: list[str] | None,
    max_file_bytes: int,
    max_findings: int,
    copy_dir: Path | None = None,
) -> Outcome:
    """The scan; with `copy_dir`, the host is remote and its files are copied there first
    (a private temporary directory, removed afterwards) for detect-secrets to read."""
    from golive.targets.project import SKIP_DIRS

    deadline = time.monotonic() + max(1.0, ctx.timeout * 0.85)
    cfg = ctx.config.targets.project
    assert cfg is not None  # the runner skips the check without a project target
    host = ctx.host
    root = ctx.project_root if copy_dir is not None else str(ctx.project.root)
    stores = {
        os.path.normpath(s) for s in (secret_files if secret_files is not None else cfg.env_files)
    }
    known: set[tuple[str, str]] = set()
    plugins = None
    baseline_rel = None
    if baseline:
        if os.path.isabs(baseline):
            bsource = baseline
            baseline_rel = os.path.relpath(baseline, root)
        else:
            bsource = os.path.join(root, baseline)
            baseline_rel = os.path.normpath(baseline)
        bpath = Path(bsource)
        try:
            if copy_dir is not None:
                bpath = copy_dir / ".golive-baseline.json"
                bpath.write_bytes(await host.read_bytes(bsource))
            known, plugins = secretscan.load_baseline(bpath)
        except FileNotFoundError:
            return Outcome.error(f"the detect-secrets baseline {baseline} does not exist")
        except (OSError, ValueError) as exc:
            return Outcome.error(f"cannot read the detect-secrets baseline {baseline}: {exc}")

    skipped: Counter[str] = Counter()
    chosen: list[str] = []
    for entry in await host.walk(root, SKIP_DIRS):
        rel, st = entry.rel, entry.stat
        if not st.is_file:
            continue
        if rel == baseline_rel:
            skipped["baseline file"] += 1
        elif os.path.normpath(rel) in stores:
            skipped["secret files (expected to hold secrets)"] += 1
        elif secretscan.matches(rel, exclude):
            skipped["excluded by pattern"] += 1
        elif st.size > max_file_bytes:
            skipped[f"larger than {max_file_bytes} bytes"] += 1
        else:
            chosen.append(rel)
    stop = threading.Event()  # set when this check is cancelled: the scan ends its workers
    try:
        if copy_dir is not None:
            hits, scanned, total = await _scan_remote(
                ctx, chosen, plugins, deadline, copy_dir, skipped, stop
            )
        else:
            files = [(Path(root) / rel, rel) for rel in chosen]
            total = len(files)
            hits, scanned = await _scan_files(ctx, files, plugins, deadline, stop)
    finally:
        stop.set()
    await asyncio.sleep(0)  # let the secrets registered from the thread land first
    new = [h for h in hits if (os.path.normpath(h.path), h.hashed) not in known]
    suppressed = len(hits) - len(new)
    by_line: dict[tuple[str, int], list[str]] = {}
    for h in new:
        kinds = by_line.setdefault((h.path, h.line), [])
        if h.type not in kinds:
            kinds.append(h.type)
    rows = [
        {"file": p, "line": line, "type": ", ".join(kinds)}
        for (p, line), kinds in sorted(by_line.items())
    ]
    evidence: dict[str, Any] = {
        "root": str(root),
        "files_scanned": scanned,
        "files_skipped": dict(skipped),
        "known_in_baseline": suppressed,
        "findings": rows[:max_findings],
    }
    if len(rows) > max_findings:
        evidence["findings_not_shown"] = len(rows) - max_findings
    findings = [
        Finding(
            p, f"possible secret: {', '.join(kinds)}", line or None, rule="security.secrets_scan"
        )
        for (p, line), kinds in sorted(by_line.items())
    ]
    if scanned < total:
        return Outcome.error(
            f"scanned only {scanned} of {total} files before the time limit; raise this "
            "check's timeout or exclude large generated directories",
            evidence=evidence,
            findings=findings,
        )
    if rows:
        first = rows[0]
        files_hit = len({r["file"] for r in rows})
        return Outcome.failed(
            f"{len(rows)} possible secret(s) in {files_hit} file(s), e.g. "
            f"{first['file']}:{first['line']} ({first['type']})",
            evidence=evidence,
            findings=findings,
            measurements={"secrets": float(len(rows))},
        )
    extra = f"; {suppressed} known in the baseline" if suppressed else ""
    return Outcome.passed(
        f"no secrets found in {scanned} files{extra}",
        evidence=evidence,
        measurements={"secrets": 0.0},
    )
