"""checks/security.py against real files, the reference stack and real failing states.

Project-tree checks (secrets scan, compose settings, permissions) run against real trees
materialised from ``security_cases/`` (planted secrets are generated at run time). Checks of
live services run against the reference stack (``stack`` fixture) and against failing
states built for real and undone:

* the application role made a superuser (``demo.faults.superuser_app_role``), or a member of
  a CREATEROLE role, and PUBLIC granted CREATE / table privileges (admin DSN, revoked after);
* a container without no-new-privileges in the compose project
  (``demo.faults.container_without_no_new_privileges``), a container publishing Redis on all
  interfaces and an api container with a weak JWT key (podman, in a separate compose
  project, removed after);
* a second instance of the demo API started with a bad configuration (rate limiting off, a
  well-known JWT key, a 12-hour token lifetime, or an unreachable database), sharing the
  stack's Redis and database, killed after;
* world-writable and world-readable files (``demo.faults.world_writable``, chmod, undone).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from checks import _security as sec
from golive.models import CheckResult, Status
from golive.testing import run_check
from tests.conftest import demo_api_process

if TYPE_CHECKING:
    from demo.stack import Stack

CASES = Path(__file__).parent / "security_cases"
REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------
# helpers


@functools.cache
def _config_dir() -> str:
    path = tempfile.mkdtemp(prefix="golive-security-tests-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def run(check_id: str, **kw: Any) -> CheckResult:
    """`run_check`, with its generated golive.yaml kept in a temp dir removed at exit."""
    return run_check(check_id, directory=_config_dir(), **kw)


def materialise(case: str, dest: Path, values: dict[str, str] | None = None) -> Path:
    """Copy a case tree, replacing @@NAME@@ markers and renaming `dot*.in` files to `.*`."""
    src = CASES / case
    for path in src.rglob("*"):
        if path.is_dir():
            continue
        rel = path.relative_to(src)
        name = rel.name
        if name.endswith(".in"):
            name = name[: -len(".in")]
            if name.startswith("dot."):
                name = name[len("dot") :]
        target = dest / rel.parent / name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text()
        for key, value in (values or {}).items():
            text = text.replace(f"@@{key}@@", value)
        target.write_text(text)
        if name.startswith(".env") and not name.endswith(".example"):
            target.chmod(0o600)
    return dest


def planted_values() -> dict[str, str]:
    """Real-looking secrets, different on every run."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    rng = secrets.SystemRandom()
    return {
        "AWS_KEY_ID": "AKIA"
        + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16)),
        "AWS_SECRET": "".join(
            rng.choice(string.ascii_letters + string.digits + "/+") for _ in range(40)
        ),
        "PRIVATE_KEY": pem.strip(),
        "DB_PASSWORD": "Pw" + secrets.token_urlsafe(18),
        "API_TOKEN": secrets.token_hex(20),
    }


def project(root: Path, **extra: Any) -> dict[str, Any]:
    """A `targets:` mapping with just a project tree."""
    cfg: dict[str, Any] = {"root": str(root), "compose_files": ["docker-compose.yml"]}
    cfg.update(extra)
    return {"project": cfg}


def dump(result: CheckResult) -> str:
    """Everything a report could show of a result."""
    return json.dumps(asdict(result), default=str)


def stack_targets(stack: Stack, **override: Any) -> dict[str, Any]:
    """Targets pointing at the reference stack (docker only when it runs containers)."""
    targets: dict[str, Any] = {
        "api": {
            "url": stack.api_url,
            "token": stack.api_token,
            "agent_id": stack.agent_id,
            "timeout": 15,
        },
        "database": {"dsn": stack.database_dsn},
        "project": {"root": str(stack.project_root)},
    }
    if stack.docker_host:
        targets["docker"] = {
            "base_url": stack.docker_host,
            "compose_project": stack.compose_project,
        }
    targets.update(override)
    return targets


def admin_app_dsn(stack: Stack) -> str:
    """Superuser DSN on the application database."""
    return stack.admin_dsn.rsplit("/", 1)[0] + "/orchestrator"


def admin_sql(stack: Stack, *statements: str) -> None:
    import psycopg

    with psycopg.connect(admin_app_dsn(stack), autocommit=True) as conn:
        for s in statements:
            conn.execute(s)  # type: ignore[arg-type]


@contextmanager
def extra_api(stack: Stack, tmp: Path, **env: str) -> Iterator[str]:
    """A second demo API process with a changed environment (shares the stack's DB and Redis)."""
    from demo.stack import app

    environ = app.app_env(stack)
    environ.update(env)
    with demo_api_process(environ, tmp, stack.state_dir) as url:
        yield url


@contextmanager
def compose_container(stack: Stack, project_name: str, service: str, *args: str) -> Iterator[str]:
    """A container labelled as `service` of compose project `project_name`; removed after."""
    from demo.stack import containers

    name = f"{project_name}_{service}_{uuid.uuid4().hex[:6]}"
    containers.podman(
        stack,
        "run",
        "-d",
        "--name",
        name,
        "--label",
        f"com.docker.compose.project={project_name}",
        "--label",
        f"com.docker.compose.service={service}",
        *args,
        containers.IMAGE,
        *containers.SLEEP,
    )
    try:
        yield name
    finally:
        containers.podman(stack, "rm", "--force", "--time", "0", name, check=False)


@pytest.fixture
def fresh_limits(stack: Stack) -> Iterator[None]:
    """Reset the API's rate-limit windows before and after (bursts throttle 127.0.0.1)."""
    from demo.stack import app

    app.reset_rate_limits(stack)
    yield
    app.reset_rate_limits(stack)


# ---------------------------------------------------------------------------------------------
# pure helpers


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("dev-secret-key-change-in-production", "well-known default"),
        ("changeme", "well-known default"),
        ("Secret", "well-known default"),
        ("please-CHANGE-ME-before-going-live-0123456789", "placeholder"),
        ("your-jwt-secret-goes-here-and-it-is-long-enough", "placeholder"),
        ("Xk9-2mQ_vL7pR4", "shorter than the required 32"),
        ("abcdefghijklmnopqrstuvwxyz0123456789", "repeated or sequential"),
        ("ab12ab12ab12ab12ab12ab12ab12ab12ab12", "repeated or sequential"),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbb", "low entropy"),
    ],
)
def test_weak_secrets_are_named(value: str | None, reason: str) -> None:
    found = sec.secret_weakness(value, min_length=32, min_entropy_bits=100)
    assert found is not None and reason in found
    if value:
        assert value not in found


