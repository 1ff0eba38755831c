"""Checks of the infrastructure section: engine, host resources, ports, compose, TLS, backups.

Helpers: `_infrastructure.py` (versions, filesystem space, TCP probes and target ports,
compose strings, directory permissions).
"""

from __future__ import annotations

import asyncio
import os
import stat
from typing import Any, Literal

from golive.api import Context, Outcome, Severity, check

from ._infrastructure import (
    _BARE_VAR,
    DEFAULT_PORTS,
    GB,
    _can_write,
    _compose_cli,
    _host_accounts,
    _hostport,
    _listening_on,
    _sentence,
    _space_row,
    _strings,
    _target_ports,
    _tcp,
    _version_tuple,
)


@check(
    id="infrastructure.engine",
    title="Container engine, compose CLI and host resources meet the minimums",
    severity=Severity.HIGH,
    needs=("docker",),
    tags=("infrastructure",),
    remediation="Upgrade the container engine, or move the stack to a host with more CPUs/memory.",
)
async def engine(
    ctx: Context,
    min_versions: dict[str, str] = {"docker": "20.10", "podman": "4.0"},  # noqa: B006
    min_cpus: int = 2,
    min_memory_gb: float = 4.0,
    compose_commands: list[str] = ["docker compose", "docker-compose", "podman-compose"],  # noqa: B006
    require_compose: bool = False,
) -> Outcome:
    """Asks the engine (Docker API `version()` and `info()`) for its product and version,
    and the host's CPUs and memory: FAIL when the version is below `min_versions` for that
    engine (docker or podman) or the host has fewer than `min_cpus` CPUs or
    `min_memory_gb` of memory. The first compose CLI of `compose_commands` that answers
    `version` on PATH is reported; when none does, that part is skipped with the reason
    (FAIL instead with `require_compose: true`). With `targets.docker.host`, the engine is
    reached over that host's SSH connection and the compose CLI is looked for on that host."""
    client = ctx.docker.client
    version: dict[str, Any] = await ctx.docker.call(client.version)
    info: dict[str, Any] = await ctx.docker.call(client.info)
    components = [str(c.get("Name", "")) for c in version.get("Components") or []]
    platform = str((version.get("Platform") or {}).get("Name", ""))
    kind = "podman" if any("podman" in n.lower() for n in [*components, platform]) else "docker"
    engine_version = str(version.get("Version") or info.get("ServerVersion") or "unknown")
    cpus = int(info.get("NCPU") or 0)
    memory_gb = round(float(info.get("MemTotal") or 0) / GB, 1)
    engine_host = ctx.docker.host
    compose, tried = await _compose_cli(compose_commands, engine_host)
    on = f"host {engine_host.name}" if engine_host is not None else "the host"
    path_of = f"PATH on host {engine_host.name}" if engine_host is not None else "PATH"
    evidence: dict[str, Any] = {
        "engine": kind,
        "version": engine_version,
        "api_version": version.get("ApiVersion"),
        "os": info.get("OperatingSystem"),
        "storage_driver": info.get("Driver"),
        "cpus": cpus,
        "memory_gb": memory_gb,
        "compose_cli": tried,
    }
    if engine_host is not None:
        evidence["host"] = f"{engine_host.name} ({engine_host.address})"
    problems = []
    minimum = min_versions.get(kind)
    if minimum and _version_tuple(engine_version) < _version_tuple(minimum):
        problems.append(f"{kind} {engine_version} is older than the minimum {minimum}")
    if cpus < min_cpus:
        problems.append(f"{on} has {cpus} CPUs, fewer than {min_cpus}")
    if memory_gb < min_memory_gb:
        problems.append(f"{on} has {memory_gb:g} GB of memory, less than {min_memory_gb:g} GB")
    if compose is None and require_compose:
        problems.append(
            f"no compose CLI answers on {path_of} (tried " + ", ".join(compose_commands) + ")"
        )
    measurements = {"cpus": float(cpus), "memory_gb": memory_gb}
    if problems:
        return Outcome.failed(
            _sentence("; ".join(problems)), evidence=evidence, measurements=measurements
        )
    if compose is not None:
        compose_text = f"compose CLI: {compose['command']} {compose['version']}"
    else:
        compose_text = (
            "compose CLI check skipped: none of "
            + ", ".join(compose_commands)
            + f" answers on {path_of}"
        )
    where = f"host {engine_host.name}" if engine_host is not None else "a host"
    return Outcome.passed(
        f"{kind} {engine_version} on {where} with {cpus} CPUs and {memory_gb:g} GB of memory; "
        f"{compose_text}",
        evidence=evidence,
        measurements=measurements,
    )


