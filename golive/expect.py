"""Expectations written in golive.yaml: comparisons such as ``"< 100"`` and JSON paths.

    >>> parse_expectation("<= 0.5").holds(0.25)
    True
    >>> json_path({"checks": {"db": {"status": "ok"}}}, "$.checks.db.status")
    'ok'

A comparison is an operator (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``) followed by a
value; the value is read as JSON when it parses (``5``, ``0.5``, ``true``, ``"ok"``) and as
a plain string otherwise. Numbers compare numerically (a numeric string such as Prometheus'
``"42"`` counts as a number); anything else compares for equality only. Without an
operator, ``==`` is meant.

The JSON path subset: ``$`` (optional) followed by ``.key``, ``['key']`` or ``[index]``
(negative indexes count from the end), e.g. ``$.checks.database.status`` or ``items[0].id``.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(r"^\s*(==|!=|<=|>=|<|>|=)?\s*(.*?)\s*$", re.DOTALL)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


@dataclass(frozen=True)
class Expectation:
    """One comparison: `op` and the expected `value`."""

    op: str
    value: Any

    def holds(self, actual: Any) -> bool:
        """True when `actual <op> value` (numbers numerically, else equality only)."""
        compare = _OPS[self.op]
        a, b = _number(actual), _number(self.value)
        if a is not None and b is not None:
            return compare(a, b)
        if self.op in ("==", "!="):
            plain = not isinstance(actual, bool) and not isinstance(self.value, bool)
            equal = actual == self.value or (plain and str(actual) == str(self.value))
            return equal if self.op == "==" else not equal
        return False

    def __str__(self) -> str:
        shown = self.value if isinstance(self.value, str) else json.dumps(self.value)
        return f"{self.op} {shown}"


def parse_expectation(text: str | float | bool) -> Expectation:
    """Parse ``"< 100"``, ``"== ok"``, ``">= 0.95"`` or a bare value (meaning ``==``).

    Raises ValueError for an empty comparison."""
    if not isinstance(text, str):
        return Expectation("==", text)
    m = _EXPR.match(text)
    if m is None or not m.group(2):
        raise ValueError(f"{text!r} is not a comparison such as '< 100', '== ok' or '>= 0.95'")
    op = m.group(1) or "=="
    op = "==" if op == "=" else op
    raw = m.group(2)
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"" else raw
    if op not in ("==", "!=") and _number(value) is None:
        raise ValueError(f"{text!r} compares with {op} but {raw!r} is not a number")
    return Expectation(op, value)


_STEP = re.compile(r"\.([^.\[\]]+)|\[\s*(-?\d+)\s*\]|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]")


def parse_path(path: str) -> list[str | int]:
    """The steps of a JSON path (keys and indexes); raises ValueError when malformed."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    if text and not text.startswith((".", "[")):
        text = "." + text
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read JSON path {path!r} at {text[pos:]!r}")
        key, index, quoted, dquoted = m.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(next(s for s in (key, quoted, dquoted) if s is not None))
        pos = m.end()
    return steps


def json_path(document: Any, path: str) -> Any:
    """The value at `path` in a decoded JSON document; raises LookupError naming the step
    that is missing, ValueError when the path itself is malformed."""
    current = document
    walked = "$"
    for step in parse_path(path):
        if isinstance(step, int):
            if not isinstance(current, list):
                raise LookupError(f"{walked} is not a list, cannot take [{step}]")
            try:
                current = current[step]
            except IndexError:
                raise LookupError(f"{walked} has {len(current)} items, no [{step}]") from None
            walked += f"[{step}]"
        else:
            if not isinstance(current, dict):
                raise LookupError(f"{walked} is not an object, cannot take .{step}")
            if step not in current:
                keys = ", ".join(sorted(map(str, current))[:10])
                raise LookupError(f"{walked} has no key {step!r} (keys: {keys})")
            current = current[step]
            walked += f".{step}"
    return current