@pytest.mark.parametrize(
    "value",
    [secrets.token_urlsafe(48), secrets.token_hex(16), secrets.token_urlsafe(32)],
    ids=["urlsafe48", "hex16", "urlsafe32"],  # fresh values, stable ids (xdist compares them)
)
def test_random_secrets_are_strong(value: str) -> None:
    assert sec.secret_weakness(value, min_length=32, min_entropy_bits=100) is None


@pytest.mark.parametrize(
    ("detail", "anonymous", "kind", "verdict"),
    [
        (
            [{"loc": ["header", "authorization"], "msg": "Field required"}],
            True,
            "credentials",
            "rejected",
        ),
        ([{"loc": ["body", "title"], "msg": "Field required"}], False, "body", "accepted"),
        (
            [
                {"loc": ["header", "authorization"], "msg": "Field required"},
                {"loc": ["body", "title"], "msg": "Field required"},
            ],
            True,
            "credentials",
            "rejected",
        ),
        ([{"loc": ["body", "title"], "msg": "Field required"}], True, "body", "inconclusive"),
        ("Agent not found", False, None, "inconclusive"),
    ],
)
def test_validation_answers_are_read_for_what_they_refuse(
    detail: Any, anonymous: bool, kind: str | None, verdict: str
) -> None:
    import httpx

    from checks._security_api import _judge_auth, _refusal_kind

    resp = httpx.Response(422, json={"detail": detail})
    assert _refusal_kind(resp) == kind
    assert _judge_auth(422, 422, anonymous, kind)[0] == verdict


@pytest.mark.parametrize(
    ("headers", "body", "lifts_in", "source"),
    [
        ({"Retry-After": "37"}, None, 37.0, "Retry-After header"),
        ({"Retry-After": "Sat, 05 Dec 2026 08:00:30 GMT"}, None, 30.0, "Retry-After header"),
        ({"X-RateLimit-Reset": "1796457645"}, None, 45.0, "X-RateLimit-Reset header"),
        ({"X-RateLimit-Reset": "12"}, None, 12.0, "X-RateLimit-Reset header"),
        ({"RateLimit-Reset": "9"}, None, 9.0, "RateLimit-Reset header"),
        (
            {},
            {"error": "RateLimitExceeded", "retry_after": 60},
            60.0,
            "retry_after in the 429's JSON body",
        ),
        ({}, {"detail": "rate limit exceeded"}, None, None),
    ],
)
def test_recovery_is_read_from_the_429(
    headers: dict[str, str], body: Any, lifts_in: float | None, source: str | None
) -> None:
    import email.utils

    import httpx

    from checks._security_api import recovery

    now = email.utils.parsedate_to_datetime("Sat, 05 Dec 2026 08:00:00 GMT").timestamp()
    if "X-RateLimit-Reset" in headers and int(headers["X-RateLimit-Reset"]) > 10**9:
        headers = {"X-RateLimit-Reset": str(int(now) + 45)}
    resp = httpx.Response(429, headers=headers, json=body)
    assert recovery(resp, now) == {"lifts_in_s": lifts_in, "source": source}


def test_hs256_tokens_verify_and_decode() -> None:
    import hashlib
    import hmac

    claims = {"sub": "agent", "iat": 1000, "exp": 1000 + 3600}
    token = sec.hs256_token(claims, "k" * 40)
    head, body, sig = token.split(".")
    expected = hmac.new(b"k" * 40, f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert sec._b64url_decode(sig) == expected
    assert sec.jwt_claims(token) == claims
    assert sec.token_lifetime_minutes(claims, now=0) == 60
    unsigned = sec.unsigned_token(claims)
    assert unsigned.endswith(".") and json.loads(sec._b64url_decode(unsigned.split(".")[0])) == {
        "alg": "none",
        "typ": "JWT",
    }
    assert sec.jwt_claims("not-a-token") is None


@pytest.mark.parametrize(
    ("entry", "public", "text"),
    [
        ("5432", True, "0.0.0.0:<random>->5432/tcp"),
        ("5432:5432", True, "0.0.0.0:5432->5432/tcp"),
        ("0.0.0.0:6379:6379", True, "0.0.0.0:6379->6379/tcp"),
        ("127.0.0.1:5432:5432", False, "127.0.0.1:5432->5432/tcp"),
        ("[::1]:5432:5432/tcp", False, "[::1]:5432->5432/tcp"),
        (
            {"target": 6379, "published": 6379, "host_ip": "127.0.0.1"},
            False,
            "127.0.0.1:6379->6379/tcp",
        ),
        ({"target": 6379, "published": "6379"}, True, "0.0.0.0:6379->6379/tcp"),
    ],
)
def test_compose_ports_are_parsed(entry: Any, public: bool, text: str) -> None:
    (pub,) = sec.parse_compose_port(entry)
    assert pub.is_public is public
    assert pub.describe() == text


@pytest.mark.parametrize(
    ("name", "raw", "kind"),
    [
        ("POSTGRES_PASSWORD", "hunter2-but-longer", "value"),
        ("DATABASE_URL", "postgresql://app:s3cr3t-pw@db:5432/app", "url"),
        ("JWT_SECRET_KEY", "${JWT_SECRET_KEY:-dev-secret-key-change-in-production}", "default"),
        ("POSTGRES_PASSWORD", "${POSTGRES_PASSWORD:?must be set}", None),
        ("DATABASE_URL", "postgresql://app:${POSTGRES_PASSWORD}@db/app", None),
        ("POSTGRES_PASSWORD_FILE", "/run/secrets/pg", None),
        ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "30", None),
        ("GRAFANA_ADMIN_PASSWORD", "changeme", "value"),  # the password Grafana gets
        ("GF_SECURITY_ADMIN_PASSWORD", "admin", "value"),
        ("DATABASE_URL", "postgresql://app:password@db/app", "url"),
        ("POSTGRES_PASSWORD", "<your-password>", None),  # a template, not a value
        ("POSTGRES_PASSWORD", "***", None),
        ("REDIS_URL", "redis://redis:6379/0", None),
    ],
)
def test_literal_secrets_in_compose_values(name: str, raw: str, kind: str | None) -> None:
    found = sec.literal_secret(name, raw)
    assert (found[0] if found else None) == kind


@pytest.mark.parametrize(
    ("value", "weakness"),
    [
        ("admin", "a well-known default or placeholder"),
        ("changeme", "a well-known default or placeholder"),
        ("dev_password", "a well-known default or placeholder"),
        ("12345678", "a well-known default or placeholder"),
        ("abcdefghij", "a repeated or sequential pattern"),
        ("Xk9#q", "5 characters long"),
        ("sunflower", "a single word"),
        ("orchestrator_pw", None),
        ("Tr0ub4dor&3-horse", None),
    ],
)
def test_password_weakness(value: str, weakness: str | None) -> None:
    assert sec.password_weakness(value) == weakness