@check(
    id="infrastructure.disk",
    title="Every data path has enough free disk space",
    severity=Severity.HIGH,
    needs=("host",),
    tags=("infrastructure", "capacity"),
    remediation="Free disk space (prune images, rotate logs, expire backups) or grow the volume.",
)
async def disk(
    ctx: Context,
    paths: list[str] = ["/", "/var/lib/docker", "/backups"],  # noqa: B006
    warn_below_pct: float = 20.0,
    fail_below_pct: float = 10.0,
    missing: Literal["warn", "fail", "ignore"] = "warn",
) -> Outcome:
    """Measures the free space (as available to unprivileged users) of the filesystem
    holding each path: WARN under `warn_below_pct` percent, FAIL under `fail_below_pct`.
    Paths that do not exist are listed and make the check WARN (or FAIL / nothing, with
    `missing`). Runs on every host of `targets.hosts` (relative paths start at the host's
    project root)."""
    rows: list[dict[str, Any]] = []
    fails, warns, absent = [], [], []
    for raw in paths:
        path = ctx.host_path(raw)
        if await ctx.host.stat(path) is None:
            absent.append(raw)
            rows.append({"path": raw, "result": "missing"})
            continue
        space = _space_row(await ctx.host.disk_space(path))
        row = {"path": raw, **{k: space[k] for k in ("mount", "size_gb", "free_gb", "free_pct")}}
        if space["free_pct"] < fail_below_pct:
            row["result"] = "FAIL"
            fails.append(f"{raw} ({space['free_pct']:g}% of {space['size_gb']:g} GB free)")
        elif space["free_pct"] < warn_below_pct:
            row["result"] = "WARN"
            warns.append(f"{raw} ({space['free_pct']:g}% free)")
        else:
            row["result"] = "ok"
        rows.append(row)
    evidence = {"paths": rows}
    measured = [r for r in rows if "free_pct" in r]
    measurements = {f"free_pct[{r['path']}]": float(r["free_pct"]) for r in measured}
    parts = []
    if fails:
        parts.append(f"free disk space is under {fail_below_pct:g}% on " + ", ".join(fails))
    if warns:
        parts.append(f"free disk space is under {warn_below_pct:g}% on " + ", ".join(warns))
    if absent and missing != "ignore":
        parts.append(", ".join(absent) + (" does" if len(absent) == 1 else " do") + " not exist")
        if measured and not fails and not warns:
            others = (
                "the other path has" if len(measured) == 1 else f"the other {len(measured)} have"
            )
            parts.append(f"{others} at least {warn_below_pct:g}% free")
    summary = _sentence("; ".join(parts))
    if fails or (absent and missing == "fail"):
        return Outcome.failed(summary, evidence=evidence, measurements=measurements)
    if warns or (absent and missing == "warn"):
        return Outcome.warn(summary, evidence=evidence, measurements=measurements)
    if not measured:
        return Outcome.skip("None of the configured paths exist", evidence=evidence)
    lowest = min(measured, key=lambda r: r["free_pct"])
    return Outcome.passed(
        f"All {len(measured)} paths have at least {warn_below_pct:g}% free disk space "
        f"(lowest: {lowest['path']} with {lowest['free_pct']:g}%)",
        evidence=evidence,
        measurements=measurements,
    )


