"""Tables and classifiers of the security section's host-side checks (`checks/security.py`).

Private-key detection for certificate-looking files, the role attributes and memberships
that `security.db_roles` treats as administrative, the hardening problems of one
container's inspect document, and the entries of a compose environment block as written.
Standard library only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import _security as sec


def _is_private_key_file(p: Path) -> bool:
    try:
        with p.open("rb") as fh:
            return b"PRIVATE KEY" in fh.read(8192)
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