@pytest.mark.parametrize(
    ("value", "kind", "placeholder"),
    [
        ("${DB_PASSWORD}", "Secret Keyword", True),
        ("pw-${GOLIVE_API_TOKEN}", "Secret Keyword", True),
        ("{{ vault_token }}", "Secret Keyword", True),
        ("<your-password>", "Secret Keyword", True),
        ("password is ***", "Secret Keyword", True),
        ("ask the on-call engineer", "Secret Keyword", True),
        ("FAIL", "Secret Keyword", True),
        ("qwertyuiopasdfghjklzxcvbnm", "Base64 High Entropy String", True),
        ("AKIAIOSFODNN7EXAMPLE", "AWS Access Key", True),
        ("changeme", "Secret Keyword", True),
        ("Tr0ub4dor&3-horse", "Secret Keyword", False),
        ("4f9c2a7e1b3d5f60a8c4e2b7d9f1a3c5", "Hex High Entropy String", False),
    ],
)
def test_placeholder_values_are_not_secrets(value: str, kind: str, placeholder: bool) -> None:
    assert sec.placeholder_value(value, kind) is placeholder


# ---------------------------------------------------------------------------------------------
# security.secrets_scan


def test_secrets_scan_passes_on_docs_templates_and_examples(tmp_path: Path) -> None:
    root = materialise("secrets_pass", tmp_path / "tree")
    r = run("security.secrets_scan", targets=project(root))
    assert r.status is Status.PASS, r.summary
    assert r.summary.startswith("no secrets found in 5 files")
    assert r.evidence["findings"] == []


def test_secrets_scan_finds_every_planted_secret_without_showing_it(tmp_path: Path) -> None:
    values = planted_values()
    root = materialise("secrets_pass", tmp_path / "tree")
    materialise("secrets_fail", root, values)
    r = run("security.secrets_scan", targets=project(root))
    assert r.status is Status.FAIL
    found = {(f["file"], f["line"]): f["type"] for f in r.evidence["findings"]}
    assert "AWS Access Key" in found[("app/settings.py", 4)]
    assert "AWS Access Key" in found[("app/settings.py", 5)]
    assert "Private Key" in found[("keys/deploy.key", 1)]
    assert "Secret Keyword" in found[("config/.env", 3)]
    assert ("app/client.py", 6) in found
    assert {f for f, _ in found} == {
        "app/settings.py",
        "keys/deploy.key",
        "config/.env",
        "app/client.py",
    }, "docs, templates and examples stay quiet"
    assert r.summary.startswith("5 possible secret(s) in 4 file(s), e.g. app/client.py:6")
    assert {(f.path, f.line) for f in r.findings} == set(found)
    text = dump(r)
    for key in ("AWS_KEY_ID", "AWS_SECRET", "DB_PASSWORD", "API_TOKEN"):
        assert values[key] not in text, key
    assert "BEGIN RSA PRIVATE KEY-----\nMII" not in text


