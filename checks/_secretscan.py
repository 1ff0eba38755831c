"""The secret-scanning engine behind security.secrets_scan: detect-secrets over given files.

golive walks the project tree itself (release archives are not git checkouts, and the tree
may be given as an absolute path) and hands each file to detect-secrets' Python scanning API
with its plugins and heuristic filters, plus a placeholder filter of its own.

Speed, with the same findings as detect-secrets' own scan:

* a tree of more than `PARALLEL_MIN_BYTES` is scanned by a pool of worker processes, one per
  usable CPU (the CLI does the same), each initialising detect-secrets' settings and
  plugins once; the largest files go first so that the workers finish together;
* a line is handed to a plain regular-expression plugin (most of detect-secrets' plugins:
  AWS, Slack, Stripe, private keys, ...) only when one of that plugin's own expressions
  matches it (`prescreened`). Such a plugin finds nothing in a line that none of its
  expressions matches, so this skips only work that cannot find anything; the keyword,
  entropy and JWT plugins, which do more than match, see every line as before.

detect-secrets keeps its settings in a module-level global, so scans in this process are
serialised by a lock.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _security as sec

_DETECT_SECRETS_LOCK = threading.Lock()


def matches(rel: str, patterns: list[str]) -> bool:
    """True when a relative path matches a glob (a glob without `/` also matches the name)."""
    name = rel.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatch(rel, p) or ("/" not in p and fnmatch.fnmatch(name, p)) for p in patterns
    )


def load_baseline(path: Path) -> tuple[set[tuple[str, str]], list[dict[str, Any]] | None]:
    """Known (file, hashed secret) pairs of a detect-secrets baseline, and its plugin settings."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("results", {}), dict):
        raise ValueError("not a detect-secrets baseline (no 'results' mapping)")
    known: set[tuple[str, str]] = set()
    for filename, entries in data.get("results", {}).items():
        for e in entries or []:
            # an entry audited as a real secret (`is_secret: true`) is still reported
            if isinstance(e, dict) and e.get("hashed_secret") and e.get("is_secret") is not True:
                known.add((os.path.normpath(str(filename)), str(e["hashed_secret"])))
    plugins = data.get("plugins_used")
    return known, plugins if isinstance(plugins, list) and plugins else None


@dataclass
class Hit:
    """One secret found: where, and of which kind (its value is never kept)."""

    path: str
    line: int
    type: str
    hashed: str


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{40,}")


