"""Secrets: canary secrets appear in no output of any format, with or without --verbose,
nor in the error messages of failing targets.

Canaries (random, recognisable values) are planted where real deployments keep secrets:

* the DSN password - of a real login role created for the test (member of the app role),
  so that the canary travels through working database sessions;
* the API token (`GOLIVE_API_TOKEN`) - not accepted by the API, so writes fail with the
  API's own error;
* the JWT signing key and POSTGRES_PASSWORD in the `.env` of a copy of the project tree,
  which the security checks read;
* GRAFANA_TOKEN, given only through `--env-file`;
* the password of credentials written into the API URL (a failing target).

Four runs go at once: a working run, a `--verbose --allow-writes` run, a `--verbose -f json`
run whose database and API are refused, and a `--verbose` run whose DSN is malformed
(an invalid %-escape right after the password, which libpq quotes in its error). Every
byte golive printed or wrote (stdout, stderr, every report format) is searched for every
canary, for the stack's own generated secrets and for its real API token.
"""

from __future__ import annotations

import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import harness, standins

pytestmark = pytest.mark.integration

EXCLUDED = ("security.rate_limit_enforced",)  # bursts the shared API; reads no secret
FIGURES: dict[str, Any] = {}


@dataclass(frozen=True)
class Canaries:
    """The planted values (each `cnry<KIND><hex>`)."""

    dsn_password: str
    api_token: str
    jwt_key: str
    env_password: str
    envfile_token: str
    url_password: str
    role: str

    def all(self) -> dict[str, str]:
        """Name -> value of every canary."""
        return {k: v for k, v in vars(self).items() if k != "role"}


def _canary(kind: str, nbytes: int = 12) -> str:
    return f"cnry{kind}{secrets.token_hex(nbytes)}"


def _with_dsn(dsn: str, user: str, password: str, netloc: str | None = None) -> str:
    scheme, rest = dsn.split("://", 1)
    hostpart = rest.rsplit("@", 1)[-1]
    if netloc is not None:
        hostpart = netloc + "/" + hostpart.split("/", 1)[1]
    return f"{scheme}://{user}:{password}@{hostpart}"


@pytest.fixture(scope="module")
def canaries(stack: Any) -> Any:
    """The canaries, with a real login role whose password is the DSN canary."""
    import psycopg
    from psycopg import sql

    c = Canaries(
        dsn_password=_canary("DSN"),
        api_token=_canary("TOK"),
        jwt_key=_canary("JWT", 24),
        env_password=_canary("PGE"),
        envfile_token=_canary("GRF"),
        url_password=_canary("URL"),
        role=f"golive_canary_{secrets.token_hex(4)}",
    )
    with psycopg.connect(stack.admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE orchestrator").format(
                sql.Identifier(c.role), sql.Literal(c.dsn_password)
            )
        )
    try:
        yield c
    finally:
        with psycopg.connect(stack.admin_dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (c.role,),
            )
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(c.role)))


def _project_copy(stack: Any, canaries: Canaries, where: Path) -> Path:
    """The stack's project tree with the JWT key and POSTGRES_PASSWORD replaced by canaries."""
    copy = where / "project"
    shutil.copytree(stack.project_root, copy, symlinks=True)
    env = copy / ".env"
    text = env.read_text()
    text = re.sub(r"(?m)^JWT_SECRET_KEY=.*$", f"JWT_SECRET_KEY={canaries.jwt_key}", text)
    text = re.sub(r"(?m)^POSTGRES_PASSWORD=.*$", f"POSTGRES_PASSWORD={canaries.env_password}", text)
    assert canaries.jwt_key in text and canaries.env_password in text
    env.write_text(text)
    return copy


@dataclass
class SecretRuns:
    runs: dict[str, harness.GoliveRun]
    forbidden: dict[str, str]  # name -> value that must appear nowhere
    api_token: str  # the stack's real token: a secret only where golive is given it

    def forbidden_in(self, name: str) -> dict[str, str]:
        """What must not appear in a run's output. The real API token is the system
        agent's id too, which checks rightly show when golive was not given it as a token."""
        out = dict(self.forbidden)
        if name == "working":
            out["stack:api_token"] = self.api_token
        return out


@pytest.fixture(scope="module")
def secret_runs(
    stack: Any,
    stack_env: dict[str, str],
    canaries: Canaries,
    tmp_path_factory: pytest.TempPathFactory,
) -> SecretRuns:
    from demo.stack.app import reset_rate_limits

    base = tmp_path_factory.mktemp("secrets")
    project = _project_copy(stack, canaries, base)
    env_file = base / "secrets.env"
    env_file.write_text(f"GRAFANA_TOKEN={canaries.envfile_token}\n")
    exclude = [a for c in EXCLUDED for a in ("-x", c)]
    common = ["--env-file", str(env_file), "--deadline", "90", *exclude]
    working_dsn = _with_dsn(stack.database_dsn, canaries.role, canaries.dsn_password)
    refused = standins.free_port()
    base_env = {**stack_env, "GOLIVE_PROJECT_ROOT": str(project)}
    base_env.pop("GRAFANA_TOKEN", None)  # only the env file may set it
    plans: dict[str, tuple[dict[str, str], list[str]]] = {
        "working": (
            {"GOLIVE_DATABASE_DSN": working_dsn, "GOLIVE_API_TOKEN": stack.api_token},
            [],
        ),
        "verbose_writes": (
            {"GOLIVE_DATABASE_DSN": working_dsn, "GOLIVE_API_TOKEN": canaries.api_token},
            ["--verbose", "--allow-writes"],
        ),
        "failing_targets": (
            {
                "GOLIVE_DATABASE_DSN": _with_dsn(
                    stack.database_dsn,
                    canaries.role,
                    canaries.dsn_password,
                    netloc=f"127.0.0.1:{refused}",
                ),
                "GOLIVE_API_URL": f"http://golive:{canaries.url_password}@127.0.0.1:{refused}",
                "GOLIVE_API_TOKEN": canaries.api_token,
            },
            ["--verbose", "--format", "json"],
        ),
        "malformed_dsn": (
            {
                "GOLIVE_DATABASE_DSN": _with_dsn(
                    stack.database_dsn, canaries.role, canaries.dsn_password + "%zz"
                ),
                "GOLIVE_API_TOKEN": canaries.api_token,
            },
            ["--verbose"],
        ),
    }
    reset_rate_limits(stack)
    started = {}
    for name, (env, extra) in plans.items():
        workdir = base / name
        cmd = harness.command(harness.configs(), workdir, *common, *extra)
        started[name] = harness.start(cmd, workdir, {**base_env, **env})
    runs = harness.finish_all(started, 200)
    reset_rate_limits(stack)
    forbidden = {f"canary:{k}": v for k, v in canaries.all().items()}
    forbidden.update({f"stack:{k}": v for k, v in stack.secrets.items() if v})
    return SecretRuns(runs, forbidden, stack.api_token)