def test_secrets_scan_honours_a_detect_secrets_baseline_and_excludes(tmp_path: Path) -> None:
    values = planted_values()
    root = materialise("secrets_fail", tmp_path / "tree", values)
    baseline = subprocess.run(
        [sys.executable, "-m", "detect_secrets", "scan", "--all-files"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    data = json.loads(baseline)
    # a reviewer marked the key file as a real secret: it must stay reported
    for entry in data["results"]["keys/deploy.key"]:
        entry["is_secret"] = True
    (root / ".secrets.baseline").write_text(json.dumps(data))
    r = run(
        "security.secrets_scan", targets=project(root), params={"baseline": ".secrets.baseline"}
    )
    assert r.status is Status.FAIL
    assert [f["file"] for f in r.evidence["findings"]] == ["keys/deploy.key"]
    assert r.evidence["known_in_baseline"] >= 4
    assert r.evidence["files_skipped"] == {"baseline file": 1}

    r = run(
        "security.secrets_scan",
        targets=project(root),
        params={"baseline": ".secrets.baseline", "exclude": ["keys/*"]},
    )
    assert r.status is Status.PASS, r.summary
    assert "known in the baseline" in r.summary
    assert r.evidence["files_skipped"]["excluded by pattern"] == 1


def test_secrets_scan_treats_the_deployment_env_file_as_the_secret_store(tmp_path: Path) -> None:
    root = materialise(
        "compose_pass",
        tmp_path / "tree",
        {
            "DB_PASSWORD": "Pw" + secrets.token_urlsafe(18),
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        },
    )
    r = run("security.secrets_scan", targets=project(root))
    assert r.status is Status.PASS, r.summary
    assert r.evidence["files_skipped"] == {"secret files (expected to hold secrets)": 1}
    r = run("security.secrets_scan", targets=project(root), params={"secret_files": []})
    assert r.status is Status.FAIL
    assert [f["file"] for f in r.evidence["findings"]] == [".env", ".env"]


def test_secrets_scan_reports_a_missing_baseline(tmp_path: Path) -> None:
    root = materialise("secrets_pass", tmp_path / "tree")
    r = run("security.secrets_scan", targets=project(root), params={"baseline": "nope.json"})
    assert r.status is Status.ERROR
    assert r.summary == "the detect-secrets baseline nope.json does not exist"


# ---------------------------------------------------------------------------------------------
# compose-based checks on real trees


@pytest.fixture
def compose_fail(tmp_path: Path) -> tuple[Path, str]:
    pw = "pw" + secrets.token_hex(12)
    return materialise("compose_fail", tmp_path / "fail", {"DB_PASSWORD": pw}), pw


@pytest.fixture
def compose_pass(tmp_path: Path) -> tuple[Path, str]:
    jwt = secrets.token_urlsafe(48)
    values = {"DB_PASSWORD": "pw" + secrets.token_hex(12), "JWT_SECRET_KEY": jwt}
    return materialise("compose_pass", tmp_path / "pass", values), jwt


def test_compose_plaintext_secrets(
    compose_fail: tuple[Path, str], compose_pass: tuple[Path, str]
) -> None:
    root, pw = compose_fail
    r = run("security.compose_plaintext_secrets", targets=project(root))
    assert r.status is Status.FAIL
    rows = {(p["service"], p["variable"], p["line"]): p["problem"] for p in r.evidence["plaintext"]}
    assert rows == {
        ("postgres", "environment.POSTGRES_PASSWORD", 14): "a plaintext value",
        ("api", "environment.DATABASE_URL", 3): "a plaintext password in a URL",
        ("api", "environment.JWT_SECRET_KEY", 4): "a plaintext default (${VAR:-...}), "
        "a weak one (a well-known default or placeholder)",
    }
    assert r.summary == (
        "3 plaintext secret(s) in compose files (1 of them weak), e.g. api "
        "environment.JWT_SECRET_KEY at docker-compose.yml:4 holds a plaintext default "
        "(${VAR:-...}), a weak one (a well-known default or placeholder)"
    )
    assert {(f.path, f.line) for f in r.findings} == {("docker-compose.yml", n) for n in (3, 4, 14)}
    assert pw not in dump(r) and "dev-secret-key-change-in-production" not in dump(r)
    assert "Compose secrets" in r.remediation

    r = run("security.compose_plaintext_secrets", targets=project(compose_pass[0]))
    assert r.status is Status.PASS, r.summary


def test_exposed_ports_in_compose_files(
    compose_fail: tuple[Path, str], compose_pass: tuple[Path, str]
) -> None:
    r = run("security.exposed_ports", targets=project(compose_fail[0]))
    assert r.status is Status.FAIL
    assert r.summary == ("postgres publishes 0.0.0.0:5432->5432/tcp (docker-compose.yml) (+2 more)")
    exposed = {
        (x["service"], x["published"])
        for x in r.evidence["published_ports"]
        if x["verdict"] == "exposed"
    }
    assert exposed == {
        ("postgres", "0.0.0.0:5432->5432/tcp"),
        ("redis", "0.0.0.0:<random>->6379/tcp"),
    }
    r = run("security.exposed_ports", targets=project(compose_pass[0]))
    assert r.status is Status.PASS, r.summary
    assert r.evidence["published_ports"][0]["published"] == "127.0.0.1:5432->5432/tcp"


def test_exposed_ports_fails_on_the_host_network(compose_pass: tuple[Path, str]) -> None:
    root = compose_pass[0]
    compose = root / "docker-compose.yml"
    compose.write_text(
        compose.read_text().replace(
            "    image: ordinaut-orchestrator:1.0.0\n",
            "    image: ordinaut-orchestrator:1.0.0\n    network_mode: host\n",
        )
    )
    r = run("security.exposed_ports", targets=project(root))
    assert r.status is Status.FAIL
    assert r.summary == "api uses network_mode: host (docker-compose.yml)"


def test_jwt_secret_from_compose_and_env_file(
    compose_fail: tuple[Path, str], compose_pass: tuple[Path, str]
) -> None:
    r = run("security.jwt_secret", targets=project(compose_fail[0]))
    assert r.status is Status.FAIL
    assert r.summary == "JWT_SECRET_KEY is a well-known default value (compose:api)"

    root, jwt = compose_pass
    r = run("security.jwt_secret", targets=project(root))
    assert r.status is Status.PASS, r.summary
    assert r.evidence["sources"] == [
        {
            "source": "compose:api",
            "set": True,
            "length": 64,
            "entropy_bits": r.evidence["sources"][0]["entropy_bits"],
            "verdict": "strong",
        }
    ]
    assert jwt not in dump(r)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Xk9-2mQ_vL7pR4", "JWT_SECRET_KEY is 14 characters long, shorter than the required 32"),
        ("change-me-change-me-change-me-change-me", "looks like a placeholder"),
        ("a" * 40, "is a repeated or sequential pattern"),
        (
            None,
            "JWT_SECRET_KEY cannot be resolved (docker-compose.yml: JWT_SECRET_KEY must be set)",
        ),
    ],
)
def test_jwt_secret_fails_on_weak_or_missing_keys(
    compose_pass: tuple[Path, str], value: str | None, expected: str
) -> None:
    root, jwt = compose_pass
    env = root / ".env"
    text = env.read_text()
    env.write_text(
        text.replace(jwt, value)
        if value is not None
        else "\n".join(x for x in text.splitlines() if "JWT" not in x) + "\n"
    )
    r = run("security.jwt_secret", targets=project(root))
    assert r.status is Status.FAIL
    assert expected in r.summary
    assert r.summary.endswith("(compose:api)")
    if value:
        assert value not in dump(r)


def test_jwt_expiry_from_compose(
    compose_fail: tuple[Path, str], compose_pass: tuple[Path, str]
) -> None:
    r = run("security.jwt_expiry", targets=project(compose_fail[0]))
    assert r.status is Status.FAIL
    assert r.summary == (
        "access tokens live too long: JWT_ACCESS_TOKEN_EXPIRE_MINUTES is 1440 "
        "minutes, more than the allowed 60 (compose:api)"
    )
    r = run("security.jwt_expiry", targets=project(compose_pass[0]))
    assert r.status is Status.PASS, r.summary
    assert r.summary == "access tokens live at most 30 minutes (limit 60)"
    assert r.measurements == {"token_lifetime_minutes": 30.0}


def test_rate_limit_config_from_compose(
    compose_fail: tuple[Path, str], compose_pass: tuple[Path, str]
) -> None:
    r = run("security.rate_limit_config", targets=project(compose_fail[0]))
    assert r.status is Status.FAIL
    assert r.summary == (
        "rate limiting is disabled: RATE_LIMIT_ENABLED=false (compose:api) (+2 more)"
    )
    r = run("security.rate_limit_config", targets=project(compose_pass[0]))
    assert r.status is Status.PASS, r.summary
    assert r.summary == (
        "rate limiting is enabled with MAX_REQUESTS_PER_MINUTE=600, "
        "MAX_REQUESTS_PER_HOUR=20000, MAX_REQUEST_SIZE=1048576"
    )
    r = run(
        "security.rate_limit_config",
        targets=project(compose_pass[0]),
        params={"max_per_minute": 100},
    )
    assert r.status is Status.FAIL
    assert r.summary == "MAX_REQUESTS_PER_MINUTE=600 is above the allowed 100 (compose:api)"


# ---------------------------------------------------------------------------------------------
# security.file_permissions on a real tree


