"""Secret redaction: every value that came from a secret is registered here, and every piece
of output (console, reports, logs, error messages) passes through `Redactor.redact`.

Besides the registered values, URL credentials (`scheme://user:password@host`), `password=`
pairs in libpq connection strings and `Bearer` tokens are masked wherever they appear, so a
secret that golive never saw as such (an error message quoting a DSN) is still hidden.
"""

from __future__ import annotations

import enum
import html
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

MASK = "***"
MIN_SECRET_LENGTH = 4

_SECRET_NAME = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth|dsn|database_url)",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(
    r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)(?P<pw>[^\s@/]+)(?=@)"
)
_KV_PASSWORD = re.compile(r"(?P<pre>\bpassword\s*=\s*)(?P<pw>'[^']*'|\S+)", re.IGNORECASE)
_BEARER = re.compile(r"(?P<pre>\bBearer\s+)(?P<pw>[A-Za-z0-9._~+/=-]{8,})")

T = TypeVar("T")


def looks_secret(name: str) -> bool:
    """True when an environment variable or key name suggests it holds a secret."""
    return bool(_SECRET_NAME.search(name))


class Redactor:
    """Masks registered secrets and credential patterns in text and data."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str | None) -> None:
        """Register a secret value (and its escaped forms as they appear in HTML and JSON)."""
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        variants = {value, html.escape(value), html.escape(value, quote=False)}
        variants.add(json.dumps(value)[1:-1])
        new = {v for v in variants if v and v not in self._secrets}
        if new:
            self._secrets |= new
            self._pattern = None

    def add_all(self, values: Iterable[str | None]) -> None:
        """Register several secret values."""
        for v in values:
            self.add(v)

    @property
    def secrets(self) -> frozenset[str]:
        """The registered values (for tests)."""
        return frozenset(self._secrets)

    def redact(self, text: str) -> str:
        """Return `text` with every secret masked."""
        if not text:
            return text
        if self._secrets:
            if self._pattern is None:
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
            text = self._pattern.sub(MASK, text)
        text = _URL_CREDENTIALS.sub(lambda m: m.group("pre") + MASK, text)
        text = _KV_PASSWORD.sub(lambda m: m.group("pre") + MASK, text)
        return _BEARER.sub(lambda m: m.group("pre") + MASK, text)

    def redact_obj(self, obj: T) -> T:
        """Return a copy of a JSON-like value or dataclass tree with every string redacted."""
        return self._walk(obj, 0)  # type: ignore[no-any-return]

    def _walk(self, obj: Any, depth: int) -> Any:
        if depth > 64:
            return obj
        if isinstance(obj, enum.Enum):
            return obj
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, Mapping):
            return {self._walk(k, depth + 1): self._walk(v, depth + 1) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            items = [self._walk(v, depth + 1) for v in obj]
            return tuple(items) if isinstance(obj, tuple) else items
        if is_dataclass(obj) and not isinstance(obj, type):
            changes = {f.name: self._walk(getattr(obj, f.name), depth + 1) for f in fields(obj)}
            return replace(obj, **changes)
        return obj


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record's message and arguments."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the formatted message in place; never drops a record."""
        record.msg = self._redactor.redact(record.getMessage())
        record.args = None
        return True