@check(
    id="infrastructure.ports",
    title="Every service port accepts TCP connections",
    severity=Severity.HIGH,
    needs=("host",),
    tags=("infrastructure",),
    remediation="Start the service behind each closed port, or fix its published port/firewall.",
)
async def ports(
    ctx: Context,
    host: str | None = None,
    ports: dict[str, int] | None = None,
    connect_timeout: float = 3.0,
) -> Outcome:
    """Opens a TCP connection to every expected service port, all at once, each within
    `connect_timeout`: FAIL naming each port that refuses or does not answer. Without
    `ports`, the expected ports are those of the configured targets: the API, Prometheus,
    Alertmanager and Grafana URLs, the database DSN (every host of a multi-host DSN; a
    unix-socket DSN has no port to probe) and the Redis URL, each on its own host (a
    target set to null is not probed); with no target configured, the stack's defaults
    (API 8080, PostgreSQL 5432, Redis 6379, Prometheus 9090, Grafana 3000, Alertmanager
    9093). An explicit `ports` mapping (service -> port) is probed on `host` (default
    127.0.0.1); `host` also overrides the targets' hosts. On a remote host of
    `targets.hosts` the ports are those seen from that host: FAIL naming each expected port
    that no socket listens on in the host's /proc/net/tcp and /proc/net/tcp6 (read over
    SFTP; the addresses each port is bound to are listed in the evidence, not judged)."""
    timeout = min(connect_timeout, max(0.5, ctx.timeout - 1))
    notes: list[str] = []
    wanted: list[dict[str, Any]]
    if ports is not None:
        source = "params.ports"
        wanted = [
            {"service": n, "host": host or "127.0.0.1", "port": p, "from": source}
            for n, p in ports.items()
        ]
    else:
        wanted, notes = _target_ports(ctx)
        source = "the configured targets"
        if not wanted and not notes:
            source = "the default ports"
            wanted = [
                {"service": n, "host": host or "127.0.0.1", "port": p, "from": "default"}
                for n, p in DEFAULT_PORTS.items()
            ]
        if host:
            for w in wanted:
                w["host"] = host
    if not wanted:
        return Outcome.skip(
            "No service port to probe: " + "; ".join(notes), evidence={"not_probed": notes}
        )
    if not ctx.host.is_local:
        return await _ports_on_host(ctx, wanted, notes, source)
    answers = await asyncio.gather(*(_tcp(w["host"], w["port"], timeout) for w in wanted))
    hosts = sorted({w["host"] for w in wanted})
    one_host = hosts[0] if len(hosts) == 1 else None
    rows = [
        {**w, "result": r, "connect_ms": round(ms, 1)}
        for w, (_, r, ms) in zip(wanted, answers, strict=True)
    ]
    closed = [
        f"{w['service']} ({w['port'] if one_host else _hostport(w['host'], w['port'])}: {r})"
        for w, (ok, r, _) in zip(wanted, answers, strict=True)
        if not ok
    ]
    evidence: dict[str, Any] = {"host": one_host or ", ".join(hosts), "source": source}
    evidence["ports"] = rows
    where = f" on {one_host}" if one_host else ""
    return _ports_verdict(
        len(wanted),
        closed,
        notes,
        source,
        evidence,
        refused=f"{where} do not accept connections",
        open_=f"{where} accept TCP connections",
    )


async def _ports_on_host(
    ctx: Context, wanted: list[dict[str, Any]], notes: list[str], source: str
) -> Outcome:
    """infrastructure.ports on a remote host: the expected ports against the sockets that
    listen there (/proc/net/tcp{,6})."""
    name = ctx.host.name
    try:
        listening = await _listening_on(ctx.host)
    except OSError as exc:
        return Outcome.error(
            f"Cannot read the listening sockets of host {name} (/proc/net/tcp): "
            f"{exc.strerror or exc}"
        )
    rows = []
    closed = []
    for w in wanted:
        addrs = sorted(listening.get(int(w["port"]), set()))
        rows.append(
            {
                "service": w["service"],
                "port": w["port"],
                "from": w["from"],
                "result": "listening on " + ", ".join(addrs) if addrs else "not listening",
            }
        )
        if not addrs:
            closed.append(f"{w['service']} ({w['port']}: not listening)")
    evidence: dict[str, Any] = {
        "host": name,
        "source": source,
        "read": "/proc/net/tcp, /proc/net/tcp6",
        "ports": rows,
    }
    return _ports_verdict(
        len(wanted),
        closed,
        notes,
        source,
        evidence,
        refused=f" are not listening on host {name}",
        open_=f" are listening on host {name}",
    )


