"""golive.yaml: the configuration models and how files become a validated `Config`.

Loading reads one or more files (a base plus overlays, deep-merged in order), expands
`${VAR}` references from the environment and `--env-file`, validates the result with
pydantic, and reports every problem at once as ``FILE:LINE:COL: key.path: message``.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from golive.errors import ConfigError, Problem
from golive.interpolate import InterpolationError, interpolate, parse_env_file
from golive.models import Severity
from golive.redact import looks_secret
from golive.yamlpos import Pos, PosDict, PosList, load, read_text

DEFAULT_CONFIG = "golive.yaml"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> Any:
    """Accept seconds as a number or a string such as '500ms', '5s', '10m', '1h', '2d'."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 5, '5s', '10m' or '1h'")
    if isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration (use e.g. 5, '5s', '10m', '1h')")
        return float(m.group(1)) * _UNIT[m.group(2)]
    return value


def duration_option(option: str, value: str) -> float:
    """A command-line duration (`--wait 5m`): positive seconds, else a UsageError naming it."""
    from golive.errors import UsageError

    try:
        parsed = parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
    if not isinstance(parsed, (int, float)) or parsed <= 0:
        raise UsageError(f"{option} {value!r} must be a positive duration such as 90s, 10m or 1h")
    return float(parsed)


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=7 * 86400)]


