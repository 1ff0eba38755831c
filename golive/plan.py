"""From configuration and registry to the list of checks a run executes.

Every checklist entry is resolved to a registered check (or a generic kind with `uses:`),
its parameters are validated against the check function's signature, and the command
line's selection (`--section`, `--check`, `--tag`, `--exclude`) is applied.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from golive.api import CheckSpec
from golive.config import (
    CheckEntry,
    Config,
    WaiverConfig,
    did_you_mean,
    did_you_mean_id,
    sorted_problems,
)
from golive.errors import ConfigError, Problem, UsageError
from golive.models import Severity
from golive.registry import SECTION_ORDER, Registry, validate_params


@dataclass(frozen=True)
class Planned:
    """One check as it will run: the spec plus everything the checklist says about it."""

    spec: CheckSpec
    id: str
    title: str
    severity: Severity
    params: dict[str, Any]
    timeout: float
    tags: tuple[str, ...]
    enabled: bool = True
    remediation: str = ""
    waiver: WaiverConfig | None = None
    hosts: tuple[str, ...] | None = None  # roles or host names (host-level checks); None: all

    @property
    def section(self) -> str:
        """The first part of the id."""
        return self.id.split(".", 1)[0]


def resolve(config: Config, registry: Registry) -> list[Planned]:
    """Resolve every checklist entry; raise ConfigError listing every problem."""
    problems: list[Problem] = []
    out: list[Planned] = []
    for section, index, entry in config.entries():
        base = ("sections", section, "checks", index)
        planned = _resolve_entry(config, registry, entry, base, problems)
        if planned is not None:
            out.append(planned)
    if problems:
        raise ConfigError(sorted_problems(problems, config.files))
    return out


def _resolve_entry(
    config: Config,
    registry: Registry,
    entry: CheckEntry,
    base: tuple[Any, ...],
    problems: list[Problem],
) -> Planned | None:
    if entry.uses is not None:
        spec = registry.generics.get(entry.uses)
        if spec is None:
            msg = f"unknown generic check kind {entry.uses!r}"
            msg += did_you_mean(entry.uses, list(registry.generics))
            msg += f"; kinds: {', '.join(sorted(registry.generics))}"
            problems.append(config.problem((*base, "uses"), msg))
            return None
        if entry.id in registry.checks:
            msg = f"{entry.id!r} is a built-in check id; give the generic check its own id"
            problems.append(config.problem((*base, "id"), msg))
            return None
        if not entry.title:
            msg = f"a `uses: {entry.uses}` check needs a title stating the healthy condition"
            problems.append(config.problem((*base, "id"), msg))
            return None
    else:
        found = registry.get(entry.id)
        if found is None:
            msg = f"unknown check id {entry.id!r}"
            msg += did_you_mean_id(entry.id, list(registry.checks))
            problems.append(config.problem((*base, "id"), msg))
            return None
        spec = found
    params, errors = validate_params(spec, entry.params)
    for loc, msg in errors:
        problems.append(config.problem((*base, "params", *loc), msg))
    if errors:
        return None
    default_severity = Severity.MEDIUM if spec.generic else spec.severity
    return Planned(
        spec=spec,
        id=entry.id,
        title=entry.title or spec.title,
        severity=entry.severity or default_severity,
        params=params,
        timeout=entry.timeout or config.defaults.timeout,
        tags=tuple(dict.fromkeys([*spec.tags, *entry.tags])),
        enabled=entry.enabled,
        remediation=entry.remediation or spec.remediation,
        waiver=entry.waiver,
        hosts=tuple(entry.hosts) if entry.hosts is not None else None,
    )


def select(
    planned: list[Planned],
    registry: Registry,
    config: Config,
    *,
    sections: Sequence[str] = (),
    checks: Sequence[str] = (),
    tags: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> list[Planned]:
    """Apply the command line's selection; unknown names are usage errors."""
    known_sections = list(dict.fromkeys([*config.sections, *SECTION_ORDER]))
    for s in sections:
        if s not in known_sections:
            raise UsageError(f"unknown section {s!r}{did_you_mean(s, known_sections)}")
    out = list(planned)
    if checks:
        out = _select_checks(out, registry, config, checks)
    if sections:
        out = [p for p in out if p.section in sections]
    if tags:
        out = [p for p in out if set(tags) & set(p.tags)]
    if exclude:
        out = [p for p in out if not any(fnmatch.fnmatchcase(p.id, pat) for pat in exclude)]
    return out


def _select_checks(
    planned: list[Planned], registry: Registry, config: Config, patterns: Sequence[str]
) -> list[Planned]:
    by_id = {p.id: p for p in planned}
    chosen: dict[str, Planned] = {}
    for pat in patterns:
        hits = [p for p in planned if fnmatch.fnmatchcase(p.id, pat)]
        if not hits and pat in registry.checks:
            # a registered check that the checklist does not list runs with its defaults
            spec = registry.checks[pat]
            params, _ = validate_params(spec, {})
            hits = [
                Planned(
                    spec=spec,
                    id=spec.id,
                    title=spec.title,
                    severity=spec.severity,
                    params=params,
                    timeout=config.defaults.timeout,
                    tags=spec.tags,
                    remediation=spec.remediation,
                )
            ]
        if not hits:
            known = list(dict.fromkeys([*by_id, *registry.checks]))
            raise UsageError(f"no check matches {pat!r}{did_you_mean_id(pat, known)}")
        for h in hits:
            chosen.setdefault(h.id, h)
    return [p for p in planned if p.id in chosen] + [p for i, p in chosen.items() if i not in by_id]