def pem_body_follows(path: Path, line: int | None) -> bool:
    """True when a `BEGIN ... PRIVATE KEY` header at `line` is followed by base64 key data
    (on the next lines of a PEM file, or after a `\\n` escape in the same string)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            lines = fh.read(1_000_000).splitlines()
    except OSError:
        return True
    index = (line or 1) - 1
    head = lines[index] if 0 <= index < len(lines) else ""
    after = head.split("PRIVATE KEY", 1)[-1]
    nxt = lines[index + 1 : index + 3]
    return bool(_BASE64_RUN.search(after) or any(_BASE64_RUN.search(x) for x in nxt))


#: Below this many bytes in all, files are scanned in this process: starting worker
#: processes (a fresh interpreter that imports detect-secrets) costs more than it saves.
PARALLEL_MIN_BYTES = 256 * 1024


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def prescreened() -> Callable[[], None] | None:
    """Make detect-secrets skip plain regex plugins on lines none of their expressions match.

    Wraps `detect_secrets.core.scan._scan_line` (the call of one plugin on one line) for
    the plugins whose `analyze_line` and `analyze_string` are `RegexBasedDetector`'s own:
    those report only what their `denylist` expressions find in the line, so a line that
    no expression matches yields nothing, exactly as if they had been called. Returns the
    function that undoes it, or None (nothing changed) when this detect-secrets does not
    have the function with the expected parameters."""
    import inspect

    from detect_secrets.core import scan as ds_scan
    from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector

    original = getattr(ds_scan, "_scan_line", None)
    if original is None:
        return None
    expected = ["plugin", "filename", "line", "line_number", "context"]
    if list(inspect.signature(original).parameters)[:5] != expected:
        return None
    screens: dict[int, tuple[re.Pattern[str], ...] | None] = {}

    def scan_line(
        plugin: Any, filename: str, line: str, line_number: int, context: Any, **kwargs: Any
    ) -> Any:
        key = id(plugin)
        if key not in screens:
            cls = type(plugin)
            plain = (
                cls.analyze_line is BasePlugin.analyze_line
                and cls.analyze_string is RegexBasedDetector.analyze_string
            )
            screens[key] = tuple(plugin.denylist) if plain else None
        patterns = screens[key]
        if patterns is not None and not any(p.search(line) for p in patterns):
            return iter(())
        return original(plugin, filename, line, line_number, context, **kwargs)

    ds_scan._scan_line = scan_line

    def undo() -> None:
        ds_scan._scan_line = original

    return undo


#: (line, detect-secrets type, hashed secret, value) of the secrets found in one file
FileHits = list[tuple[int, str, str, str]]


def scan_one(path: str) -> FileHits:
    """The secrets detect-secrets finds in one file, minus placeholders and key headers
    without a key (settings must be in effect)."""
    from detect_secrets.core.scan import scan_file

    out: FileHits = []
    for s in scan_file(path):
        value = s.secret_value or ""
        if sec.placeholder_value(value, str(s.type)):
            continue
        if s.type == "Private Key" and not pem_body_follows(Path(path), s.line_number):
            continue  # the words "BEGIN ... PRIVATE KEY" without a key
        out.append((int(s.line_number or 0), str(s.type), str(s.secret_hash), value))
    return out


_WORKER_SETTINGS: list[Any] = []


def _worker_init(plugins: list[dict[str, Any]] | None) -> None:
    """Worker process: settings and plugins once, for every file it will scan."""
    from detect_secrets.settings import default_settings, transient_settings

    settings = transient_settings({"plugins_used": plugins}) if plugins else default_settings()
    settings.__enter__()
    _WORKER_SETTINGS.append(settings)  # held (never exited) for the life of the worker
    prescreened()


def _worker_scan(item: tuple[int, str]) -> tuple[int, FileHits]:
    index, path = item
    return index, scan_one(path)


def scan_files(
    files: list[tuple[Path, str]],
    plugins: list[dict[str, Any]] | None,
    deadline: float,
    on_secret: Callable[[str], None],
    on_progress: Callable[[int, int], None],
    stop: threading.Event | None = None,
    workers: int | None = None,
) -> tuple[list[Hit], int]:
    """Run detect-secrets' plugins and heuristic filters over files; (hits, files scanned).

    Hits come in the order of `files`. Scanning ends early at `deadline` (time.monotonic)
    or when `stop` is set; files not scanned by then are not counted. `workers`: worker
    processes (default: one per usable CPU for a tree of `PARALLEL_MIN_BYTES` or more)."""
    if workers is None:
        size = 0
        for path, _ in files:
            try:
                size += path.stat().st_size
            except OSError:
                pass
        workers = usable_cpus() if size >= PARALLEL_MIN_BYTES else 1
    workers = max(1, min(workers, len(files)))
    found: dict[int, FileHits] = {}
    if workers == 1:
        done = _scan_here(files, plugins, deadline, stop, on_progress, found)
    else:
        done = _scan_in_pool(files, plugins, deadline, stop, on_progress, found, workers)
    hits: list[Hit] = []
    for index in sorted(found):
        for line, kind, hashed, value in found[index]:
            on_secret(value)
            hits.append(Hit(files[index][1], line, kind, hashed))
    return hits, done


def _stopped(deadline: float, stop: threading.Event | None) -> bool:
    return time.monotonic() > deadline or (stop is not None and stop.is_set())


def _scan_here(
    files: list[tuple[Path, str]],
    plugins: list[dict[str, Any]] | None,
    deadline: float,
    stop: threading.Event | None,
    on_progress: Callable[[int, int], None],
    found: dict[int, FileHits],
) -> int:
    from detect_secrets.settings import default_settings, transient_settings

    done = 0
    with _DETECT_SECRETS_LOCK:
        settings = transient_settings({"plugins_used": plugins}) if plugins else default_settings()
        with settings:
            undo = prescreened()
            try:
                for index, (path, _) in enumerate(files):
                    if _stopped(deadline, stop):
                        break
                    found[index] = scan_one(str(path))
                    done += 1
                    if done % 50 == 0:
                        on_progress(done, len(files))
            finally:
                if undo is not None:
                    undo()
    return done


def _scan_in_pool(
    files: list[tuple[Path, str]],
    plugins: list[dict[str, Any]] | None,
    deadline: float,
    stop: threading.Event | None,
    on_progress: Callable[[int, int], None],
    found: dict[int, FileHits],
    workers: int,
) -> int:
    import multiprocessing

    def size(index: int) -> int:
        try:
            return files[index][0].stat().st_size
        except OSError:
            return 0

    order = sorted(range(len(files)), key=size, reverse=True)  # the largest first
    # spawn, not fork: this process runs threads (the event loop's, the console's)
    context = multiprocessing.get_context("spawn")
    done = 0
    with context.Pool(workers, initializer=_worker_init, initargs=(plugins,)) as pool:
        results = pool.imap_unordered(_worker_scan, [(i, str(files[i][0])) for i in order])
        while done < len(files) and not _stopped(deadline, stop):
            try:
                wait = max(0.01, min(0.5, deadline - time.monotonic()))
                index, file_hits = results.next(timeout=wait)
            except multiprocessing.TimeoutError:
                continue
            found[index] = file_hits
            done += 1
            if done % 50 == 0:
                on_progress(done, len(files))
        # leaving the block terminates the workers, also those still scanning
    return done