def test_file_permissions(compose_pass: tuple[Path, str], tmp_path: Path) -> None:
    root = compose_pass[0]
    (root / "app.py").write_text("print('hi')\n")
    (root / "server.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    (root / "server.pem").chmod(0o644)  # a public certificate may be readable
    os.chmod(root, 0o755)
    params = {"extra_paths": []}
    r = run("security.file_permissions", targets=project(root), params=params)
    assert r.status is Status.PASS, r.summary
    assert r.evidence["files_checked"] == 3

    (root / "docker-compose.yml").chmod(0o666)
    (root / ".env").chmod(0o644)
    scripts = root / "scripts"
    scripts.mkdir()
    scripts.chmod(0o777)
    r = run("security.file_permissions", targets=project(root), params=params)
    assert r.status is Status.FAIL
    problems = {(p["path"], p["mode"]): p["problem"] for p in r.evidence["problems"]}
    assert problems == {
        ("scripts", "0777"): "directory is world-writable without the sticky bit: anyone can "
        "replace the files in it",
        ("docker-compose.yml", "0666"): "world-writable: anyone can change what runs",
        (".env", "0644"): "secret file readable by every local user",
    }
    assert {f.path for f in r.findings} == {"scripts", "docker-compose.yml", ".env"}
    scripts.chmod(0o1777)  # sticky, like /tmp: others cannot replace files they do not own
    (root / "docker-compose.yml").chmod(0o644)
    (root / ".env").chmod(0o600)
    r = run("security.file_permissions", targets=project(root), params=params)
    assert r.status is Status.PASS, r.summary


# ---------------------------------------------------------------------------------------------
# the reference stack: healthy state


@pytest.mark.integration
@pytest.mark.parametrize(
    "check_id",
    [
        "security.secrets_scan",
        "security.jwt_secret",
        "security.jwt_expiry",
        "security.rate_limit_config",
        "security.auth_required",
        "security.file_permissions",
        "security.db_roles",
        "security.db_privileges",
        "security.exposed_ports",
        "security.compose_plaintext_secrets",
    ],
)
def test_the_reference_stack_passes(stack: Stack, check_id: str) -> None:
    r = run(
        check_id,
        targets=stack_targets(stack),
        params=({"extra_paths": []} if check_id == "security.file_permissions" else {}),
    )
    assert r.status is Status.PASS, f"{r.summary} {r.evidence}"
    assert stack.secrets["jwt_secret_key"] not in dump(r)
    assert stack.secrets["postgres_app_password"] not in dump(r)


@pytest.mark.integration
def test_jwt_sources_include_the_running_api_container(stack_containers: Stack) -> None:
    r = run("security.jwt_secret", targets=stack_targets(stack_containers))
    assert r.status is Status.PASS, r.summary
    assert [s["source"] for s in r.evidence["sources"]] == [
        "compose:api",
        "container:ordinaut_api_1",
    ]
    r = run("security.jwt_expiry", targets=stack_targets(stack_containers))
    assert [s["source"] for s in r.evidence["sources"]] == [
        "compose:api",
        "container:ordinaut_api_1",
        "token issued by the API",
    ]
    assert r.evidence["sources"][-1]["minutes"] == 60.0
    assert r.evidence["sources"][-1]["note"] == "from the token's exp and iat claims"


@pytest.mark.integration
def test_container_hardening_on_the_reference_stack(stack_containers: Stack) -> None:
    stack = stack_containers
    r = run("security.container_hardening", targets=stack_targets(stack))
    # the demo is the hardened variant: every service has a read-only root filesystem
    assert r.status is Status.PASS, r.summary
    assert r.summary == (
        "9 containers run unprivileged, as non-root, with no-new-privileges "
        "and a read-only root filesystem"
    )
    assert all(c["problems"] == c["warnings"] == "" for c in r.evidence["containers"])


@pytest.mark.integration
def test_container_hardening_warns_on_a_writable_root_filesystem(stack_containers: Stack) -> None:
    """A container that is hardened in every other way but keeps a writable root."""
    stack = stack_containers
    project_name = "golive-sec-rootfs"
    targets = stack_targets(
        stack, docker={"base_url": stack.docker_host, "compose_project": project_name}
    )
    with (
        compose_container(
            stack, project_name, "cache", "--user", "999:999", "--security-opt", "no-new-privileges"
        ) as name,
        compose_container(
            stack,
            project_name,
            "api",
            "--user",
            "10001:10001",
            "--read-only",
            "--security-opt",
            "no-new-privileges",
        ),
    ):
        r = run("security.container_hardening", targets=targets)
        allowed = run(
            "security.container_hardening",
            targets=targets,
            params={"writable_rootfs_ok": ["cache"]},
        )
    assert r.status is Status.WARN, r.summary
    assert r.summary == (
        f"2 containers are hardened, but 1 have a writable root filesystem (e.g. {name})"
    )
    rows = {c["service"]: c for c in r.evidence["containers"]}
    assert rows["cache"]["warnings"] == "root filesystem is writable (read_only: false)"
    assert rows["api"]["warnings"] == ""
    assert allowed.status is Status.PASS, allowed.summary


# ---------------------------------------------------------------------------------------------
# the reference stack: failing states built for real


@pytest.mark.integration
def test_db_roles_fails_when_the_app_role_is_superuser(stack: Stack) -> None:
    from demo import faults

    with faults.superuser_app_role(stack):
        r = run("security.db_roles", targets=stack_targets(stack))
    assert r.status is Status.FAIL
    assert r.summary == (
        "the application role orchestrator has SUPERUSER: a compromised app "
        "would own the whole database server"
    )
    assert {"role": "orchestrator", "attributes": "SUPERUSER", "is_app_role": True} in (
        r.evidence["privileged_login_roles"]
    )
    r = run("security.db_roles", targets=stack_targets(stack))
    assert r.status is Status.PASS, r.summary


@pytest.mark.integration
def test_db_roles_fails_when_the_app_role_can_set_role_to_an_admin(stack: Stack) -> None:
    admin_sql(
        stack,
        "CREATE ROLE golive_test_admins NOLOGIN CREATEROLE",
        "GRANT golive_test_admins TO orchestrator",
    )
    try:
        r = run("security.db_roles", targets=stack_targets(stack))
    finally:
        admin_sql(
            stack, "REVOKE golive_test_admins FROM orchestrator", "DROP ROLE golive_test_admins"
        )
    assert r.status is Status.FAIL
    assert r.summary == (
        "the application role orchestrator is a member of golive_test_admins "
        "(CREATEROLE), so it can take over that role's powers"
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    ("grant", "revoke", "status", "summary"),
    [
        (
            "GRANT CREATE ON SCHEMA public TO PUBLIC",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            Status.FAIL,
            "PUBLIC may CREATE objects in schema public: any role that can log in "
            "can plant tables or functions the app will use",
        ),
        (
            "GRANT SELECT ON task TO PUBLIC",
            "REVOKE SELECT ON task FROM PUBLIC",
            Status.FAIL,
            "1 table(s)/sequence(s) are granted to PUBLIC, e.g. public.task",
        ),
        (
            "ALTER DEFAULT PRIVILEGES FOR ROLE orchestrator GRANT SELECT ON TABLES TO PUBLIC",
            "ALTER DEFAULT PRIVILEGES FOR ROLE orchestrator REVOKE SELECT ON TABLES FROM PUBLIC",
            Status.FAIL,
            "default privileges of orchestrator grant SELECT to PUBLIC on every new object",
        ),
        (
            "GRANT CONNECT ON DATABASE orchestrator TO PUBLIC",
            "REVOKE CONNECT ON DATABASE orchestrator FROM PUBLIC",
            Status.WARN,
            "PUBLIC may CONNECT on database orchestrator",
        ),
        (
            "CREATE ROLE golive_test_reader NOLOGIN; GRANT SELECT ON agent TO golive_test_reader",
            "REVOKE SELECT ON agent FROM golive_test_reader; DROP ROLE golive_test_reader",
            Status.WARN,
            "objects are granted to role(s) not in expected_grantees: golive_test_reader",
        ),
    ],
)
def test_db_privileges_fail_states(
    stack: Stack, grant: str, revoke: str, status: Status, summary: str
) -> None:
    admin_sql(stack, *grant.split("; "))
    try:
        r = run("security.db_privileges", targets=stack_targets(stack))
    finally:
        admin_sql(stack, *revoke.split("; "))
    assert r.status is status
    assert r.summary == summary
    assert run("security.db_privileges", targets=stack_targets(stack)).status is Status.PASS


@pytest.mark.integration
def test_container_hardening_fails_on_a_container_without_no_new_privileges(
    stack_containers: Stack,
) -> None:
    from demo import faults

    stack = stack_containers
    with faults.container_without_no_new_privileges(stack) as name:
        r = run("security.container_hardening", targets=stack_targets(stack))
    assert r.status is Status.FAIL
    assert r.summary == f"{name}: no-new-privileges is not set (+1 more)"
    (rogue,) = [c for c in r.evidence["containers"] if c["container"] == name]
    assert rogue["problems"] == "no-new-privileges is not set; runs as root (no user set)"


@pytest.mark.integration
def test_container_hardening_names_privileged_root_and_socket_mounts(
    stack_containers: Stack, tmp_path: Path
) -> None:
    stack = stack_containers
    sock = tmp_path / "docker.sock"
    sock.touch()
    project_name = "golive-sec-hardening"
    with (
        compose_container(
            stack,
            project_name,
            "api",
            "--privileged",
            "-v",
            f"{sock}:/var/run/docker.sock",
            "--security-opt",
            "no-new-privileges",
        ),
        compose_container(
            stack,
            project_name,
            "worker",
            "--cap-add",
            "NET_ADMIN",
            "--user",
            "10001:10001",
            "--read-only",
            "--security-opt",
            "no-new-privileges",
        ),
    ):
        r = run(
            "security.container_hardening",
            targets=stack_targets(
                stack, docker={"base_url": stack.docker_host, "compose_project": project_name}
            ),
        )
    assert r.status is Status.FAIL
    rows = {c["service"]: c for c in r.evidence["containers"]}
    assert rows["api"]["problems"].split("; ") == [
        "runs privileged",
        "runs as root (no user set)",
        f"mounts the container engine socket {sock}",
    ]
    assert rows["api"]["warnings"] == "root filesystem is writable (read_only: false)"
    assert rows["worker"]["problems"] == "adds capabilities NET_ADMIN"
    assert rows["worker"]["warnings"] == ""


@pytest.mark.integration
def test_exposed_ports_fails_on_a_live_container_publishing_redis(stack_containers: Stack) -> None:
    from demo.stack import procs

    stack = stack_containers
    port = procs.free_port()
    with compose_container(
        stack, stack.compose_project or "ordinaut", "redis", "-p", f"0.0.0.0:{port}:6379"
    ) as name:
        r = run("security.exposed_ports", targets=stack_targets(stack))
    assert r.status is Status.FAIL
    assert r.summary == f"redis publishes 0.0.0.0:{port}->6379/tcp (container {name})"
    r = run("security.exposed_ports", targets=stack_targets(stack))
    assert r.status is Status.PASS, r.summary


@pytest.mark.integration
def test_jwt_secret_fails_on_a_weak_key_in_the_running_container(
    stack_containers: Stack,
) -> None:
    stack = stack_containers
    with compose_container(
        stack,
        "golive-sec-jwt",
        "api",
        "--user",
        "1000",
        "-e",
        "JWT_SECRET_KEY=changeme",
        "-e",
        "JWT_ACCESS_TOKEN_EXPIRE_MINUTES=720",
    ):
        targets = stack_targets(
            stack, docker={"base_url": stack.docker_host, "compose_project": "golive-sec-jwt"}
        )
        r = run("security.jwt_secret", targets=targets)
        e = run("security.jwt_expiry", targets=targets, params={"issue_token": False})
    assert r.status is Status.FAIL
    assert r.summary.startswith(
        "JWT_SECRET_KEY is a well-known default value (container:golive-sec-jwt_api_"
    )
    assert [s["verdict"] for s in r.evidence["sources"]] == [
        "strong",
        "is a well-known default value",
    ]
    assert e.status is Status.FAIL
    assert "JWT_ACCESS_TOKEN_EXPIRE_MINUTES is 720 minutes" in e.summary


@pytest.mark.integration
def test_file_permissions_fail_on_the_stack_project(stack: Stack) -> None:
    from demo import faults

    compose = stack.project_root / "ops" / "docker-compose.yml"
    with faults.world_writable(compose):
        r = run(
            "security.file_permissions", targets=stack_targets(stack), params={"extra_paths": []}
        )
    assert r.status is Status.FAIL
    assert r.summary.startswith("1 permission problem(s), e.g. ops/docker-compose.yml (mode 06")
    assert r.summary.endswith("): world-writable: anyone can change what runs")


@pytest.mark.integration
def test_rate_limit_enforced_finds_the_limited_endpoint_and_reads_recovery(
    stack: Stack, fresh_limits: None
) -> None:
    """No path given: the endpoint comes from the API's OpenAPI document (the first GET
    without parameters whose answer carries rate-limit headers); recovery is read from the
    429, not waited for."""
    r = run("security.rate_limit_enforced", targets=stack_targets(stack))
    assert r.status is Status.PASS, r.summary
    assert r.summary.startswith("GET /tools answered 429 after ")
    assert "(Retry-After header)" in r.summary
    assert r.evidence["endpoint"]["endpoint"] == "GET /tools"
    assert r.evidence["endpoint"]["found_by"].startswith("GET /openapi.json")
    assert r.evidence["limit_per_minute"] == 600
    assert r.evidence["limit_source"] == "compose:api"
    first = r.evidence["first_429"]
    assert first["announced_limit"] == 600
    # about the announced limit: the candidates' own GETs count too, and with 8 requests
    # in flight a 429 can arrive before 200s admitted just ahead of it
    assert 570 <= first["after_requests"] <= 610, first
    assert first["headers"]["x-ratelimit-remaining"] == "0"
    rec = r.evidence["recovery"]
    assert rec["source"] == "Retry-After header" and 0 < rec["lifts_in_s"] <= 61
    assert rec["waited"] is False
    # health endpoints are exempt in the demo: they are candidates, but not burst
    candidates = {c["endpoint"]: c for c in r.evidence["candidates"]}
    assert candidates["GET /health"]["limit_headers"] is None
    assert [b["endpoint"] for b in r.evidence["bursts"]] == ["GET /tools"]


@pytest.mark.integration
@pytest.mark.slow
def test_rate_limit_enforced_waits_until_the_throttle_lifts(
    stack: Stack, fresh_limits: None, tmp_path: Path
) -> None:
    # A small limit keeps the burst short. The demo's sliding window still throttles until
    # the burst has aged out: the rest of this window, and part of the next one; a 10 s
    # window keeps that wait short (the check does not know the window: it reads the answer)
    with extra_api(
        stack, tmp_path, MAX_REQUESTS_PER_MINUTE="50", RATE_LIMIT_WINDOW_SECONDS="10"
    ) as url:
        started = time.monotonic()
        r = run(
            "security.rate_limit_enforced",
            targets=stack_targets(stack, api={"url": url}),
            params={"limit": 50, "wait_for_reset": True},
            timeout=100,
        )
        elapsed = time.monotonic() - started
        from demo.stack import procs

        # golive's address is served again (each request golive sent while throttled still
        # counts in the demo's window, so one just after the lift may tip it over briefly)
        procs.wait_until(lambda: procs.http_ok(f"{url}/tools"), 30, "the throttle to lift")
    assert r.status is Status.PASS, r.summary
    assert r.summary.startswith("GET /tools answered 429 after ")
    lifted = r.evidence["recovery"]["throttle_lifted_after_s"]
    assert r.evidence["recovery"]["waited"] is True
    assert lifted is not None and lifted > 0
    assert elapsed >= lifted


@pytest.mark.integration
def test_rate_limit_configured_but_not_enforced(
    stack: Stack, fresh_limits: None, tmp_path: Path
) -> None:
    with extra_api(stack, tmp_path, RATE_LIMIT_ENABLED="false") as url:
        r = run(
            "security.rate_limit_enforced",
            targets=stack_targets(stack, api={"url": url, "token": stack.api_token}),
            params={"max_endpoints": 2},
        )
    assert r.status is Status.FAIL, r.summary
    # no answer carries rate-limit headers: the two cheapest GETs are burst in turn
    assert re.fullmatch(
        r"rate limit not enforced: 1000 requests to GET /tools, GET /agents/ in [\d.]+s all "
        r"got through without a 429, though it is configured \(600/min, compose:api\)",
        r.summary,
    )
    bursts = r.evidence["bursts"]
    assert bursts[0]["statuses"] == {"200": 610}
    assert bursts[1]["statuses"] == {"200": 390}  # what was left of max_requests


@pytest.mark.integration
def test_rate_limit_enforced_errors_without_an_endpoint_to_burst(stack: Stack) -> None:
    """No OpenAPI document and no `path`: ERROR naming what is missing, nothing sent."""
    r = run(
        "security.rate_limit_enforced",
        targets=stack_targets(
            stack, api={**stack_targets(stack)["api"], "openapi_path": "/no-such-openapi.json"}
        ),
    )
    assert r.status is Status.ERROR
    assert r.summary == (
        "cannot find an endpoint to burst: the API serves no OpenAPI document: "
        "GET /no-such-openapi.json answered 404; set `path` to a cheap GET endpoint that "
        "the API rate-limits"
    )
    r = run(
        "security.rate_limit_enforced",
        targets=stack_targets(stack),
        params={"path": "/no-such-endpoint"},
    )
    assert r.status is Status.ERROR
    assert r.summary == (
        "no candidate endpoint answered 2xx to golive (GET /no-such-endpoint 404); set "
        "`path` to a cheap GET endpoint that answers 2xx"
    )


@pytest.mark.integration
def test_auth_required_fails_on_an_open_endpoint(stack: Stack) -> None:
    r = run(
        "security.auth_required",
        targets=stack_targets(stack),
        params={"endpoints": ["GET /tools", "GET /agents/"]},
    )
    assert r.status is Status.FAIL
    assert r.summary.startswith("GET /tools answered 200 to a request with no token")
    rows = [x for x in r.evidence["requests"] if x["endpoint"] == "GET /agents/"]
    assert all(x["verdict"] == "rejected" for x in rows if x["status"] is not None)


@pytest.mark.integration
def test_auth_required_errors_on_an_endpoint_the_api_does_not_serve(stack: Stack) -> None:
    r = run(
        "security.auth_required",
        targets=stack_targets(stack),
        params={"endpoints": ["POST /tasks", "GET /agents/auth/ping"]},
    )
    assert r.status is Status.ERROR
    assert r.summary == (
        "GET /agents/auth/ping is not an operation of the API's OpenAPI document "
        "(GET /openapi.json): set `endpoints` to protected operations the API serves"
    )


@pytest.mark.integration
def test_auth_required_catches_a_well_known_signing_key(stack: Stack, tmp_path: Path) -> None:
    with extra_api(stack, tmp_path, JWT_SECRET_KEY="dev-secret-key-change-in-production") as url:
        r = run(
            "security.auth_required",
            targets=stack_targets(
                stack, api={"url": url, "agent_id": stack.agent_id, "timeout": 15}
            ),
        )
    assert r.status is Status.FAIL
    assert r.summary == (
        "POST /tasks/ let the request past authentication (answered 422, not "
        "401) to a request with token signed with a well-known default key "
        "(+1 more)"
    ) or r.summary.startswith("POST /tasks/ accepted a token signed with a well-known default key")
    accepted = [x for x in r.evidence["requests"] if x["verdict"] == "accepted"]
    assert {x["endpoint"] for x in accepted} == {"POST /tasks/", "GET /agents/"}
    assert "dev-secret-key-change-in-production" not in dump(r)


@pytest.mark.integration
def test_auth_required_fails_on_server_errors(stack: Stack, tmp_path: Path) -> None:
    from demo.stack import procs

    dead = f"postgresql://orchestrator:x@127.0.0.1:{procs.free_port()}/orchestrator"
    with extra_api(stack, tmp_path, DATABASE_URL=dead) as url:
        r = run(
            "security.auth_required",
            targets=stack_targets(stack, api={"url": url, "timeout": 15}),
            params={"endpoints": ["GET /agents/"]},
        )
    assert r.status is Status.FAIL
    assert r.summary == (
        "GET /agents/ answered 503 (a server error, not 401/403) to a request "
        "with unknown agent id as token"
    )


@pytest.mark.integration
def test_jwt_expiry_measures_the_tokens_the_api_issues(stack: Stack, tmp_path: Path) -> None:
    with extra_api(stack, tmp_path, JWT_ACCESS_TOKEN_EXPIRE_MINUTES="720") as url:
        r = run("security.jwt_expiry", targets={"api": {"url": url, "agent_id": stack.agent_id}})
    assert r.status is Status.FAIL
    assert r.summary == ("the API issues tokens that live 720 minutes, more than the allowed 60")


@pytest.mark.integration
def test_jwt_expiry_fails_on_a_configured_token_without_expiry(stack: Stack) -> None:
    forever = sec.hs256_token({"sub": stack.agent_id, "iat": int(time.time())}, "k" * 40)
    r = run("security.jwt_expiry", targets={"api": {"url": stack.api_url, "token": forever}})
    assert r.status is Status.FAIL
    assert r.summary == "the API issues tokens without an expiry (no exp claim): they never expire"
    assert r.evidence["sources"] == [
        {
            "source": "configured API token",
            "minutes": None,
            "verdict": "too long",
            "note": "the token carries no exp claim: it never expires",
        }
    ]
    assert forever not in dump(r)


# ---------------------------------------------------------------------------------------------
# the whole section as a user runs it


def _golive(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "DOCKER_"))}
    environ.update(env)
    environ["PYTHONPATH"] = str(REPO)
    environ["NO_COLOR"] = "1"
    environ["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "golive", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.integration
@pytest.mark.slow
def test_golive_run_section_security_passes_on_the_reference_stack(
    stack_containers: Stack, tmp_path: Path, fresh_limits: None
) -> None:
    """The shipped checklist, unchanged, against the demo stack: GO, exit 0.

    rate_limit_enforced finds GET /tools in the OpenAPI document and bursts it."""
    stack = stack_containers
    proc = _golive(
        [
            "run",
            "-c",
            str(REPO / "golive.yaml"),
            "--section",
            "security",
            "-o",
            f"json:{tmp_path / 'run.json'}",
        ],
        stack.env(),
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = json.loads((tmp_path / "run.json").read_text())
    statuses = {r["id"]: r["status"] for r in run["results"]}
    assert len(statuses) == 12
    assert {k: v for k, v in statuses.items() if v != "PASS"} == {}
    assert run["decision"]["verdict"] == "GO"
    enforced = next(r for r in run["results"] if r["id"] == "security.rate_limit_enforced")
    assert enforced["evidence"]["endpoint"]["endpoint"] == "GET /tools"
    assert enforced["evidence"]["recovery"]["source"] == "Retry-After header"


@pytest.mark.integration
def test_no_secret_reaches_any_output(stack: Stack, tmp_path: Path) -> None:
    """Unique canaries in the JWT key, the DSN password, the API token, the .env file, a
    compose file and the project tree: none appears on stdout, stderr or in any report."""
    import psycopg
    from psycopg import sql

    canary = {
        "jwt": "canary-jwt-" + secrets.token_hex(16),
        "dsn": "canary-dsn-" + secrets.token_hex(12),
        "token": "canary-token-" + secrets.token_hex(12),
        "env": "canary-env-" + secrets.token_hex(12),
        "compose": "canary-compose-" + secrets.token_hex(12),
        "tree": secrets.token_hex(20),
    }
    root = tmp_path / "project"
    shutil.copytree(stack.project_root, root)
    env = root / ".env"
    env.write_text(
        re.sub(
            r"^JWT_SECRET_KEY=.*$", f"JWT_SECRET_KEY={canary['jwt']}", env.read_text(), flags=re.M
        )
        + f"BILLING_API_TOKEN={canary['env']}\n"
    )
    (root / "ops" / "docker-compose.canary.yml").write_text(
        "services:\n  api:\n    environment:\n"
        f"      BILLING_PASSWORD: {canary['compose']}\n"
        "      BILLING_API_TOKEN: ${BILLING_API_TOKEN}\n"
    )
    (root / "billing.py").write_text(f'api_token = "{canary["tree"]}"\n')
    role = "golive_canary_" + secrets.token_hex(3)
    with psycopg.connect(admin_app_dsn(stack), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(canary["dsn"])
            )
        )
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE orchestrator TO {}").format(sql.Identifier(role))
        )
    dsn = stack.database_dsn.replace(
        stack.database_dsn.split("://", 1)[1].split("@", 1)[0], f"{role}:{canary['dsn']}"
    )
    targets = stack_targets(stack, database={"dsn": dsn})
    targets["api"]["token"] = canary["token"]
    targets["project"] = {
        "root": str(root),
        "compose_files": [
            "ops/docker-compose.yml",
            "ops/docker-compose.prod.yml",
            "ops/docker-compose.observability.yml",
            "ops/docker-compose.canary.yml",
        ],
    }
    from golive.reports import formats

    from golive.testing import write_config

    config = write_config(
        {
            "targets": targets,
            "sections": {
                "security": {
                    "checks": [
                        {"id": i}
                        for i in (
                            "security.secrets_scan",
                            "security.jwt_secret",
                            "security.jwt_expiry",
                            "security.rate_limit_config",
                            "security.auth_required",
                            "security.file_permissions",
                            "security.db_roles",
                            "security.db_privileges",
                            "security.container_hardening",
                            "security.exposed_ports",
                            "security.compose_plaintext_secrets",
                        )
                    ]
                }
            },
        },
        str(tmp_path),
    )
    outputs = [f"{fmt}:{tmp_path / ('out.' + fmt)}" for fmt in formats()]
    try:
        proc = _golive(
            [
                "run",
                "-c",
                config,
                "--section",
                "security",
                "--verbose",
                *[a for o in outputs for a in ("-o", o)],
            ],
            {},
            tmp_path,
        )
    finally:
        with psycopg.connect(admin_app_dsn(stack), autocommit=True) as conn:
            conn.execute(
                sql.SQL("REVOKE CONNECT ON DATABASE orchestrator FROM {}").format(
                    sql.Identifier(role)
                )
            )
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert proc.returncode == 1, proc.stderr[-3000:]  # NO-GO: the canaries are findings
    texts = {"stdout": proc.stdout, "stderr": proc.stderr}
    for o in outputs:
        path = Path(o.split(":", 1)[1])
        assert path.exists(), o
        texts[path.name] = path.read_bytes().decode("utf-8", errors="replace")
    leaks = [
        (where, name)
        for where, text in texts.items()
        for name, value in canary.items()
        if value in text
    ]
    assert leaks == []
    run = json.loads(texts["out.json"])
    status = {r["id"]: r["status"] for r in run["results"]}
    assert status["security.secrets_scan"] == "FAIL"  # found the planted token
    assert status["security.compose_plaintext_secrets"] == "FAIL"  # found the literal
    assert status["security.db_roles"] == "PASS"  # connected with the canary password
    assert status["security.jwt_secret"] in ("PASS", "WARN")
