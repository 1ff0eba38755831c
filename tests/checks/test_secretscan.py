"""checks/_secretscan.py: the same secrets as detect-secrets' own command line, faster.

A planted tree holds freshly generated secrets of many kinds (one file per kind, so that
each of detect-secrets' plain regex plugins, its keyword, entropy, JWT and private-key
plugins all have something to find) next to ordinary code, and a large file of ordinary
code so that the tree is big enough for the worker-process pool. `detect-secrets scan
--all-files`, run in the tree, is the reference: golive must report exactly its (file, line,
type, hashed secret) set, with its worker processes and without them. The planted kinds
are ones whose detect-secrets plugin never verifies a secret over the network.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from checks import _secretscan as scan
from golive.models import Status
from golive.testing import run_check


def _alnum(n: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def planted_tree(root: Path) -> Path:
    """Files with one kind of secret each, ordinary code, and > PARALLEL_MIN_BYTES in all."""
    hexchars = "0123456789abcdef"
    key_body = base64.b64encode(secrets.token_bytes(300)).decode()
    jwt = ".".join(
        [_b64url({"alg": "HS256", "typ": "JWT"}), _b64url({"sub": _alnum(12)}), _alnum(43)]
    )
    files = {
        "app/github.py": f'TOKEN = "ghp_{_alnum(36)}"\n',
        "app/sendgrid.py": f'KEY = "SG.{_alnum(22)}.{_alnum(43)}"\n',
        "app/openai.py": f'OPENAI = "sk-{_alnum(20)}T3BlbkFJ{_alnum(20)}"\n',
        "app/twilio.py": "SID = 'AC" + "".join(secrets.choice(hexchars) for _ in range(32)) + "'\n",
        ".npmrc": f"//registry.npmjs.org/:_authToken=npm_{_alnum(36)}\n",
        "config/db.py": f'URL = "postgresql://app:{_alnum(16)}@db.internal:5432/app"\n',
        "config/settings.py": f'DB_PASSWORD = "{_alnum(20)}"\n',
        "config/app.yaml": f"service:\n  api_key: {_alnum(24)}\n",
        "config/entropy.py": (
            f'BLOB = "{base64.b64encode(secrets.token_bytes(30)).decode()}"\n'
            f'HEX = "{secrets.token_hex(24)}"\n'
        ),
        "keys/deploy.pem": (
            "-----BEGIN RSA PRIVATE KEY-----\n"
            + "\n".join(key_body[i : i + 64] for i in range(0, len(key_body), 64))
            + "\n-----END RSA PRIVATE KEY-----\n"
        ),
        "web/session.js": f'const session = "{jwt}";\n',
        "docs/notes.md": "Set `password` in the vault, never here.\n",
    }
    ordinary = "".join(
        f"def handler_{i}(request):\n    return {{'id': {i}, 'name': 'item-{i}'}}\n\n"
        for i in range(5000)
    )
    files["app/handlers.py"] = ordinary
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) > scan.PARALLEL_MIN_BYTES
    return root


def cli_secrets(root: Path) -> set[tuple[str, int, str, str]]:
    """(file, line, type, hashed secret) that `detect-secrets scan --all-files` reports."""
    out = subprocess.run(
        [sys.executable, "-m", "detect_secrets", "scan", "--all-files"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    return {
        (file, e["line_number"], e["type"], e["hashed_secret"])
        for file, entries in json.loads(out)["results"].items()
        for e in entries
    }


def golive_secrets(root: Path, workers: int) -> tuple[set[tuple[str, int, str, str]], int]:
    files = sorted((p, str(p.relative_to(root))) for p in root.rglob("*") if p.is_file())
    values: list[str] = []
    hits, done = scan.scan_files(
        files, None, time.monotonic() + 600, values.append, lambda d, t: None, workers=workers
    )
    assert done == len(files)
    assert len(values) == len(hits)  # every value found is handed over for redaction
    return {(h.path, h.line, h.type, h.hashed) for h in hits}, len(files)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[Any]]:
    root = planted_tree(tmp_path_factory.mktemp("planted"))
    return root, cli_secrets(root)


def test_the_planted_tree_has_every_kind_of_secret(planted: tuple[Path, set[Any]]) -> None:
    _, expected = planted
    kinds = {kind for _, _, kind, _ in expected}
    assert kinds >= {
        "GitHub Token",
        "SendGrid API Key",
        "OpenAI Token",
        "Twilio API Key",
        "NPM tokens",
        "Basic Auth Credentials",
        "Secret Keyword",
        "Base64 High Entropy String",
        "Hex High Entropy String",
        "Private Key",
        "JSON Web Token",
    }, kinds


@pytest.mark.parametrize("workers", [2, 1], ids=["worker-processes", "in-process"])
def test_scan_finds_exactly_what_the_cli_finds(
    planted: tuple[Path, set[Any]], workers: int
) -> None:
    root, expected = planted
    found, _ = golive_secrets(root, workers)
    assert found == expected


def test_the_check_reports_every_file_and_line_the_cli_reports(
    planted: tuple[Path, set[Any]], tmp_path: Path
) -> None:
    root, expected = planted
    r = run_check(
        "security.secrets_scan", targets={"project": {"root": str(root)}}, directory=str(tmp_path)
    )
    assert r.status is Status.FAIL, r.summary
    assert {(f["file"], f["line"]) for f in r.evidence["findings"]} == {
        (file, line) for file, line, _, _ in expected
    }
    assert r.evidence["files_scanned"] == sum(1 for p in root.rglob("*") if p.is_file())


def test_prescreen_is_undone() -> None:
    from detect_secrets.core import scan as ds_scan

    original = ds_scan._scan_line
    undo = scan.prescreened()
    assert undo is not None and ds_scan._scan_line is not original
    undo()
    assert ds_scan._scan_line is original


@pytest.mark.parametrize("workers", [2, 1], ids=["worker-processes", "in-process"])
def test_a_stopped_scan_counts_only_what_it_scanned(
    planted: tuple[Path, set[Any]], workers: int
) -> None:
    root, _ = planted
    files = sorted((p, str(p.relative_to(root))) for p in root.rglob("*") if p.is_file())
    stop = threading.Event()
    stop.set()
    hits, done = scan.scan_files(
        files, None, time.monotonic() + 600, lambda v: None, lambda d, t: None, stop, workers
    )
    assert (hits, done) == ([], 0)
    hits, done = scan.scan_files(
        files, None, time.monotonic() - 1, lambda v: None, lambda d, t: None, None, workers
    )
    assert (hits, done) == ([], 0)
