"""Host-side work of the security section's checks (`checks/security.py`).

The permission problems of a project tree on a host (and private-key detection for
certificate-looking files in it), the role attributes and memberships that
`security.db_roles` treats as administrative, the hardening problems of one container's
inspect document, the ports that compose files and containers publish, and the entries
of a compose environment block as written, with the plaintext secrets among them.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

from golive.api import Context, Finding

if TYPE_CHECKING:
    from golive.hosts.interface import Host

from . import _secretscan as secretscan
from . import _security as sec


async def is_private_key_on(host: Host, path: str) -> bool:
    """True when the file's first 8 KiB on the host hold a PEM private key."""
    try:
        return b"PRIVATE KEY" in await host.read_bytes(path, 8192)
    except OSError:
        return False


_ROLE_ATTRS = ("rolsuper", "rolcreaterole", "rolcreatedb", "rolbypassrls", "rolreplication")
_ATTR_NAME = {
    "rolsuper": "SUPERUSER",
    "rolcreaterole": "CREATEROLE",
    "rolcreatedb": "CREATEDB",
    "rolbypassrls": "BYPASSRLS",
    "rolreplication": "REPLICATION",
}
_DANGEROUS_MEMBERSHIPS = [
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_write_all_data",
]


_SOCKETS = ("docker.sock", "podman.sock", "containerd.sock", "crio.sock")


