"""The secret-scanning engine behind security.secrets_scan: detect-secrets over given files.

golive walks the project tree itself (release archives are not git checkouts, and the tree
may be given as an absolute path) and hands each file to detect-secrets' Python scanning API
with its plugins and heuristic filters, plus a placeholder filter of its own. detect-secrets
keeps its settings in a module-level global, so scans are serialised by a lock.
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


def scan_files(
    files: list[tuple[Path, str]],
    plugins: list[dict[str, Any]] | None,
    deadline: float,
    on_secret: Callable[[str], None],
    on_progress: Callable[[int, int], None],
) -> tuple[list[Hit], int]:
    """Run detect-secrets' plugins and heuristic filters over files; (hits, files scanned)."""
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings, transient_settings

    hits: list[Hit] = []
    done = 0
    with _DETECT_SECRETS_LOCK:
        settings = transient_settings({"plugins_used": plugins}) if plugins else default_settings()
        with settings:
            for path, rel in files:
                if time.monotonic() > deadline:
                    break
                for s in scan_file(str(path)):
                    value = s.secret_value or ""
                    if sec.placeholder_value(value, str(s.type)):
                        continue
                    if s.type == "Private Key" and not pem_body_follows(path, s.line_number):
                        continue  # the words "BEGIN ... PRIVATE KEY" without a key
                    on_secret(value)
                    hits.append(Hit(rel, int(s.line_number or 0), str(s.type), s.secret_hash))
                done += 1
                if done % 50 == 0:
                    on_progress(done, len(files))
    return hits, done
