"""Secret redaction: every value that came from a secret is registered here, and every piece
of output (console, reports, logs, error messages) passes through `Redactor.redact`.

A registered secret is masked where it stands as a value, never inside another word: the
Grafana password `admin` hides `password: admin` but leaves "administrative" alone. How
far a secret reaches depends on what it looks like:

- a *weak* secret (shorter than 8 characters, or a single word of at most 12 letters such
  as `admin`, `password`, `orchestrator`) is masked where it appears as a value: after
  `=` or `:` (spaces and an opening quote allowed), after a quote, or alone on a line (a
  whole evidence value). In prose it stays, so
  that "the admin agent" or "the orchestrator role" keep their words; such a secret is
  itself a finding of the check that reads it (`security.compose_plaintext_secrets`);
- any other secret is masked as a whole token: not preceded or followed by a letter, digit
  or underscore (where the secret itself starts or ends with one);
- a secret of `ANYWHERE_LENGTH` (16) characters or more is masked wherever it appears, even
  glued to other characters: text cannot contain it by accident, and a secret glued to a
  prefix is still a leak.

Each secret is registered with its escaped forms (HTML, JSON, URL percent-encoding).
Besides the registered values, URL credentials (`scheme://user:password@host`),
`password=` pairs in libpq connection strings and `Bearer` tokens are masked wherever they
appear, so a secret that golive never saw as such (an error message quoting a DSN) is
still hidden.
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
from urllib.parse import quote

MASK = "***"
#: Shorter values are not registered: masking one- to three-character values would mangle
#: numbers and words, and a secret that short is reported as weak by the check reading it.
MIN_SECRET_LENGTH = 4
#: Secrets at least this long are masked wherever they appear (see the module docstring).
ANYWHERE_LENGTH = 16
#: Values under a secret-looking name that are settings, not secrets.
_NOT_SECRETS = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null"})

_SECRET_NAME = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth|dsn|database_url)",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(
    r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)(?P<pw>[^\s@/]+)(?=@)"
)
_KV_PASSWORD = re.compile(r"(?P<pre>\bpassword\s*=\s*)(?P<pw>'[^']*'|\S+)", re.IGNORECASE)
_BEARER = re.compile(r"(?P<pre>\bBearer\s+)(?P<pw>[A-Za-z0-9._~+/=-]{8,})")
_WORD = re.compile(r"\w", re.UNICODE)
# where a weak secret stands as a value: after '=' or ':' (spaces, an opening quote), or
# after a quote
_VALUE_BEFORE = r"(?P<pre>[=:][ \t]*[\"'`]?|[\"'`])"

T = TypeVar("T")


class Reach(enum.IntEnum):
    """Where a registered value is masked (see the module docstring)."""

    VALUE = 0  # where it stands as a value
    TOKEN = 1  # as a whole token
    ANYWHERE = 2  # wherever it appears


def looks_secret(name: str) -> bool:
    """True when an environment variable or key name suggests it holds a secret."""
    return bool(_SECRET_NAME.search(name))


def is_weak_secret(value: str) -> bool:
    """True for a secret a person could guess or that reads as a word: shorter than 8
    characters, or only letters and at most 12 of them (`admin`, `password`)."""
    return len(value) < 8 or (value.isalpha() and len(value) <= 12)


def reach(value: str) -> Reach:
    """Where `value` is masked once registered."""
    if len(value) >= ANYWHERE_LENGTH:
        return Reach.ANYWHERE
    return Reach.VALUE if is_weak_secret(value) else Reach.TOKEN


def _bounded(secret: str) -> str:
    """`secret` as a regex that matches it only where it is not part of a longer word."""
    left = r"(?<!\w)" if _WORD.match(secret[0]) else ""
    right = r"(?!\w)" if _WORD.match(secret[-1]) else ""
    return left + re.escape(secret) + right


class Redactor:
    """Masks registered secrets and credential patterns in text and data."""

    def __init__(self) -> None:
        self._secrets: dict[str, Reach] = {}
        self._patterns: list[tuple[re.Pattern[str], bool]] | None = None

    def add(self, value: str | None) -> None:
        """Register a secret value (and its escaped forms as they appear in HTML, JSON and
        URLs)."""
        if not value or len(value) < MIN_SECRET_LENGTH or value.lower() in _NOT_SECRETS:
            return
        how = reach(value)
        variants = {
            value,
            html.escape(value),
            html.escape(value, quote=False),
            json.dumps(value)[1:-1],
            quote(value, safe=""),
        }
        changed = False
        for v in variants:
            if v and self._secrets.get(v, -1) < how:
                self._secrets[v] = how
                changed = True
        if changed:
            self._patterns = None

    def add_all(self, values: Iterable[str | None]) -> None:
        """Register several secret values."""
        for v in values:
            self.add(v)

    @property
    def secrets(self) -> frozenset[str]:
        """The registered values (for tests)."""
        return frozenset(self._secrets)

    def _compiled(self) -> list[tuple[re.Pattern[str], bool]]:
        """(pattern, keeps a `pre` group) for each reach, widest reach first, so that a
        longer secret is masked before a shorter one inside it."""
        if self._patterns is None:
            out: list[tuple[re.Pattern[str], bool]] = []
            for how in (Reach.ANYWHERE, Reach.TOKEN, Reach.VALUE):
                group = sorted(
                    (s for s, r in self._secrets.items() if r is how), key=len, reverse=True
                )
                if not group:
                    continue
                if how is Reach.ANYWHERE:
                    out.append((re.compile("|".join(re.escape(s) for s in group)), False))
                elif how is Reach.TOKEN:
                    out.append((re.compile("|".join(_bounded(s) for s in group)), False))
                else:
                    body = "|".join(_bounded(s) for s in group)
                    out.append((re.compile(f"{_VALUE_BEFORE}(?:{body})"), True))
                    # a line (or a whole string: one evidence value) that is the secret
                    line = rf"^(?P<pre>[ \t]*)(?:{body})(?=[ \t]*$)"
                    out.append((re.compile(line, re.MULTILINE), True))
            self._patterns = out
        return self._patterns

    def redact(self, text: str) -> str:
        """Return `text` with every secret masked."""
        if not text:
            return text
        for pattern, keeps_pre in self._compiled():
            if keeps_pre:
                text = pattern.sub(lambda m: m.group("pre") + MASK, text)
            else:
                text = pattern.sub(MASK, text)
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
