"""Check documentation generated from the registry: `golive explain` and docs/checks.md."""

from __future__ import annotations

from typing import Any

from golive.api import CheckSpec
from golive.config import did_you_mean
from golive.errors import UsageError
from golive.registry import SECTION_ORDER, Registry, parameters


def _type_name(tp: Any) -> str:
    name = getattr(tp, "__name__", None)
    text = str(tp) if name is None or getattr(tp, "__args__", None) else name
    return text.replace("typing.", "")


def _default(value: Any) -> str:
    return "required" if value is ... else repr(value)


def find(registry: Registry, name: str) -> CheckSpec:
    """A check by id, or a generic kind by name (`http` or `generic.http`)."""
    spec = registry.checks.get(name) or registry.generics.get(name.removeprefix("generic."))
    if spec is None:
        known = [*registry.checks, *registry.generics]
        raise UsageError(f"unknown check {name!r}{did_you_mean(name, known)}")
    return spec


def explain_text(registry: Registry, name: str) -> str:
    """Plain-text explanation of one check."""
    spec = find(registry, name)
    lines = [
        f"{spec.id}: {spec.title}" if not spec.generic else f"uses: {spec.name} ({spec.title})",
        "",
        f"  severity:    {spec.severity.value}"
        + ("  (default for `uses:` checks: medium)" if spec.generic else ""),
        f"  needs:       {', '.join(spec.needs) or 'nothing'}",
        "  writes:      "
        + (
            "yes (runs only with --allow-writes, and cleans up)"
            if spec.writes
            else "no (read-only)"
        ),
        f"  defined in:  {spec.source}",
        "",
        "What it proves:",
    ]
    lines += ["  " + line for line in (spec.description or "(no description)").splitlines()]
    params = parameters(spec)
    lines += ["", "Parameters (golive.yaml `params:`):"]
    if params:
        for pname, tp, default in params:
            lines.append(f"  {pname}: {_type_name(tp)} = {_default(default)}")
    else:
        lines.append("  (none)")
    lines += ["", "Remediation:", f"  {spec.remediation or '(none given)'}"]
    return "\n".join(lines)


def count_phrase(registry: Registry) -> str:
    """'N built-in checks in M sections': the figure the README and docs/checks.md quote.

    Counts the registered checks (not generic kinds) and the sections they belong to;
    a test keeps the README's sentence equal to this."""
    sections = {spec.section for spec in registry.checks.values()}
    return f"{len(registry.checks)} built-in checks in {len(sections)} sections"


def markdown(registry: Registry) -> str:
    """docs/checks.md: every check and generic kind, grouped by section."""
    out = [
        "# golive checks",
        "",
        "Generated from the check registry by `python -m golive.docs > docs/checks.md`;",
        "a test keeps it complete. `golive explain ID` prints the same for one check.",
        "",
        f"{count_phrase(registry)}, plus {len(registry.generics)} kinds of checks declared",
        "in golive.yaml alone (`uses:`, at the end).",
        "",
    ]
    by_section: dict[str, list[CheckSpec]] = {}
    for spec in registry.sorted():
        by_section.setdefault(spec.section, []).append(spec)
    order = [s for s in SECTION_ORDER if s in by_section] + [
        s for s in by_section if s not in SECTION_ORDER
    ]
    for section in order:
        out += [f"## {section}", ""]
        for spec in by_section[section]:
            out += _spec_md(spec, f"### `{spec.id}` — {spec.title}")
    if registry.generics:
        out += ["## Generic checks (`uses:`)", ""]
        for spec in sorted(registry.generics.values(), key=lambda s: s.name):
            out += _spec_md(spec, f"### `uses: {spec.name}` — {spec.title}")
    return "\n".join(out).rstrip() + "\n"


def _spec_md(spec: CheckSpec, heading: str) -> list[str]:
    lines = [heading, ""]
    meta = f"Severity **{spec.severity.value}**"
    meta += f" · needs {', '.join(f'`{n}`' for n in spec.needs)}" if spec.needs else ""
    meta += " · **writes** (only with `--allow-writes`)" if spec.writes else ""
    lines += [meta, "", spec.description or "(no description)", ""]
    params = parameters(spec)
    if params:
        lines += ["| parameter | type | default |", "|---|---|---|"]
        for pname, tp, default in params:
            lines.append(f"| `{pname}` | `{_type_name(tp)}` | `{_default(default)}` |")
        lines.append("")
    if spec.remediation:
        lines += [f"**Remediation:** {spec.remediation}", ""]
    return lines


if __name__ == "__main__":
    from golive.registry import build_registry

    print(markdown(build_registry()), end="")