class Model(BaseModel):
    """Base of every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


class HttpTarget(Model):
    """An HTTP service golive talks to."""

    url: str
    timeout: Duration = 5.0
    verify_tls: bool | str = True  # False, True or the path of a CA bundle
    headers: dict[str, str] = {}

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        return _http_url(v)


class ApiTarget(HttpTarget):
    """The orchestrator API."""

    url: str = "http://localhost:8080"
    token: str | None = None
    agent_id: str | None = None
    health_path: str = "/health"
    # where the API serves its OpenAPI document: probes take their operations and request
    # bodies from it (null: the API has none; probes then use their parameters as given)
    openapi_path: str | None = "/openapi.json"


class DatabaseTarget(Model):
    """PostgreSQL; sessions are read-only with statement and lock timeouts."""

    dsn: str = "postgresql://orchestrator@localhost:5432/orchestrator"
    connect_timeout: Duration = 5.0
    statement_timeout: Duration = 5.0
    lock_timeout: Duration = 1.0


class RedisTarget(Model):
    """Redis."""

    url: str = "redis://localhost:6379/0"
    timeout: Duration = 5.0


class DockerTarget(Model):
    """The container engine (Docker Engine API, or podman's compatible socket)."""

    base_url: str | None = None  # default: $DOCKER_HOST, else unix:///var/run/docker.sock
    # the engine on one of targets.hosts: its socket forwarded over that host's SSH connection
    # (the host's pinned keys and identity); `socket` is the engine's socket on that host
    host: str | None = None
    socket: str = "/var/run/docker.sock"
    compose_project: str | None = None  # find containers by com.docker.compose.project
    containers: dict[str, str] = {}  # service -> explicit container name
    timeout: Duration = 10.0


class PrometheusTarget(HttpTarget):
    """Prometheus."""

    url: str = "http://localhost:9090"


class AlertmanagerTarget(HttpTarget):
    """Alertmanager (v2 API)."""

    url: str = "http://localhost:9093"


class GrafanaTarget(HttpTarget):
    """Grafana."""

    url: str = "http://localhost:3000"
    token: str | None = None


class ProjectTarget(Model):
    """The deployed project tree: files, compose files and env files."""

    root: str = "."
    compose_files: list[str] = [
        "ops/docker-compose.yml",
        "ops/docker-compose.prod.yml",
        "ops/docker-compose.observability.yml",
    ]
    env_files: list[str] = [".env"]


class HostConfig(Model):
    """One host that host-level checks read: the local machine, or one reached over SSH."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    ssh: str | None = None  # ssh://user@host:port; absent: the machine golive runs on
    identity_file: str | None = None  # private key; default: the SSH agent and ~/.ssh/id_*
    known_hosts: str | None = None  # pinned host keys; default: ~/.ssh/known_hosts
    accept_new: bool = False  # accept (and report) the key of a host known_hosts lacks
    roles: list[str] = []
    connect_timeout: Duration = 10.0
    project_root: str | None = None  # the deployed tree on this host; default project.root

    @field_validator("ssh")
    @classmethod
    def _ssh_url(cls, v: str | None) -> str | None:
        if v is not None:
            from golive.hosts.ssh import parse_ssh_url

            parse_ssh_url(v)
        return v


class HostInventory(Model):
    """`targets.hosts: {inventory: FILE}`: the hosts of an Ansible inventory, groups as roles."""

    inventory: str
    user: str | None = None  # when the inventory sets no ansible_user
    identity_file: str | None = None  # when the inventory sets no ansible_ssh_private_key_file
    known_hosts: str | None = None
    accept_new: bool = False
    connect_timeout: Duration = 10.0
    project_root: str | None = None


def _hosts_kind(value: Any) -> str:
    return "[inventory]" if isinstance(value, (dict, HostInventory)) else "[list]"


# a list of hosts or an inventory; the tags (dropped from error paths) keep pydantic from
# reporting why the value is not the other form
HostsSpec = Annotated[
    Annotated[list[HostConfig], Tag("[list]")] | Annotated[HostInventory, Tag("[inventory]")],
    Discriminator(_hosts_kind),
]


class Targets(Model):
    """Every target is optional; checks that need a missing one are skipped."""

    api: ApiTarget | None = None
    database: DatabaseTarget | None = None
    redis: RedisTarget | None = None
    docker: DockerTarget | None = None
    prometheus: PrometheusTarget | None = None
    alertmanager: AlertmanagerTarget | None = None
    grafana: GrafanaTarget | None = None
    project: ProjectTarget | None = None
    hosts: HostsSpec | None = None


class Defaults(Model):
    """Run-wide defaults."""

    timeout: Duration = 30.0
    deadline: Duration = 900.0
    concurrency: int = Field(4, ge=1, le=64)
    fail_on: Severity = Severity.HIGH


class WaiverConfig(Model):
    """An accepted failure, with who accepted it and until when."""

    reason: str = Field(min_length=1)
    approved_by: str = Field(min_length=1)
    expires: date


class CheckEntry(Model):
    """One checklist item: a registered check by id, or a generic check with `uses:`."""

    id: str
    uses: str | None = None
    title: str | None = None
    params: dict[str, Any] = {}
    severity: Severity | None = None
    enabled: bool = True
    tags: list[str] = []
    timeout: Duration | None = None
    remediation: str | None = None
    waiver: WaiverConfig | None = None
    hosts: list[str] | None = None  # roles or host names a host-level check runs on

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not re.match(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", v):
            raise ValueError(f"{v!r} is not a check id of the form 'section.name'")
        return v


class SectionConfig(Model):
    """A checklist section: a title and its checks, in order."""

    title: str | None = None
    checks: list[CheckEntry] = []


class GateConfig(Model):
    """An approval gate: which sections and checks it covers."""

    title: str
    sections: list[str] = []
    checks: list[str] = []


class GateSigners(Model):
    """Who may sign one gate (principals of the allowed-signers file) and how many must."""

    signers: list[str] = []
    min: int = Field(default=1, ge=1)

    @field_validator("signers")
    @classmethod
    def _named(cls, v: list[str]) -> list[str]:
        for name in v:
            if not name.strip() or any(c.isspace() for c in name):
                raise ValueError(f"{name!r} is not a principal (a name without spaces)")
        if len(set(v)) != len(v):
            raise ValueError("a principal is listed twice")
        return v


class Approvals(Model):
    """Where sign-offs are recorded, whose keys are trusted, and who may sign which gate."""

    ledger: str = "golive-approvals.jsonl"
    #: OpenSSH allowed-signers file (the format of git's gpg.ssh.allowedSignersFile).
    allowed_signers: str | None = None
    gates: dict[str, GateSigners] = {}

    @field_validator("allowed_signers")
    @classmethod
    def _signers_file(cls, v: str | None) -> str | None:
        if v is not None and not os.path.isfile(v):
            raise ValueError(f"allowed-signers file {v} does not exist")
        return v


# --- golive monitor (post-go-live watch); defaults are the production checklist's figures ---

Window = Annotated[float, BeforeValidator(parse_duration), Field(ge=0, le=30 * 86400)]
Ratio = Annotated[float, Field(ge=0, le=1)]

#: 5xx over all requests; `{window}` is replaced by `monitor.sources.error_rate_window`.
#: When its metric has no series (a renamed counter such as ord_http_requests_total), the
#: monitor derives the query from the target's own request counter (golive.monitor.errorrate);
#: no request at all gives no value (then golive's own probe errors stand in, labelled so).
DEFAULT_ERROR_RATE_QUERY = (
    '(sum(rate(http_requests_total{status=~"5.."}[{window}])) or vector(0))'
    " / sum(rate(http_requests_total[{window}]))"
)
#: The checklist's rollback procedure, sent with a ROLLBACK notice unless `rollback.auto`.
DEFAULT_ROLLBACK_PROCEDURE = [
    "Stop all services: docker-compose -f ops/docker-compose.yml down",
    "Restore the previous version from git: git checkout [previous-release-tag]",
    "Restore the database from backup if needed (see ops/DISASTER_RECOVERY.md)",
    "Start the previous version: docker-compose -f ops/docker-compose.yml up -d",
    "Verify system health and notify stakeholders",
]


class ErrorLogSource(Model):
    """Where error-log lines come from: a command's output (stdout+stderr) or a file."""

    command: str | list[str] | None = None  # e.g. "docker logs api --since 1h"; a string runs in sh
    file: str | None = None  # lines appended since the previous sample are counted
    pattern: str = "ERROR"  # regular expression a line must match
    covers: Duration = 3600.0  # the span the command's output covers (its --since)
    timeout: Duration = 30.0

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"{v!r} is not a regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _one_source(self) -> ErrorLogSource:
        if (self.command is None) == (self.file is None):
            raise ValueError("set exactly one of 'command' and 'file'")
        return self


class MonitorSources(Model):
    """What one sample measures besides the API probe, DB and Alertmanager."""

    probe_path: str | None = None  # default: targets.api.health_path
    probe_requests: int = Field(5, ge=1, le=100)
    error_rate_query: str = DEFAULT_ERROR_RATE_QUERY
    error_rate_window: Duration = 300.0
    error_log: ErrorLogSource | None = None
    critical_severities: list[str] = ["critical"]


class MonitorBaseline(Model):
    """The performance baseline a sample's probe latency (p95) is compared with."""

    path: str | None = None  # default: baseline.file, when that file exists
    check: str = "performance.api_latency"
    measurement: str | None = None  # default: "<probe path>:p95_ms", else "p95_ms"
    latency_ms: float | None = Field(None, gt=0)  # or the figure itself


class RollbackCriteria(Model):
    """Immediate rollback triggers (a manual `golive monitor trigger` is one too)."""

    api_unavailable_for: Window = 600.0
    error_rate_above: Ratio = 0.20
    error_rate_for: Window = 900.0
    performance_degraded_by: float = Field(0.50, gt=0)
    performance_degraded_for: Window = 900.0


class AttentionCriteria(Model):
    """The checklist's hourly thresholds."""

    window: Window = 3600.0
    errors_per_hour: int = Field(50, ge=0)
    firing_alerts: int = Field(5, ge=0)


class SuccessCriteria(Model):
    """No rollback: stable for `after`, fast, few errors, no critical alert."""

    after: Window = 86400.0
    performance_within: float = Field(0.10, ge=0)
    error_rate_below: Ratio = 0.01
    require_baseline: bool = True


class MonitorCriteria(Model):
    """Verdict rules, evaluated over the history."""

    rollback: RollbackCriteria = RollbackCriteria()
    attention: AttentionCriteria = AttentionCriteria()
    success: SuccessCriteria = SuccessCriteria()
    gap_factor: float = Field(1.5, gt=1, le=100)  # later than factor x interval = missed sample


class WebhookNotifier(HttpTarget):
    """A JSON POST to a URL on every verdict change."""

    timeout: Duration = 10.0


class AlertmanagerNotifier(Model):
    """An alert posted to targets.alertmanager (v2 API) on every verdict change."""

    labels: dict[str, str] = {}
    ttl: Duration = 86400.0  # endsAt of a posted alert; the next change resolves it earlier


class EmailNotifier(Model):
    """E-mail over SMTP."""

    host: str = "localhost"
    port: int = Field(25, ge=1, le=65535)
    starttls: bool = False
    ssl: bool = False  # SMTPS (implicit TLS), usually port 465
    verify_tls: bool | str = True  # False, True or the path of a CA bundle
    username: str | None = None
    password: str | None = None
    sender: str = "golive@localhost"
    to: list[str] = Field(min_length=1)
    subject_prefix: str = "[golive]"
    timeout: Duration = 20.0


class MonitorNotify(Model):
    """Where verdict changes are sent."""

    alertmanager: AlertmanagerNotifier | None = None
    webhooks: list[WebhookNotifier] = []
    email: EmailNotifier | None = None


class RollbackHook(Model):
    """What happens on ROLLBACK: run `command` once (only with `auto: true`), else notify."""

    command: str | list[str] | None = None
    auto: bool = False
    timeout: Duration = 1800.0
    procedure: list[str] = DEFAULT_ROLLBACK_PROCEDURE


class MonitorConfig(Model):
    """`golive monitor`: sampling, history, verdicts, notifications."""

    history: str = ".golive/monitor.sqlite"
    every: Duration = 3600.0
    lock_timeout: Duration = 60.0
    sources: MonitorSources = MonitorSources()
    baseline: MonitorBaseline = MonitorBaseline()
    criteria: MonitorCriteria = MonitorCriteria()
    notify: MonitorNotify = MonitorNotify()
    rollback: RollbackHook = RollbackHook()


class Tolerance(Model):
    """How much worse than the baseline a measured value may get, in percent."""

    warn_pct: float = Field(10.0, ge=0)
    fail_pct: float = Field(50.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Tolerance:
        if self.fail_pct < self.warn_pct:
            raise ValueError("fail_pct must not be below warn_pct")
        return self


class BaselineConfig(Tolerance):
    """`golive baseline save` and `golive run --baseline FILE`: file and tolerances."""

    file: str = "golive-baseline.json"  # where `golive baseline save` writes by default
    alpha: float = Field(0.01, gt=0, lt=1)  # Mann-Whitney U significance level
    metrics: dict[str, Tolerance] = {}  # "check.id:measurement" glob -> its own tolerance

    def tolerance(self, check_id: str, measurement: str) -> Tolerance:
        """The tolerance of one measured value: the first matching glob, else the default."""
        import fnmatch

        for pattern, tol in self.metrics.items():
            if fnmatch.fnmatchcase(f"{check_id}:{measurement}", pattern):
                return tol
        return self


class Config(Model):
    """A validated golive.yaml (after merging overlays and expanding variables)."""

    version: Literal[1]
    project: str = "ordinaut"
    environment: str = "production"
    targets: Targets = Targets()
    defaults: Defaults = Defaults()
    sections: dict[str, SectionConfig] = {}
    gates: dict[str, GateConfig] | None = None
    require_signoff: bool = False
    approvals: Approvals = Approvals()
    plugin_paths: list[str] = []
    outputs: list[str] = []
    monitor: MonitorConfig = MonitorConfig()
    baseline: BaselineConfig = BaselineConfig()

    _files: list[str] = PrivateAttr(default_factory=list)
    _digest: str = PrivateAttr(default="")
    _secrets: set[str] = PrivateAttr(default_factory=set)
    _positions: Any = PrivateAttr(default=None)
    _hosts: list[HostConfig] = PrivateAttr(default_factory=list)

    @property
    def hosts(self) -> list[HostConfig]:
        """The hosts host-level checks run on (inventory expanded); empty: only local."""
        return list(self._hosts)

    @property
    def files(self) -> list[str]:
        """The files this configuration was read from, in merge order."""
        return list(self._files)

    @property
    def digest(self) -> str:
        """sha256 of the files' bytes, in order: identifies the exact configuration."""
        return self._digest

    @property
    def secrets(self) -> set[str]:
        """Secret values found in the configuration (to register with the redactor)."""
        return set(self._secrets)

    def where(self, *loc: Any) -> Pos | None:
        """The file position of a key path, for errors found after validation."""
        from golive.yamlpos import position

        return position(self._positions, tuple(loc)) if self._positions is not None else None

    def problem(self, loc: tuple[Any, ...], message: str) -> Problem:
        """A located problem for a key path of this configuration."""
        pos = self.where(*loc)
        path = _dotted(loc)
        if pos is None:
            return Problem(self._files[0] if self._files else "<config>", None, None, path, message)
        return Problem(pos.file, pos.line, pos.column, path, message)

    def entries(self) -> list[tuple[str, int, CheckEntry]]:
        """Every check entry with its section name and index, in checklist order."""
        return [(s, i, e) for s, sec in self.sections.items() for i, e in enumerate(sec.checks)]


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# ---------------------------------------------------------------------------------------------
# loading


def read_env_files(paths: list[str]) -> dict[str, str]:
    """Read `--env-file` files; a missing or unreadable one is a configuration error."""
    env: dict[str, str] = {}
    problems: list[Problem] = []
    for p in paths:
        try:
            env.update(parse_env_file(Path(p).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(p, None, None, "", f"cannot read env file: {exc}"))
    if problems:
        raise ConfigError(problems)
    return env


def load_config(
    paths: list[str],
    *,
    env: dict[str, str] | None = None,
    env_files: list[str] | None = None,
) -> Config:
    """Load, merge, interpolate and validate configuration files; raise ConfigError."""
    if not paths:
        paths = [DEFAULT_CONFIG]
    environ = dict(read_env_files(env_files or []))
    environ.update(os.environ if env is None else env)  # the process environment wins
    secrets: set[str] = set()

    def expand(value: str, pos: Pos) -> str:
        try:
            result = interpolate(value, environ, strict_missing=True)
        except InterpolationError as exc:
            raise ValueError(str(exc)) from None
        for name, val in result.used.items():
            if val and looks_secret(name):
                secrets.add(val)
        return result.text

    problems: list[Problem] = []
    merged: Any = None
    digest = hashlib.sha256()
    for path in paths:
        text = read_text(path)
        digest.update(text.encode())
        data, found = load(path, text, expand)
        problems.extend(found)
        if data is None and not found:
            problems.append(Problem(path, None, None, "", "file is empty (run `golive init`)"))
            continue
        if data is not None and not isinstance(data, PosDict):
            kind = type(data).__name__
            problems.append(Problem(path, 1, 1, "", f"expected a mapping at the top, got {kind}"))
            continue
        merged = data if merged is None else merge(merged, data)
    if problems:
        raise ConfigError(problems)
    assert isinstance(merged, PosDict)
    _resolve_relative_paths(merged)
    try:
        config = Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(sorted_problems(translate(exc, merged, paths[0]), paths)) from None
    config._files = list(paths)
    config._digest = "sha256:" + digest.hexdigest()
    config._positions = merged
    config._secrets = secrets | _secret_fields(config)
    config._hosts, problems = _expand_hosts(config)
    problems += _cross_check(config)
    if problems:
        raise ConfigError(problems)
    return config


def merge(base: Any, over: Any) -> Any:
    """Deep-merge `over` into `base`: mappings merge, lists of `id:` items merge by id."""
    if isinstance(base, PosDict) and isinstance(over, PosDict):
        out = PosDict(base)
        out.pos = dict(base.pos)
        out.origin = base.origin
        for k, v in over.items():
            out[k] = merge(base[k], v) if k in base else v
            if k in over.pos:
                out.pos[k] = over.pos[k]
        return out
    if (
        isinstance(base, PosList)
        and isinstance(over, PosList)
        and _all_ids(base)
        and _all_ids(over)
    ):
        out_l = PosList(base)
        out_l.pos = list(base.pos)
        out_l.origin = base.origin
        index = {item["id"]: i for i, item in enumerate(base)}
        for item, pos in zip(over, over.pos, strict=True):
            if item["id"] in index:
                i = index[item["id"]]
                out_l[i] = merge(out_l[i], item)
                out_l.pos[i] = pos
            else:
                out_l.append(item)
                out_l.pos.append(pos)
        return out_l
    return over


def _all_ids(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in items)


# keys whose relative paths are resolved against the directory of the file that set them
_PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("targets", "project", "root"),
    ("approvals", "ledger"),
    ("approvals", "allowed_signers"),
    ("monitor", "history"),
    ("monitor", "baseline", "path"),
    ("baseline", "file"),
    ("monitor", "sources", "error_log", "file"),
    ("targets", "hosts", "inventory"),
    ("targets", "hosts", "identity_file"),
    ("targets", "hosts", "known_hosts"),
)


def _resolve_relative_paths(data: PosDict) -> None:
    for keys in _PATH_KEYS:
        parent: Any = data
        for k in keys[:-1]:
            parent = parent.get(k) if isinstance(parent, dict) else None
        leaf = keys[-1]
        if isinstance(parent, PosDict) and isinstance(parent.get(leaf), str):
            parent[leaf] = _relative_to(parent.pos.get(leaf), parent[leaf])
    targets = data.get("targets")
    hosts = targets.get("hosts") if isinstance(targets, dict) else None
    for host in hosts if isinstance(hosts, PosList) else []:
        for key in ("identity_file", "known_hosts"):
            if isinstance(host, PosDict) and isinstance(host.get(key), str):
                host[key] = _relative_to(host.pos.get(key), host[key])
    plugins = data.get("plugin_paths")
    if isinstance(plugins, PosList):
        for i, v in enumerate(plugins):
            if isinstance(v, str):
                plugins[i] = _relative_to(plugins.pos[i], v)


def _relative_to(pos: Pos | None, value: str) -> str:
    if not value or os.path.isabs(value) or pos is None:
        return value
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(pos.file)), value))