def _container_problems(attrs: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(failures, warnings) of one container's inspect document."""
    host = attrs.get("HostConfig") or {}
    config = attrs.get("Config") or {}
    fails: list[str] = []
    warns: list[str] = []
    secopts = [str(o).replace("=", ":") for o in host.get("SecurityOpt") or []]
    if not any(o in ("no-new-privileges", "no-new-privileges:true") for o in secopts):
        fails.append("no-new-privileges is not set")
    if host.get("Privileged"):
        fails.append("runs privileged")
    user = str(config.get("User") or "").strip()
    if user.split(":", 1)[0] in ("", "0", "root"):
        fails.append("runs as root" + ("" if user else " (no user set)"))
    caps = [c for c in host.get("CapAdd") or [] if c]
    if caps:
        fails.append(f"adds capabilities {', '.join(sorted(caps))}")
    for m in attrs.get("Mounts") or []:
        src = str(m.get("Source") or "")
        if src.endswith(_SOCKETS):
            fails.append(f"mounts the container engine socket {src}")
    if host.get("PidMode") == "host":
        fails.append("shares the host's PID namespace")
    if not host.get("ReadonlyRootfs"):
        warns.append("root filesystem is writable (read_only: false)")
    return fails, warns


def _raw_entries(block: Any) -> list[tuple[str, str, int | None]]:
    """(name, raw value, line) of an environment block as written (mapping or list form)."""
    out: list[tuple[str, str, int | None]] = []
    if isinstance(block, dict):
        pos = getattr(block, "pos", {})
        for k, v in block.items():
            if v is None or isinstance(v, (dict, list)):
                continue
            p = pos.get(k)
            out.append((str(k), sec.scalar_text(v), p.line if p else None))
    elif isinstance(block, list):
        positions = getattr(block, "pos", [])
        for i, item in enumerate(block):
            if not isinstance(item, str) or "=" not in item:
                continue
            name, _, value = item.partition("=")
            p = positions[i] if i < len(positions) else None
            out.append((name.strip(), value, p.line if p else None))
    return out


# files whose name says secret but that hold none: examples, templates, public keys, docs
_NOT_SECRET = ["*.example", "*.sample", "*.template", "*.dist", "*.pub", "*.md"]


async def permission_problems(
    host: Host,
    root: str,
    compose: set[str],
    env_files: set[str],
    writable_patterns: list[str],
    secret_patterns: list[str],
    extra_paths: list[str],
) -> tuple[list[dict[str, Any]], int, list[str]]:
    """The permission problems of the project tree at `root` on the host and of
    `extra_paths` (see `security.file_permissions`): (problems, files checked, extra paths
    that do not exist). `compose` and `env_files` are the configured ones, relative to the
    root; they count as code and as secret files whatever their names."""
    from golive.targets.project import SKIP_DIRS

    problems: list[dict[str, Any]] = []
    checked = 0
    for entry in await host.walk(root, SKIP_DIRS):
        rel, st = entry.rel, entry.stat
        if st.is_dir:
            if st.mode & stat.S_IWOTH and not st.mode & stat.S_ISVTX:
                problems.append(
                    {
                        "path": rel,
                        "mode": f"{st.perm:04o}",
                        "problem": "directory is world-writable without the sticky "
                        "bit: anyone can replace the files in it",
                    }
                )
            continue
        if not st.is_file:
            continue
        mode = st.perm
        code = rel in compose or secretscan.matches(rel, writable_patterns)
        secret = rel in env_files or secretscan.matches(rel, secret_patterns)
        secret = secret and not secretscan.matches(rel, _NOT_SECRET)
        if secret and rel.endswith((".pem", ".crt")):
            secret = await is_private_key_on(host, os.path.join(root, rel))
        if code or secret:
            checked += 1
        if code and mode & stat.S_IWOTH:
            problems.append(
                {
                    "path": rel,
                    "mode": f"{mode:04o}",
                    "problem": "world-writable: anyone can change what runs",
                }
            )
        if secret and mode & stat.S_IROTH:
            problems.append(
                {
                    "path": rel,
                    "mode": f"{mode:04o}",
                    "problem": "secret file readable by every local user",
                }
            )
    absent: list[str] = []
    for extra in extra_paths:
        found = await host.stat(extra)
        if found is None:
            absent.append(extra)
            continue
        checked += 1
        if found.perm & stat.S_IWOTH:
            problems.append(
                {
                    "path": extra,
                    "mode": f"{found.perm:04o}",
                    "problem": "world-writable: anyone can change what runs",
                }
            )
    return problems, checked, absent


def published_ports(
    ctx: Context,
    projects: list[tuple[str, Any]],
    containers: list[Any],
    private_services: list[str],
    private_ports: list[int],
    no_host_network: list[str],
) -> tuple[list[dict[str, Any]], list[str], list[Finding]]:
    """The ports published by the compose files of `projects` ((prefix, project) pairs)
    and by the live `containers` (see `security.exposed_ports`): (one row per published
    port with its verdict, failures, findings in the compose files). A port is exposed when
    it is public and its service is private or its container port is; a service in
    `no_host_network` must not use the host's network."""
    rows: list[dict[str, Any]] = []
    fails: list[str] = []
    findings: list[Finding] = []
    private = set(private_ports)

    def judge(where: str, service: str, pub: sec.Published) -> None:
        ports = sec.container_port_numbers(pub.container_port)
        if (service in private_services or ports & private) and pub.is_public:
            fails.append(f"{service} publishes {pub.describe()} ({where})")
            rows.append(
                {
                    "source": where,
                    "service": service,
                    "published": pub.describe(),
                    "verdict": "exposed",
                }
            )
        else:
            rows.append(
                {"source": where, "service": service, "published": pub.describe(), "verdict": "ok"}
            )

    for where, project in projects:
        for cf in project.compose():
            data = cf.data if isinstance(cf.data, dict) else {}
            rel = where + project.relative(cf.path)
            for name, svc in (data.get("services") or {}).items():
                if not isinstance(svc, dict):
                    continue
                for entry in svc.get("ports") or []:
                    for pub in sec.parse_compose_port(entry):
                        judge(rel, str(name), pub)
                if svc.get("network_mode") == "host" and str(name) in no_host_network:
                    fails.append(f"{name} uses network_mode: host ({rel})")
                    findings.append(
                        Finding(
                            rel, f"{name} uses network_mode: host", rule="security.exposed_ports"
                        )
                    )
    for c in containers:
        service = ctx.docker.service_of(c)
        ports = (c.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        for container_port, bindings in ports.items():
            for b in bindings or []:
                judge(
                    f"container {c.name}",
                    service,
                    sec.Published(
                        str(b.get("HostIp") or ""),
                        str(b.get("HostPort") or ""),
                        container_port.split("/")[0],
                        container_port.split("/")[1] if "/" in container_port else "tcp",
                    ),
                )
        mode = (c.attrs.get("HostConfig") or {}).get("NetworkMode")
        if mode == "host" and service in no_host_network:
            fails.append(f"{service} runs with the host's network (container {c.name})")
    findings += [
        Finding(
            r["source"], f"{r['service']} publishes {r['published']}", rule="security.exposed_ports"
        )
        for r in rows
        if r["verdict"] == "exposed" and not r["source"].startswith("container ")
    ]
    return rows, fails, findings


def compose_plaintext(
    ctx: Context, extra_names: list[str]
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """The plaintext secrets in the project's compose files as written (see
    `security.compose_plaintext_secrets`): one row per entry, and its finding. Each value
    is registered with `ctx.secret` as soon as it is found."""
    from golive.yamlpos import load

    fails: list[dict[str, Any]] = []
    findings: list[Finding] = []
    extra = {n.upper() for n in extra_names}
    for path in ctx.project.compose_paths():
        rel = ctx.project.relative(path)
        text = ctx.project.read_bytes(path).decode("utf-8", errors="replace")
        data, _ = load(str(path), text)
        if not isinstance(data, dict):
            continue
        for svc_name, svc in (data.get("services") or {}).items():
            if not isinstance(svc, dict):
                continue
            blocks = [("environment", svc.get("environment"))]
            build = svc.get("build")
            if isinstance(build, dict):
                blocks.append(("build.args", build.get("args")))
            for block_name, block in blocks:
                for name, raw, line in _raw_entries(block):
                    hit = sec.literal_secret(name, raw) or (
                        ("value", raw)
                        if name.upper() in extra and raw and not sec.is_reference(raw)
                        else None
                    )
                    if hit is None:
                        continue
                    kind, value = hit
                    ctx.secret(value)
                    what = {
                        "value": "a plaintext value",
                        "url": "a plaintext password in a URL",
                        "default": "a plaintext default (${VAR:-...})",
                    }[kind]
                    weak = sec.password_weakness(value)
                    if weak:
                        what = f"{what}, a weak one ({weak})"
                    fails.append(
                        {
                            "file": rel,
                            "line": line,
                            "service": str(svc_name),
                            "variable": f"{block_name}.{name}",
                            "problem": what,
                            "weak": weak is not None,
                        }
                    )
                    findings.append(
                        Finding(
                            rel,
                            f"{svc_name}: {name} holds {what}",
                            line,
                            rule="security.compose_plaintext_secrets",
                        )
                    )
    return fails, findings
