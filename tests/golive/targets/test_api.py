"""golive/targets/api.py: the API's OpenAPI document, asked for once per run, and the
reasons golive gives when there is none (against the demo API of the session stack; the
once-per-run test counts requests with a small loopback pass-through proxy in front of
the real API, because the demo's request counter does not name /openapi.json)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from golive.config import ApiTarget as ApiConfig
from golive.openapi import OpenApiUnavailable
from golive.targets.api import ApiTarget
from golive.testing import load_dict, run_config
from tests.loopback import Handler, LoopbackServer, serving

if TYPE_CHECKING:
    from demo.stack import Stack


class _CountingProxy(LoopbackServer):
    """A loopback pass-through in front of the real demo API that counts the requests for
    each path (the demo's own request counter files /openapi.json under `unmatched`)."""

    def __init__(self, upstream: str) -> None:
        self.counts: Counter[str] = Counter()
        super().__init__(_Counted, upstream)


class _Counted(Handler):
    server: _CountingProxy

    def respond(self, body: bytes) -> None:
        with self.server.lock:
            self.server.counts[f"{self.command} {self.path.split('?')[0]}"] += 1
        super().respond(body)


@pytest.mark.integration
def test_the_document_is_fetched_once_per_run(stack: Stack) -> None:
    """Two checks of one run read the document; the API serves it once."""
    with serving(_CountingProxy(stack.api_url)) as proxy:
        config = load_dict(
            {
                "targets": {
                    "api": {"url": proxy.url, "token": stack.api_token, "timeout": 10},
                },
                "sections": {
                    "security": {"checks": [{"id": "security.auth_required"}]},
                    "performance": {
                        "checks": [{"id": "performance.api_latency", "params": {"requests": 5}}]
                    },
                },
            }
        )
        run = run_config(config, checks=["security.auth_required", "performance.api_latency"])
    statuses = {r.id: r.status.value for r in run.results}
    assert statuses["security.auth_required"] == "PASS", run.results
    assert proxy.counts["GET /openapi.json"] == 1
    assert proxy.counts["GET /health"] >= 5  # both checks ran against the API


@pytest.mark.integration
@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (
            "/no-such-document.json",
            "the API serves no OpenAPI document: GET /no-such-document.json answered 404",
        ),
        ("/health/live", "GET /health/live is not an OpenAPI document (it has no `paths`)"),
        ("/metrics", "GET /metrics did not answer JSON, so it is not an OpenAPI document"),
        (None, "targets.api.openapi_path is not set"),
    ],
)
def test_why_there_is_no_document(stack: Stack, path: str | None, reason: str) -> None:
    async def fetch() -> str:
        api = ApiTarget(ApiConfig(url=stack.api_url, openapi_path=path))
        try:
            await api.openapi()
        except OpenApiUnavailable as exc:
            return str(exc)
        finally:
            await api.close()
        return "a document"

    assert asyncio.run(fetch()) == reason


@pytest.mark.integration
def test_validate_probe_says_whether_the_api_serves_a_document(
    stack: Stack, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from golive.cli import app

    for openapi_path, expected in (
        (
            "/openapi.json",
            r"api +reachable; OpenAPI document with \d+ operations \(GET /openapi.json\)",
        ),
        (
            "/nothing.json",
            r"api +reachable; no OpenAPI document \(the API serves no OpenAPI document: "
            r"GET /nothing.json answered 404\): probes use their parameters",
        ),
    ):
        path = tmp_path / "golive.yaml"
        path.write_text(
            "version: 1\n"
            f"targets:\n  api: {{url: '{stack.api_url}', openapi_path: '{openapi_path}'}}\n"
            "sections: {}\n"
        )
        r = CliRunner().invoke(app, ["validate", "-c", str(path), "--probe"])
        assert r.exit_code == 0, r.stdout
        assert re.search(expected, r.stdout), r.stdout