def _secret_fields(config: Config) -> set[str]:
    from urllib.parse import urlsplit

    t = config.targets
    out: set[str] = set()
    for token in (t.api and t.api.token, t.grafana and t.grafana.token):
        if token:
            out.add(token)
    for url in (t.database and t.database.dsn, t.redis and t.redis.url):
        if not url:
            continue
        if "://" in url:
            try:
                pw = urlsplit(url).password
            except ValueError:
                pw = None
            if pw:
                out.add(pw)
                from urllib.parse import unquote

                out.add(unquote(pw))
        for m in re.finditer(r"password\s*=\s*('([^']*)'|(\S+))", url, re.IGNORECASE):
            out.add(m.group(2) or m.group(3) or "")
    for http in (t.api, t.prometheus, t.alertmanager, t.grafana):
        for name, value in (http.headers if http else {}).items():
            if looks_secret(name):
                out.add(value.split(" ", 1)[-1])
                out.add(value)
    out |= _monitor_secrets(config.monitor)
    return {s for s in out if s}


def _monitor_secrets(monitor: MonitorConfig) -> set[str]:
    """Notifier credentials; a webhook URL often carries a token in its path."""
    out: set[str] = set()
    email = monitor.notify.email
    if email is not None and email.password:
        out.add(email.password)
    for hook in monitor.notify.webhooks:
        out.add(hook.url)
        for name, value in hook.headers.items():
            if looks_secret(name):
                out.update((value, value.split(" ", 1)[-1]))
    return out