def _ports_verdict(
    wanted: int,
    closed: list[str],
    notes: list[str],
    source: str,
    evidence: dict[str, Any],
    *,
    refused: str,
    open_: str,
) -> Outcome:
    """infrastructure.ports' verdict, probed from golive's machine or read on a host:
    FAIL naming the `closed` ports of the `wanted` ones, else PASS. `refused` and `open_`
    end "N of M service ports..." and "All M service ports..."; `notes` (targets not
    probed) join the evidence."""
    if notes:
        evidence["not_probed"] = notes
    if closed:
        return Outcome.failed(
            f"{len(closed)} of {wanted} service ports{refused}: " + ", ".join(closed),
            evidence=evidence,
        )
    derived = " (from the configured targets)" if source == "the configured targets" else ""
    return Outcome.passed(f"All {wanted} service ports{open_}{derived}", evidence=evidence)


@check(
    id="infrastructure.compose",
    title="Compose files are valid and every service has a healthcheck and a restart policy",
    severity=Severity.HIGH,
    needs=("project", "host"),
    tags=("infrastructure",),
    remediation=(
        "Set every variable that a `${VAR:?}` requires (in .env or the environment), fix "
        "depends_on names, and give each service a healthcheck and `restart:` policy."
    ),
)
async def compose(ctx: Context, exempt: list[str] = []) -> Outcome:  # noqa: B006
    """Parses the configured compose files and interpolates them as Compose does (`.env`
    files, then the environment; `${VAR:-default}`, `${VAR:?message}`, `$$`). FAIL when a
    file is unreadable, a required `${VAR:?}` is unset, no file exists, a `depends_on` names
    a service that does not exist, or a service has neither `image` nor `build`. WARN for a
    service without a healthcheck or a restart policy (`restart:` or
    `deploy.restart_policy`; services in `exempt` are not required to have them), a
    configured file that is missing, or a bare `${VAR}` that is unset (Compose substitutes
    an empty string). Services of all files are merged by name, later files winning."""
    project = ctx.project
    files = await asyncio.to_thread(project.compose)
    configured = [project.relative(project.path(f)) for f in project.cfg.compose_files]
    present = {project.relative(cf.path) for cf in files}
    absent = [f for f in configured if f not in present]
    fails: list[str] = []
    warns: list[str] = []
    env = project.env()
    by_message: dict[str, list[str]] = {}
    unset: set[str] = set()
    for cf in files:
        for err in cf.errors:
            where, _, message = err.partition(": ")
            if err.startswith("cannot parse"):
                fails.append(f"{project.relative(cf.path)} {err}")
            else:
                by_message.setdefault(message or where, []).append(
                    f"{project.relative(cf.path)}:{where}"
                )
        for text in _strings(cf.raw):
            unset |= {a or b for a, b in _BARE_VAR.findall(text) if (a or b) not in env}
    for message, wheres in by_message.items():
        more = f" and {len(wheres) - 1} more" if len(wheres) > 1 else ""
        fails.append(f"{message} (at {wheres[0]}{more})")
    services = await asyncio.to_thread(project.services)
    rows = []
    for name, svc in sorted(services.items()):
        hc = svc.get("healthcheck")
        has_hc = isinstance(hc, dict) and not hc.get("disable") and bool(hc.get("test"))
        restart = svc.get("restart") or ((svc.get("deploy") or {}).get("restart_policy") or {}).get(
            "condition"
        )
        deps = svc.get("depends_on") or []
        deps = list(deps) if isinstance(deps, (list, dict)) else []
        unknown = [d for d in deps if d not in services]
        rows.append(
            {
                "service": name,
                "healthcheck": has_hc,
                "restart": restart or "",
                "depends_on": ", ".join(map(str, deps)),
            }
        )
        if unknown:
            fails.append(
                f"service {name} depends_on unknown service(s) {', '.join(map(str, unknown))}"
            )
        if not svc.get("image") and not svc.get("build"):
            fails.append(f"service {name} has neither image nor build")
        if name in exempt:
            continue
        if not has_hc:
            warns.append(f"{name} has no healthcheck")
        if not restart or restart == "no":
            warns.append(f"{name} has no restart policy")
    if not files:
        fails.append("none of the configured compose files exists (" + ", ".join(configured) + ")")
    elif absent:
        warns.append("configured compose file(s) missing: " + ", ".join(absent))
    if files and not services:
        fails.append("the compose files define no services")
    if unset:
        warns.append(
            "unset variable(s) Compose would replace by an empty string: "
            + ", ".join(sorted(unset))
        )
    evidence: dict[str, Any] = {"files": sorted(present), "services": rows}
    if fails:
        evidence["problems"] = fails
    if warns:
        evidence["warnings"] = warns
    if fails:
        return Outcome.failed(
            "Compose configuration is invalid: " + "; ".join(fails), evidence=evidence
        )
    if warns:
        return Outcome.warn(
            f"Compose files are valid ({len(services)} services) but " + "; ".join(warns),
            evidence=evidence,
        )
    return Outcome.passed(
        f"{len(files)} compose files are valid; all {len(services)} services have a "
        "healthcheck and a restart policy",
        evidence=evidence,
    )


