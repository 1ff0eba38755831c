"""Ansible inventories (INI or YAML) as golive hosts: groups become roles.

Only what golive needs is read: host names, `ansible_host`, `ansible_port`, `ansible_user`,
`ansible_ssh_private_key_file` and `ansible_connection=local`, set on the host or through
its groups' vars (`[group:vars]`, `vars:`; a host's own vars win, then its nearest
group's, then `all`'s). A host's roles are every group it belongs to, directly or through
`children`, except `all` and `ungrouped`. Host ranges (`web[01:10]`), dynamic inventory
scripts and `group_vars/` directories are not read; they are reported as problems.
ansible-core itself is not a dependency: it is a large package for one file format.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from golive.errors import Problem

_SECTION = re.compile(r"^\[([^\]:]+)(?::(vars|children))?\]\s*$")


@dataclass
class InventoryHost:
    """One host of an inventory, with its merged vars and its groups."""

    name: str
    line: int
    vars: dict[str, str] = field(default_factory=dict)
    groups: set[str] = field(default_factory=set)


@dataclass
class _Inventory:
    hosts: dict[str, InventoryHost] = field(default_factory=dict)
    group_vars: dict[str, dict[str, str]] = field(default_factory=dict)
    children: dict[str, set[str]] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)


def read_inventory(path: str, text: str) -> tuple[list[InventoryHost], list[Problem]]:
    """Parse an inventory (YAML when it looks like YAML, else INI); hosts in file order."""
    stripped = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    is_yaml = path.endswith((".yml", ".yaml")) or bool(
        stripped and re.match(r"^[\w.-]+:\s*$", stripped[0])
    )
    inv = _Inventory()
    problems = _read_yaml(path, text, inv) if is_yaml else _read_ini(path, text, inv)
    return _resolve(inv), problems


def _host_vars(words: list[str], path: str, line: int, problems: list[Problem]) -> dict[str, str]:
    out: dict[str, str] = {}
    for w in words:
        if "=" not in w:
            problems.append(Problem(path, line, None, "", f"expected key=value, got {w!r}"))
            continue
        k, _, v = w.partition("=")
        out[k] = v
    return out


def _read_ini(path: str, text: str, inv: _Inventory) -> list[Problem]:
    problems: list[Problem] = []
    group, kind = "ungrouped", "hosts"
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        m = _SECTION.match(line)
        if m:
            group, kind = m.group(1).strip(), m.group(2) or "hosts"
            inv.members.setdefault(group, set())
            continue
        if line.startswith("["):
            problems.append(Problem(path, n, 1, "", f"malformed section header {line!r}"))
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            problems.append(Problem(path, n, None, "", f"cannot parse line: {exc}"))
            continue
        if not words:
            continue
        if kind == "vars":
            inv.group_vars.setdefault(group, {}).update(_host_vars(words, path, n, problems))
        elif kind == "children":
            inv.children.setdefault(group, set()).add(words[0])
        else:
            _add_host(
                inv, words[0], group, _host_vars(words[1:], path, n, problems), n, path, problems
            )
    return problems


def _add_host(
    inv: _Inventory,
    name: str,
    group: str,
    hvars: dict[str, Any],
    line: int,
    path: str,
    problems: list[Problem],
) -> None:
    if re.search(r"\[[^\]]*:[^\]]*\]", name):
        problems.append(
            Problem(
                path,
                line,
                None,
                "",
                f"host ranges such as {name!r} are not supported; list each host",
            )
        )
        return
    host = inv.hosts.setdefault(name, InventoryHost(name, line))
    host.vars.update({str(k): _text(v) for k, v in hvars.items()})
    inv.members.setdefault(group, set()).add(name)


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _read_yaml(path: str, text: str, inv: _Inventory) -> list[Problem]:
    from golive.yamlpos import load

    data, problems = load(path, text)
    if problems:
        return problems
    if data is None:
        return []
    if not isinstance(data, dict):
        return [Problem(path, 1, 1, "", "an inventory must be a mapping of groups")]
    for group, body in data.items():
        _yaml_group(path, str(group), body, inv, problems, getattr(data, "pos", {}).get(group))
    return problems


def _yaml_group(
    path: str, group: str, body: Any, inv: _Inventory, problems: list[Problem], pos: Any
) -> None:
    inv.members.setdefault(group, set())
    if body is None:
        return
    line = pos.line if pos is not None else None
    if not isinstance(body, dict):
        problems.append(Problem(path, line, None, group, "a group must be a mapping"))
        return
    unknown = set(body) - {"hosts", "vars", "children"}
    for key in sorted(map(str, unknown)):
        problems.append(
            Problem(path, line, None, f"{group}.{key}", "expected hosts, vars or children")
        )
    hosts = body.get("hosts") or {}
    if not isinstance(hosts, dict):
        problems.append(Problem(path, line, None, f"{group}.hosts", "must be a mapping"))
        hosts = {}
    hpos = getattr(hosts, "pos", {})
    for name, hvars in hosts.items():
        at = hpos.get(name)
        if hvars is not None and not isinstance(hvars, dict):
            problems.append(
                Problem(
                    path,
                    at.line if at else line,
                    None,
                    f"{group}.hosts.{name}",
                    "host vars must be a mapping",
                )
            )
            hvars = {}
        _add_host(
            inv, str(name), group, dict(hvars or {}), at.line if at else (line or 0), path, problems
        )
    gvars = body.get("vars") or {}
    if isinstance(gvars, dict):
        inv.group_vars.setdefault(group, {}).update({str(k): _text(v) for k, v in gvars.items()})
    children = body.get("children") or {}
    if isinstance(children, dict):
        cpos = getattr(children, "pos", {})
        for child, cbody in children.items():
            inv.children.setdefault(group, set()).add(str(child))
            _yaml_group(path, str(child), cbody, inv, problems, cpos.get(child))


def _resolve(inv: _Inventory) -> list[InventoryHost]:
    def depth(group: str, seen: frozenset[str] = frozenset()) -> int:
        parents = [g for g, kids in inv.children.items() if group in kids and g not in seen]
        return 1 + max((depth(p, seen | {group}) for p in parents), default=0)

    def ancestors(group: str, seen: set[str]) -> None:
        for g, kids in inv.children.items():
            if group in kids and g not in seen:
                seen.add(g)
                ancestors(g, seen)

    out = []
    for host in inv.hosts.values():
        groups = {g for g, names in inv.members.items() if host.name in names}
        for g in list(groups):
            ancestors(g, groups)
        merged = dict(inv.group_vars.get("all", {}))
        for g in sorted(groups - {"all"}, key=depth):
            merged.update(inv.group_vars.get(g, {}))
        merged.update(host.vars)
        host.vars = merged
        host.groups = groups - {"all", "ungrouped"}
        out.append(host)
    return out