def _expand_hosts(config: Config) -> tuple[list[HostConfig], list[Problem]]:
    """The configured hosts, an inventory read into HostConfig entries; located problems."""
    spec = config.targets.hosts
    problems: list[Problem] = []
    if spec is None:
        return [], problems
    hosts = list(spec) if isinstance(spec, list) else _inventory_hosts(config, spec, problems)
    seen: set[str] = set()
    for i, h in enumerate(hosts):
        if h.name in seen:
            loc = (
                ("targets", "hosts", i, "name") if isinstance(spec, list) else ("targets", "hosts")
            )
            problems.append(config.problem(loc, f"host {h.name!r} is listed twice"))
        seen.add(h.name)
    if not hosts and not problems:
        problems.append(config.problem(("targets", "hosts"), "lists no host"))
    return hosts, problems


def _inventory_hosts(
    config: Config, inv: HostInventory, problems: list[Problem]
) -> list[HostConfig]:
    from golive.hosts.inventory import read_inventory

    try:
        text = read_text(inv.inventory)
    except ConfigError as exc:
        for prob in exc.problems:
            problems.append(config.problem(("targets", "hosts", "inventory"), f"inventory {prob}"))
        return []
    found, errors = read_inventory(inv.inventory, text)
    problems.extend(errors)
    out: list[HostConfig] = []
    base = os.path.dirname(os.path.abspath(inv.inventory))
    for h in found:
        v = h.vars
        local = v.get("ansible_connection") == "local"
        user = v.get("ansible_user") or v.get("ansible_ssh_user") or inv.user
        address = v.get("ansible_host") or v.get("ansible_ssh_host") or h.name
        port = v.get("ansible_port") or v.get("ansible_ssh_port") or "22"
        key = v.get("ansible_ssh_private_key_file") or v.get("ansible_private_key_file")
        if key and not os.path.isabs(os.path.expanduser(key)):
            key = os.path.join(base, key)
        ssh = None if local else f"ssh://{user + '@' if user else ''}{address}:{port}"
        try:
            out.append(
                HostConfig(
                    name=h.name,
                    ssh=ssh,
                    identity_file=key or inv.identity_file,
                    known_hosts=inv.known_hosts,
                    accept_new=inv.accept_new,
                    roles=sorted(h.groups),
                    connect_timeout=inv.connect_timeout,
                    project_root=inv.project_root,
                )
            )
        except ValidationError as exc:
            for err in exc.errors():
                msg = str(err["msg"]).removeprefix("Value error, ")
                problems.append(Problem(inv.inventory, h.line, None, h.name, msg))
    return out


