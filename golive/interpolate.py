"""Variable interpolation with the syntax Docker Compose uses.

Supported: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`,
`${VAR?message}`, `${VAR:+alternative}`, `${VAR+alternative}` and `$$` for a literal `$`.
Defaults may themselves contain `${...}` references. golive.yaml and compose files share
this one implementation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A `${VAR:?message}` with VAR unset, or a malformed reference."""


@dataclass
class Interpolated:
    """The interpolated text and the variables it read (name -> value or None when unset)."""

    text: str
    used: dict[str, str | None] = field(default_factory=dict)


def interpolate(
    text: str,
    env: Mapping[str, str],
    *,
    strict_missing: bool = False,
) -> Interpolated:
    """Expand variables in `text` from `env`.

    With `strict_missing`, a bare `${VAR}` whose VAR is unset is an error (golive.yaml wants
    that); Compose substitutes an empty string instead, which is the default here.
    """
    used: dict[str, str | None] = {}
    out = _expand(text, env, used, strict_missing)
    return Interpolated(out, used)


def _expand(text: str, env: Mapping[str, str], used: dict[str, str | None], strict: bool) -> str:
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        if i + 1 < n and text[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        if i + 1 < n and text[i + 1] == "{":
            end = _matching_brace(text, i + 1)
            if end < 0:
                raise InterpolationError(f"unclosed '${{' in {text!r}")
            out.append(_expand_braced(text[i + 2 : end], env, used, strict))
            i = end + 1
            continue
        m = _NAME.match(text, i + 1)
        if m:
            name = m.group(0)
            value = env.get(name)
            used[name] = value
            if value is None and strict:
                raise InterpolationError(f"environment variable {name} is not set")
            out.append(value or "")
            i = m.end()
            continue
        out.append("$")
        i += 1
    return "".join(out)


def _matching_brace(text: str, open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return -1


def _expand_braced(
    body: str, env: Mapping[str, str], used: dict[str, str | None], strict: bool
) -> str:
    m = _NAME.match(body)
    if not m:
        raise InterpolationError(f"invalid variable reference '${{{body}}}'")
    name = m.group(0)
    rest = body[m.end() :]
    value = env.get(name)
    used[name] = value
    if not rest:
        if value is None and strict:
            raise InterpolationError(f"environment variable {name} is not set")
        return value or ""
    colon = rest.startswith(":")
    op_at = 1 if colon else 0
    if op_at >= len(rest):
        raise InterpolationError(f"invalid variable reference '${{{body}}}'")
    op = rest[op_at]
    word = rest[op_at + 1 :]
    unset = value is None or (colon and value == "")
    if op == "-":
        return _expand(word, env, used, strict) if unset else (value or "")
    if op == "?":
        if unset:
            msg = _expand(word, env, used, False) or f"environment variable {name} is not set"
            raise InterpolationError(f"{name}: {msg}")
        return value or ""
    if op == "+":
        return "" if unset else _expand(word, env, used, strict)
    raise InterpolationError(f"invalid variable reference '${{{body}}}'")


def parse_env_file(text: str) -> dict[str, str]:
    """Parse a `.env` file as Compose does: KEY=VALUE lines, `#` comments, optional quotes."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _NAME.fullmatch(key):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            quote = value[0]
            value = value[1:-1]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            hash_at = value.find(" #")
            if hash_at >= 0:
                value = value[:hash_at].rstrip()
        out[key] = value
    return out