@check(
    id="infrastructure.tls",
    title="TLS certificate is valid, trusted and not about to expire",
    severity=Severity.HIGH,
    needs=("host",),
    tags=("infrastructure", "security"),
    remediation=(
        "Renew the certificate (and install its full chain) before it expires; make sure it "
        "names the host clients use."
    ),
)
async def tls(
    ctx: Context,
    cert_file: str | None = "/etc/ssl/orchestrator/cert.pem",
    endpoint: str | None = None,
    hostname: str | None = None,
    ca_file: str | None = None,
    warn_days: int = 30,
    fail_days: int = 7,
    verify_chain: bool = True,
    verify_hostname: bool = True,
    required: bool = False,
) -> Outcome:
    """Reads the certificate from `endpoint` (host:port, a real TLS handshake) or else from
    `cert_file` (PEM, leaf first then intermediates). FAIL when it has expired or expires in
    fewer than `fail_days` days, when its chain does not verify against `ca_file` (default:
    the system trust store), or when it is not valid for `hostname` (default for an
    endpoint: its host); WARN under `warn_days`. When no endpoint is set and the
    certificate file does not exist, the check is SKIP (TLS not terminated on this host),
    or FAIL with `required: true`. Runs on every host of `targets.hosts`: `cert_file` and
    `ca_file` are read on the host (relative paths start at its project root); without
    `ca_file` the chain is verified against the trust store of the machine golive runs
    on. An `endpoint` is reached from the machine golive runs on, and its `ca_file` read
    there."""
    from golive import tlsinfo

    cert = ctx.host_path(cert_file) if cert_file and not endpoint else None
    if not endpoint:
        if cert is None:
            return Outcome.skip("Neither endpoint nor cert_file is configured")
        if await ctx.host.stat(cert) is None and not required:
            return Outcome.skip(
                f"No certificate at {cert} (set endpoint or cert_file, or required: true to fail)"
            )
    local = ctx.host.is_local or bool(endpoint)  # a handshake is made from golive's machine
    ca: str | None = None
    if ca_file and local:
        project = ctx.config.targets.project
        ca = os.path.expanduser(ca_file)
        if not os.path.isabs(ca) and project is not None:
            ca = os.path.join(project.root, ca)
    elif ca_file:
        ca = ctx.host_path(ca_file)
    read = None if local else ctx.host.read_bytes
    return await tlsinfo.evaluate(
        cert_file=cert,
        endpoint=endpoint,
        hostname=hostname,
        ca_file=ca,
        warn_days=warn_days,
        fail_days=fail_days,
        verify_chain=verify_chain,
        verify_hostname=verify_hostname,
        timeout=min(10.0, ctx.timeout),
        read=read,
    )


