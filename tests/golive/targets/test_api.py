"""golive/targets/api.py: the API's OpenAPI document, asked for once per run, and the
reasons golive gives when there is none (against the demo API of the session stack; the
once-per-run test counts requests with a small loopback pass-through proxy in front of
the real API, because the demo's request counter does not name /openapi.json), and a 429
to the request for it waited out as its Retry-After says (a small real server on loopback
that rate-limits its document: the demo's limiter cannot be made to answer one 429 on
demand)."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from golive.config import ApiTarget as ApiConfig
from golive.models import Status
from golive.openapi import OpenApiUnavailable
from golive.targets.api import ApiTarget
from golive.testing import load_dict, run_check, run_config
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


# --- a rate-limited document: a real loopback server answers 429 with Retry-After -------

_DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "throttled", "version": "1"},
    "paths": {"/x": {"get": {"responses": {"200": {"description": "ok"}}}}},
}


class _ThrottledApi(LoopbackServer):
    """Answers GET /openapi.json with a 429 for each Retry-After value queued (a value
    `+N` becomes the HTTP date N seconds from the answer), then with a small document;
    every other request with 401 (`requests` counts those for the document)."""

    def __init__(self, *retry_after: str | None) -> None:
        self.retry_after = list(retry_after)
        self.requests = 0
        super().__init__(_Throttled)


class _Throttled(Handler):
    server: _ThrottledApi

    def respond(self, body: bytes) -> None:
        srv = self.server
        if self.path != "/openapi.json":
            return self.answer(401, {"detail": "Not authenticated"})
        with srv.lock:
            srv.requests += 1
            throttled = bool(srv.retry_after)
            value = srv.retry_after.pop(0) if throttled else None
        if not throttled:
            return self.answer(200, _DOCUMENT)
        headers = {}
        if value is not None:
            if value.startswith("+"):
                value = formatdate(time.time() + float(value[1:]), usegmt=True)
            headers["retry-after"] = value
        self.answer(429, {"detail": "Too Many Requests"}, headers)


def _fetch(url: str, within: float | None, *, again: float | None = None) -> list[str]:
    """What one ApiTarget says when asked for the document `within` seconds (None: no
    deadline), and `again` seconds when given: the operations, else the reason."""

    async def ask(api: ApiTarget, seconds: float | None) -> str:
        deadline = None if seconds is None else asyncio.get_running_loop().time() + seconds
        try:
            doc = await api.openapi(deadline)
        except OpenApiUnavailable as exc:
            return str(exc)
        return ", ".join(op.label for op in doc.operations()) or "no operations"

    async def main() -> list[str]:
        api = ApiTarget(ApiConfig(url=url, timeout=2))
        try:
            said = [await ask(api, within)]
            if again is not None:
                said.append(await ask(api, again))
            return said
        finally:
            await api.close()

    return asyncio.run(main())


@pytest.mark.parametrize("retry_after", ["1", "+1"], ids=["seconds", "http-date"])
def test_a_429_is_waited_out_as_retry_after_says(retry_after: str) -> None:
    with serving(_ThrottledApi(retry_after)) as api:
        said = _fetch(api.url, within=10)
    assert said == ["GET /x"]
    assert api.requests == 2


def test_a_retry_after_longer_than_the_time_left_is_the_reason() -> None:
    with serving(_ThrottledApi("120")) as api:
        said = _fetch(api.url, within=3)
    assert re.fullmatch(
        r"GET /openapi.json answered 429 Too Many Requests with Retry-After: 120 \(120s\), "
        r"longer than the [23]\.\ds left of the check's timeout",
        said[0],
    ), said
    assert api.requests == 1  # not asked again before the Retry-After


def test_without_a_deadline_the_api_timeout_bounds_the_wait() -> None:
    with serving(_ThrottledApi("60")) as api:
        said = _fetch(api.url, within=None)
    assert re.fullmatch(
        r"GET /openapi.json answered 429 Too Many Requests with Retry-After: 60 \(60s\), "
        r"longer than the [12]\.\ds left within targets.api.timeout",
        said[0],
    ), said


def test_a_later_caller_with_time_for_the_wait_fetches_the_document() -> None:
    """A refusal for want of time is not kept: a caller whose deadline lies past the
    Retry-After asks again once it has passed, and gets the document."""
    with serving(_ThrottledApi("1")) as api:
        said = _fetch(api.url, within=0.5, again=10)
    assert said[0].startswith("GET /openapi.json answered 429 Too Many Requests with Retry-After")
    assert said[1] == "GET /x"
    assert api.requests == 2


@pytest.mark.parametrize(
    ("retry_after", "reason"),
    [
        (None, "without a Retry-After header saying when to ask again"),
        ("soon", "with a Retry-After that is neither seconds nor a date: 'soon'"),
    ],
)
def test_a_429_without_a_usable_retry_after(retry_after: str | None, reason: str) -> None:
    with serving(_ThrottledApi(retry_after)) as api:
        said = _fetch(api.url, within=10)
    assert said == [f"GET /openapi.json answered 429 Too Many Requests {reason}"]
    assert api.requests == 1


def test_a_check_waits_out_the_429_within_its_own_timeout() -> None:
    """Through a run: the check's deadline bounds the wait, so the document is read after
    the 429 and the configured endpoint is checked against it."""
    with serving(_ThrottledApi("1")) as api:
        r = run_check(
            "security.auth_required",
            targets={"api": {"url": api.url}},
            params={"endpoints": ["GET /x", "GET /nowhere"]},
            timeout=20,
        )
    assert r.status is Status.ERROR, r.summary
    assert r.summary.startswith(
        "GET /nowhere is not an operation of the API's OpenAPI document (GET /openapi.json)"
    )
    assert api.requests == 2
