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
import posixpath
import stat
from pathlib import Path
from typing import Any, Literal

from golive.api import Context, Outcome, check

#: Runs a command from a directory on a host: `cd DIR && exec "$@"` (POSIX sh).
_IN_DIR = 'cd -- "$1" && shift && exec "$@"'


def _on_host(ctx: Context, argv: list[str], cwd: str | None, env: dict[str, str]) -> list[str]:
    """The argv that runs `argv` on a remote host from `cwd` (relative to the host's
    project root; default: that root) with `env` added to the login environment."""
    project = ctx.config.targets.project is not None
    if cwd is None:
        where = ctx.project_root if project else "."
    elif posixpath.isabs(cwd) or not project:
        where = cwd
    else:
        where = posixpath.join(ctx.project_root, cwd)
    extra = [f"{k}={v}" for k, v in env.items()]
    return ["sh", "-c", _IN_DIR, "golive-command", where, "env", *extra, *argv]


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
    needs=("host",),
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
    substrings. Content is never copied into the report, only which pattern matched.
    Runs on every host of `targets.hosts` (stat and read over SFTP; a relative path starts
    at the host's project root)."""
    host = ctx.host
    if host.is_local:
        where = str(_resolve(ctx, path))
    elif posixpath.isabs(path) or ctx.config.targets.project is None:
        where = path
    else:
        where = posixpath.join(ctx.project_root, path)
    ctx.record("path", where)
    st = await host.stat(where)
    if st is None:
        if exists:
            return Outcome.failed(f"{path} does not exist")
        return Outcome.passed(f"{path} does not exist, as required")
    if not exists:
        return Outcome.failed(f"{path} exists but must not")
    perms = st.perm
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
        if not st.is_file:
            return Outcome.failed(f"{path} is not a regular file")
        text = await host.read_text(where)
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


Comparison = str | bool | int | float  # "< 100", "== ok", or a bare value meaning ==


def _expectation(text: Comparison | None) -> Any:
    from golive.expect import parse_expectation

    return None if text is None else parse_expectation(text)


@check(
    id="generic.http",
    generic=True,
    title="HTTP endpoint answers as expected",
    remediation="Fix the service behind the URL, or the expected status/body in golive.yaml.",
)
async def http(
    ctx: Context,
    url: str,
    method: str = "GET",
    headers: dict[str, str] = {},  # noqa: B006
    body: str | None = None,
    status: list[int] = [200],  # noqa: B006
    json_path: str | None = None,
    expect: Comparison | None = None,
    regex: str | None = None,
    max_latency_ms: float | None = None,
    timeout: float = 10.0,
    verify_tls: bool = True,
) -> Outcome:
    """Sends one request and checks the status (one of `status`), the latency (at most
    `max_latency_ms`), a regular expression searched in the body (`regex`), and a value
    in the JSON body (`json_path`, e.g. `$.checks.database.status`, compared with `expect`
    such as `== healthy` or `< 5`; without `expect` the value must merely exist). A URL
    starting with `/` is sent to `targets.api` (with its headers and TLS settings); other
    URLs get a one-off client that ignores proxy variables. Header values whose names look
    secret (Authorization, X-Api-Key, ...) are redacted from every output.

        - id: monitoring.api_ready
          uses: http
          title: The API reports itself ready within 500 ms
          params:
            url: /health/ready
            json_path: $.status
            expect: == ready
            max_latency_ms: 500
            headers: {Authorization: "Bearer ${API_TOKEN}"}
    """
    import re
    import time

    import httpx

    from golive.expect import json_path as lookup
    from golive.redact import looks_secret

    for name, value in headers.items():
        if looks_secret(name):
            ctx.secret(value)
            ctx.secret(value.split(" ", 1)[-1])
    wanted = _expectation(expect)
    limit = min(timeout, ctx.timeout)
    kw: dict[str, Any] = {"headers": headers, "content": body, "timeout": limit}
    t0 = time.monotonic()
    try:
        if url.startswith("/"):
            resp = await ctx.api.request(method, url, **kw)
        else:
            async with httpx.AsyncClient(verify=verify_tls, trust_env=False) as client:
                resp = await client.request(method, url, **kw)
    except (httpx.HTTPError, OSError) as exc:
        from golive.targets.http import describe_http_error

        return Outcome.failed(describe_http_error(exc, url, limit), evidence={"url": url})
    latency = (time.monotonic() - t0) * 1000
    evidence: dict[str, Any] = {"url": str(resp.url), "method": method, "status": resp.status_code}
    evidence["latency_ms"] = round(latency, 1)
    problems = []
    if resp.status_code not in status:
        problems.append(f"status {resp.status_code} (expected {', '.join(map(str, status))})")
    if max_latency_ms is not None and latency > max_latency_ms:
        problems.append(f"took {latency:.0f} ms (limit {max_latency_ms:g} ms)")
    if regex is not None and not re.search(regex, resp.text):
        problems.append(f"body does not match /{regex}/")
    if json_path is not None:
        try:
            value = lookup(resp.json(), json_path)
        except ValueError:
            problems.append("body is not JSON")
        except LookupError as exc:
            problems.append(f"{json_path} not found: {exc}")
        else:
            evidence["value"] = value if isinstance(value, (int, float, bool)) else str(value)[:200]
            if wanted is not None and not wanted.holds(value):
                problems.append(f"{json_path} is {value!r}, expected {wanted}")
    elif wanted is not None and not wanted.holds(resp.text.strip()):
        problems.append(f"body is {resp.text.strip()[:80]!r}, expected {wanted}")
    where = f"{method} {url}"
    measurements = {"latency_ms": round(latency, 1)}
    if problems:
        evidence["body_excerpt"] = resp.text[:300]
        return Outcome.failed(
            f"{where}: " + "; ".join(problems), evidence=evidence, measurements=measurements
        )
    return Outcome.passed(
        f"{where} answered {resp.status_code} in {latency:.0f} ms as expected",
        evidence=evidence,
        measurements=measurements,
    )


@check(
    id="generic.sql",
    generic=True,
    title="SQL query returns the expected result",
    needs=("database",),
    remediation="Fix the data or configuration the query inspects, or the expectation.",
)
async def sql(
    ctx: Context,
    query: str,
    expect: Comparison | None = None,
    rows: Comparison | None = None,
    max_fetch: int = 10000,
) -> Outcome:
    """Runs one query in a read-only session (statement and lock timeouts from
    `targets.database`) and compares the first column of the first row with `expect`
    (e.g. `== 0`, `>= 1`, `== ok`) and/or the number of rows with `rows` (e.g. `0`,
    `<= 10`). At most `max_fetch` rows are read. A query the database rejects is ERROR.

        - id: integrity.no_orphan_runs
          uses: sql
          title: No task run points at a missing task
          params:
            query: >-
              SELECT count(*) FROM task_run r
              WHERE NOT EXISTS (SELECT 1 FROM task t WHERE t.id = r.task_id)
            expect: == 0
    """
    import psycopg

    wanted, count_wanted = _expectation(expect), _expectation(rows)
    try:
        async with ctx.db.session() as conn:
            cur = await conn.execute(query)
            fetched = await cur.fetchmany(max_fetch + 1) if cur.description else []
    except psycopg.Error as exc:
        return Outcome.error(f"The query failed: {ctx.db.describe(exc)}", evidence={"query": query})
    n = len(fetched)
    first = next(iter(fetched[0].values()), None) if fetched and fetched[0] else None
    shown = first if isinstance(first, (int, float, bool, type(None))) else str(first)[:200]
    evidence = {
        "query": query,
        "rows": n if n <= max_fetch else f"more than {max_fetch}",
        "value": shown,
    }
    problems = []
    if count_wanted is not None and (n > max_fetch or not count_wanted.holds(n)):
        problems.append(f"returned {evidence['rows']} rows, expected {count_wanted}")
    if wanted is not None:
        if not fetched:
            problems.append(f"returned no row, expected a value {wanted}")
        elif not wanted.holds(first):
            problems.append(f"returned {shown!r}, expected {wanted}")
    if problems:
        return Outcome.failed("The query " + "; ".join(problems), evidence=evidence)
    return Outcome.passed(
        f"The query returned {evidence['rows']} rows, value {shown!r}, as expected",
        evidence=evidence,
    )


@check(
    id="generic.promql",
    generic=True,
    title="PromQL query returns the expected values",
    needs=("prometheus",),
    remediation="Fix what the metric measures, the scrape that feeds it, or the expectation.",
)
async def promql(
    ctx: Context,
    query: str,
    expect: Comparison | None = None,
    min_series: int = 1,
) -> Outcome:
    """Runs an instant query against `targets.prometheus`: the result must hold at least
    `min_series` series, and every series' value must satisfy `expect` (e.g. `> 0`,
    `< 0.05`). The failing series are listed with their labels; an empty result names
    the metrics of the query that do not exist in Prometheus, with the closest existing
    names (a renamed `ord_http_requests_total`), so that "absent" is not mistaken for
    "no matching series". A query Prometheus rejects is ERROR.

        - id: monitoring.workers_reporting
          uses: promql
          title: At least two workers are up
          params:
            query: sum(up{job="workers"})
            expect: ">= 2"
    """
    from prometheus_api_client.exceptions import PrometheusApiClientException

    wanted = _expectation(expect)
    try:
        result = await ctx.prometheus.query(query)
    except PrometheusApiClientException as exc:
        import re

        text = " ".join(str(exc).split())
        m = re.search(r'"error":"((?:[^"\\]|\\.)*)"', text)
        return Outcome.error(f"Prometheus rejected the query: {m.group(1) if m else text[:300]}")
    series = []
    for item in result:
        labels = item.get("metric") or {}
        name = labels.get("__name__", "")
        text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
        series.append(
            {"series": f"{name}{{{text}}}", "value": (item.get("value") or [None, None])[1]}
        )
    evidence: dict[str, Any] = {
        "query": query,
        "series": series[:50],
        "series_count": len(series),
    }
    if len(series) < min_series:
        absent = await _absent_metrics(ctx, query) if not series else []
        evidence["absent_metrics"] = absent
        why = "; ".join(
            f"{a['metric']} does not exist in Prometheus"
            + (f" (closest: {', '.join(a['closest'])})" if a["closest"] else "")
            for a in absent
        )
        return Outcome.failed(
            f"{query} returned {len(series)} series, expected at least {min_series}"
            + (f": {why}" if why else ""),
            evidence=evidence,
        )
    bad = [s for s in series if wanted is not None and not wanted.holds(s["value"])]
    if bad:
        listed = ", ".join(f"{s['series']} = {s['value']}" for s in bad[:5])
        return Outcome.failed(
            f"{len(bad)} of {len(series)} series of {query} are not {wanted}: {listed}",
            evidence=evidence,
        )
    values = ", ".join(str(s["value"]) for s in series[:3]) + (" ..." if len(series) > 3 else "")
    cond = f" ({len(series)} series, all {wanted})" if wanted is not None else ""
    return Outcome.passed(f"{query} = {values}{cond}", evidence=evidence)


async def _absent_metrics(ctx: Context, query: str) -> list[dict[str, Any]]:
    """The metrics a query names that have no series at all in Prometheus (an empty result
    because the metric is absent, not because its value filtered it out), each with the
    closest existing names."""
    from golive.targets.prometheus import closest_metrics, referenced_metrics

    names = referenced_metrics(query)
    if not names:
        return []
    existing = await ctx.prometheus.metric_names()
    return [
        {"metric": n, "closest": closest_metrics(n, existing)} for n in names if n not in existing
    ]


@check(
    id="generic.command",
    generic=True,
    title="Command exits as expected",
    needs=("host",),
    remediation="Run the command by hand and fix what it reports, or the expectation.",
)
async def command(
    ctx: Context,
    argv: list[str],
    shell: bool = False,
    exit_code: int | list[int] = 0,
    stdout_regex: str | None = None,
    stderr_regex: str | None = None,
    timeout: float = 30.0,
    cwd: str | None = None,
    env: dict[str, str] = {},  # noqa: B006
) -> Outcome:
    """Runs `argv` without a shell (with `shell: true`, `argv` is one string run by
    `/bin/sh -c`), from `cwd` (default: the project root), with extra `env` variables.
    PASS when it exits with `exit_code` (or one of a list) within `timeout` and its output
    matches `stdout_regex` / `stderr_regex`. The process group is killed at the timeout.
    The end of its output is kept as evidence (secrets redacted). Runs on every host of
    `targets.hosts`: there over SSH, from `cwd` on the host (default: its project root),
    with the login environment plus `env` (`cd DIR && exec env NAME=VALUE... ARGV`).

        - id: operations.backup_dry_run
          uses: command
          title: The backup script's dry run succeeds
          params:
            argv: [/usr/local/bin/daily_backup.sh, --dry-run]
            stdout_regex: backup ok
            timeout: 120
    """
    import re

    from golive import subproc
    from golive.redact import looks_secret

    if not argv:
        return Outcome.error("argv is empty: give the program and its arguments")
    if shell and len(argv) != 1:
        return Outcome.error("With shell: true, argv must be one command string")
    for name, value in env.items():
        if looks_secret(name):
            ctx.secret(value)
    run_argv = ["/bin/sh", "-c", argv[0]] if shell else argv
    limit = min(timeout, max(0.5, ctx.timeout - 0.5))
    try:
        if ctx.host.is_local:
            where = (
                _resolve(ctx, cwd)
                if cwd
                else (_resolve(ctx, ".") if ctx.config.targets.project else None)
            )
            done = await subproc.run(run_argv, timeout=limit, cwd=where, env={**os.environ, **env})
        else:
            done = await ctx.host.run(_on_host(ctx, run_argv, cwd, env), timeout=limit)
    except OSError as exc:
        return Outcome.failed(
            f"Cannot run {argv[0]}: {exc.strerror or exc}", evidence={"argv": argv}
        )
    codes = exit_code if isinstance(exit_code, list) else [exit_code]
    evidence = {
        "argv": argv,
        "exit_code": done.returncode,
        "seconds": round(done.duration, 2),
        "stdout_tail": subproc.tail(done.stdout),
        "stderr_tail": subproc.tail(done.stderr),
    }
    label = " ".join(argv)[:120]
    if done.timed_out:
        return Outcome.failed(
            f"`{label}` did not finish within {limit:g}s and was killed", evidence=evidence
        )
    problems = []
    if done.returncode not in codes:
        problems.append(f"exited with {done.returncode} (expected {', '.join(map(str, codes))})")
    for stream, rx, text in (
        ("stdout", stdout_regex, done.stdout),
        ("stderr", stderr_regex, done.stderr),
    ):
        if rx is not None and not re.search(rx, text, re.MULTILINE):
            problems.append(f"its {stream} does not match /{rx}/")
    if problems:
        return Outcome.failed(f"`{label}` " + " and ".join(problems), evidence=evidence)
    return Outcome.passed(
        f"`{label}` exited with {done.returncode} in {done.duration:.1f}s as expected",
        evidence=evidence,
    )


@check(
    id="generic.tls",
    generic=True,
    title="TLS certificate is valid, trusted and not about to expire",
    remediation="Renew the certificate, install its full chain, and make it name the host used.",
)
async def tls(
    ctx: Context,
    endpoint: str | None = None,
    cert_file: str | None = None,
    hostname: str | None = None,
    ca_file: str | None = None,
    warn_days: int = 30,
    fail_days: int = 7,
    verify_chain: bool = True,
    verify_hostname: bool = True,
) -> Outcome:
    """The certificate of `endpoint` (host:port, a real handshake) or of `cert_file` (PEM,
    leaf first): FAIL when expired or expiring within `fail_days`, when the chain does not
    verify against `ca_file` (default: the system trust store), or when it is not valid
    for `hostname` (default for an endpoint: its host); WARN within `warn_days`.

        - id: infrastructure.public_api_cert
          uses: tls
          title: The public API certificate is valid for api.example.com
          params: {endpoint: "api.example.com:443", warn_days: 21}
    """
    from golive import tlsinfo

    if not endpoint and not cert_file:
        return Outcome.error("Set endpoint (host:port) or cert_file")
    return await tlsinfo.evaluate(
        cert_file=str(_resolve(ctx, cert_file)) if cert_file and not endpoint else None,
        endpoint=endpoint,
        hostname=hostname,
        ca_file=str(_resolve(ctx, ca_file)) if ca_file else None,
        warn_days=warn_days,
        fail_days=fail_days,
        verify_chain=verify_chain,
        verify_hostname=verify_hostname,
        timeout=min(10.0, ctx.timeout),
    )