@check(
    id="infrastructure.backup_storage",
    title="Backup directory exists, is writable by the backup user and has free space",
    severity=Severity.HIGH,
    needs=("host",),
    tags=("infrastructure", "backup"),
    remediation=(
        "Create the backup directory, chown it to the backup user (mode 0700/0750), and "
        "free or add space."
    ),
)
async def backup_storage(
    ctx: Context,
    path: str = "/backups/postgres",
    user: str | None = None,
    min_free_gb: float = 5.0,
    min_free_pct: float = 10.0,
) -> Outcome:
    """The backup directory exists and is a directory; the backup `user` (default: the user
    golive runs as) can enter it and create files in it, judged from the mode bits of the
    directory and its parents (ACLs are not read) and the mount not being read-only; the
    filesystem has at least `min_free_gb` GB and `min_free_pct` percent free. A
    world-writable directory (without the sticky bit) is a WARN: anyone could replace a
    backup. Runs on every host of `targets.hosts` (relative paths start at the host's
    project root): there the user is looked up in the host's /etc/passwd and /etc/group,
    and defaults to the SSH login user."""
    host = ctx.host
    p = ctx.host_path(path)
    if host.is_local:
        import grp
        import pwd

        if user is None:
            entry = pwd.getpwuid(os.geteuid())
        else:
            try:
                entry = pwd.getpwnam(user)
            except KeyError:
                return Outcome.error(f"Backup user {user!r} does not exist on this host")
        name, uid = entry.pw_name, entry.pw_uid
        gids = set(os.getgrouplist(entry.pw_name, entry.pw_gid))

        def user_name(n: int) -> str:
            try:
                return pwd.getpwuid(n).pw_name
            except KeyError:
                return str(n)

        def group_name(n: int) -> str:
            try:
                return grp.getgrgid(n).gr_name
            except KeyError:
                return str(n)
    else:
        import getpass

        accounts = await _host_accounts(host)
        name = user or getattr(host, "user", None) or getpass.getuser()
        if name not in accounts.users:
            return Outcome.error(f"Backup user {name!r} does not exist on host {host.name}")
        uid, gids = accounts.users[name][0], accounts.gids(name)

        def user_name(n: int) -> str:
            return accounts.user_names.get(n, str(n))

        def group_name(n: int) -> str:
            return accounts.group_names.get(n, str(n))

    evidence: dict[str, Any] = {"path": p, "user": name}
    st = await host.stat(p)
    if st is None:
        return Outcome.failed(f"Backup directory {p} does not exist", evidence=evidence)
    if not st.is_dir:
        return Outcome.failed(f"Backup path {p} is not a directory", evidence=evidence)
    space = _space_row(await host.disk_space(p))
    writable, why = await _can_write(host, p, uid, gids)
    evidence.update(
        owner=user_name(st.uid),
        group=group_name(st.gid),
        mode=f"{st.perm:04o}",
        writable=writable,
        **space,
    )
    problems = []
    if not writable:
        problems.append(f"user {name} {why}")
    if space["read_only"]:
        problems.append(f"{space['mount']} is mounted read-only")
    if space["free_gb"] < min_free_gb or space["free_pct"] < min_free_pct:
        problems.append(
            f"only {space['free_gb']:g} GB ({space['free_pct']:g}%) free, "
            f"under {min_free_gb:g} GB / {min_free_pct:g}%"
        )
    measurements = {"free_gb": float(space["free_gb"]), "free_pct": float(space["free_pct"])}
    if problems:
        return Outcome.failed(
            f"Backup directory {p}: " + "; ".join(problems),
            evidence=evidence,
            measurements=measurements,
        )
    text = (
        f"Backup directory {p} is writable by {name} with {space['free_gb']:g} GB "
        f"({space['free_pct']:g}%) free"
    )
    if st.mode & stat.S_IWOTH and not st.mode & stat.S_ISVTX:
        return Outcome.warn(
            text + f", but it is world-writable (mode {st.perm:04o})",
            evidence=evidence,
            measurements=measurements,
        )
    return Outcome.passed(text, evidence=evidence, measurements=measurements)