def _cross_check(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    selectors = {h.name for h in config.hosts} | {r for h in config.hosts for r in h.roles}
    if config.monitor.notify.alertmanager is not None and config.targets.alertmanager is None:
        msg = "the Alertmanager notifier posts to targets.alertmanager, which is not configured"
        problems.append(config.problem(("monitor", "notify", "alertmanager"), msg))
    problems.extend(_approval_problems(config))
    docker = config.targets.docker
    if docker is not None and docker.host is not None:
        names = [h.name for h in config.hosts]
        if docker.base_url is not None:
            msg = "set either base_url or host (the engine's socket on that host), not both"
            problems.append(config.problem(("targets", "docker", "host"), msg))
        elif docker.host not in names:
            msg = f"no host is named {docker.host!r}{did_you_mean(docker.host, names)}" + (
                f"; hosts: {', '.join(names)}" if names else "; targets.hosts lists no host"
            )
            problems.append(config.problem(("targets", "docker", "host"), msg))
    seen: dict[str, tuple[str, int]] = {}
    for section, index, entry in config.entries():
        loc = ("sections", section, "checks", index, "id")
        prefix = entry.id.split(".", 1)[0]
        if prefix != section:
            msg = (
                f"check {entry.id!r} is listed under section {section!r}; "
                f"its id must start with '{section}.'"
            )
            problems.append(config.problem(loc, msg))
        if entry.id in seen:
            problems.append(config.problem(loc, f"check {entry.id!r} is listed twice"))
        seen[entry.id] = (section, index)
        for j, sel in enumerate(entry.hosts or []):
            if sel not in selectors:
                where = ("sections", section, "checks", index, "hosts", j)
                known = sorted(selectors)
                msg = f"no host has the role or name {sel!r}{did_you_mean(sel, known)}" + (
                    f"; roles and hosts: {', '.join(known)}"
                    if known
                    else "; targets.hosts lists no host"
                )
                problems.append(config.problem(where, msg))
    return problems


def _approval_problems(config: Config) -> list[Problem]:
    """`approvals.gates` names existing gates, can be met, and has keys to check."""
    from golive.decision import gates_from_config

    problems: list[Problem] = []
    approvals = config.approvals
    known = [g.id for g in gates_from_config(config.gates)]
    if approvals.gates and approvals.allowed_signers is None:
        msg = (
            "per-gate signers need approvals.allowed_signers (an OpenSSH allowed-signers file): "
            "without keys, anyone can type any name"
        )
        problems.append(config.problem(("approvals", "gates"), msg))
    for gid, rule in approvals.gates.items():
        if gid not in known:
            msg = f"unknown gate {gid!r}; the gates are {', '.join(known)}"
            problems.append(
                config.problem(("approvals", "gates", gid), msg + did_you_mean(gid, known))
            )
        if rule.signers and rule.min > len(rule.signers):
            msg = (
                f"min {rule.min} can never be met: only {len(rule.signers)} "
                f"signer{'s are' if len(rule.signers) != 1 else ' is'} listed"
            )
            problems.append(config.problem(("approvals", "gates", gid, "min"), msg))
    return problems


def sorted_problems(problems: list[Problem], files: list[str]) -> list[Problem]:
    """Problems in reading order: by file (merge order), line, column."""
    rank = {f: i for i, f in enumerate(files)}
    return sorted(problems, key=lambda p: (rank.get(p.file, 99), p.line or 0, p.column or 0))


def translate(exc: ValidationError, data: Any, default_file: str) -> list[Problem]:
    """Turn pydantic errors into located problems with did-you-mean hints."""
    from golive.yamlpos import position

    out: list[Problem] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        kind = err["type"]
        if kind == "extra_forbidden":
            parent_model = _model_at(Config, loc[:-1])
            key = str(loc[-1])
            msg = f"unknown key {key!r}"
            if parent_model is not None:
                msg += did_you_mean(key, list(parent_model.model_fields))
        elif kind == "missing":
            msg = f"missing required key {str(loc[-1])!r}"
        else:
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
        pos = position(data, loc)
        file = pos.file if pos else default_file
        out.append(
            Problem(file, pos.line if pos else None, pos.column if pos else None, _dotted(loc), msg)
        )
    return out


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    import typing

    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        else:
            return None
        # unwrap Optional / dict / list to the model inside
        for _ in range(4):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if isinstance(current, type) and issubclass(current, BaseModel):
                break
            if not args:
                break
            current = args[-1]
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def did_you_mean(word: str, choices: list[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or an empty string."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def did_you_mean_id(check_id: str, known: list[str]) -> str:
    """Did-you-mean for check ids: compares names within the same section first."""
    import difflib

    section, _, name = check_id.partition(".")
    same = {k.partition(".")[2]: k for k in known if k.partition(".")[0] == section}
    if same:
        close = difflib.get_close_matches(name, list(same), n=1, cutoff=0.6)
        return f" (did you mean {same[close[0]]!r}?)" if close else ""
    return did_you_mean(check_id, known)