def _fragments(value: str) -> list[str]:
    """The value, and the start of its random part (catches truncated copies too)."""
    core = value[7:] if value.startswith("cnry") else value
    return [value, core[:10]] if len(core) >= 10 else [value]


RUNS = ["working", "verbose_writes", "failing_targets", "malformed_dsn"]


@pytest.mark.parametrize("name", RUNS)
def test_no_secret_in_any_output(name: str, secret_runs: SecretRuns) -> None:
    run = secret_runs.runs[name]
    assert run.returncode in (0, 1, 3), run.describe()
    assert run.missing_reports() == [], run.describe()
    texts = run.texts()
    assert set(texts) >= {"stdout", "stderr", "report:json", "report:html"}
    forbidden = secret_runs.forbidden_in(name)
    leaks = [
        (secret, where)
        for secret, value in forbidden.items()
        for where, text in texts.items()
        for fragment in _fragments(value)
        if fragment in text
    ]
    FIGURES[name] = {"outputs": len(texts), "secrets": len(forbidden), "leaks": len(leaks)}
    assert leaks == [], f"secrets leaked: {leaks}"


def test_canaries_really_reached_golive(secret_runs: SecretRuns, canaries: Canaries) -> None:
    """Non-vacuity: the canaries were used (and masked), not merely absent."""
    working = secret_runs.runs["working"]
    results = working.results
    # the DSN canary opened real sessions as the canary role
    assert results["database.version"]["status"] == "PASS", results["database.version"]
    assert canaries.role in results["security.db_roles"]["summary"]
    assert "***" in working.data["targets"]["database"]
    # the JWT canary was read from the project copy's .env, judged strong, and found to
    # differ from the key the running containers hold (the stack's real one)
    jwt = results["security.jwt_secret"]
    assert jwt["status"] in ("PASS", "WARN") and "JWT_SECRET_KEY is strong" in jwt["summary"], jwt
    # writes with the refused API token failed with a reason, not a secret
    verbose = secret_runs.runs["verbose_writes"].results
    assert verbose["performance.task_throughput"]["status"] in ("FAIL", "ERROR")
    # the failing targets' errors quote their URL with the password masked
    failing = secret_runs.runs["failing_targets"]
    summaries = " ".join(r["summary"] for r in failing.data["results"])
    assert "connection refused by http://golive:***@127.0.0.1:" in summaries
    assert re.search(
        r"database unreachable: connection refused by PostgreSQL at 127\.0\.0\.1:\d+", summaries
    )
    # the malformed DSN's error quotes the password, masked
    malformed = secret_runs.runs["malformed_dsn"].results["database.version"]
    assert malformed["status"] == "SKIP"
    assert 'invalid percent-encoded token: "***"' in malformed["summary"], malformed["summary"]


@pytest.mark.parametrize("command", ["run", "validate --probe"])
def test_no_secret_in_config_errors_and_probe_reasons(
    command: str, stack: Any, stack_env: dict[str, str], canaries: Canaries, tmp_path: Path
) -> None:
    """A mistyped URL with credentials (a config error) and unreachable targets (`validate
    --probe`) are reported without the secrets they carry."""
    import subprocess
    import sys

    refused = standins.free_port()
    scheme = "htp" if command == "run" else "http"  # `run`: a config error; probe: unreachable
    env = {
        **stack_env,
        "GOLIVE_API_URL": f"{scheme}://golive:{canaries.url_password}@127.0.0.1:{refused}",
        "GOLIVE_DATABASE_DSN": _with_dsn(
            stack.database_dsn, canaries.role, canaries.dsn_password, f"127.0.0.1:{refused}"
        ),
        "GOLIVE_API_TOKEN": canaries.api_token,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "golive", *command.split()]
        + [a for c in harness.configs() for a in ("-c", str(c))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == (2 if command == "run" else 3), output
    assert "golive:***@127.0.0.1" in output  # the URL was quoted, masked
    for name, value in canaries.all().items():
        for fragment in _fragments(value):
            assert fragment not in output, f"{name} leaked: {output}"
    FIGURES[command] = {"outputs": 2, "secrets": len(canaries.all()), "leaks": 0}


def test_record_figures(secret_runs: SecretRuns) -> None:
    print(f"\nsecrets: {len(secret_runs.forbidden) + 1} secret values searched; {FIGURES}")
    assert all(f["leaks"] == 0 for f in FIGURES.values())
    assert len(FIGURES) == len(RUNS) + 2
