"""Pure helpers of the security checks: secret strength, JWTs, compose environments, ports.

Nothing here talks to a target; `checks/security.py` does, and hands values to these
functions. Standard library only, so importing the section stays cheap.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

#: Values that ship as examples or defaults and are therefore known to everyone.
KNOWN_DEFAULT_SECRETS: tuple[str, ...] = (
    "dev-secret-key-change-in-production",
    "change-me",
    "changeme",
    "change_me",
    "changeit",
    "secret",
    "secret-key",
    "secret_key",
    "secretkey",
    "supersecret",
    "super-secret",
    "super-secret-key",
    "your-secret-key",
    "your-secret-key-here",
    "your_secret_key",
    "jwt-secret",
    "jwt_secret",
    "jwt-secret-key",
    "mysecret",
    "my-secret",
    "password",
    "default",
    "development",
    "insecure",
    "test",
    "testing",
    "please-change-me",
    "replace-me",
)

_PLACEHOLDER = re.compile(
    r"change.?(me|it|this|in.?prod)|replace.?(me|this)|placeholder|example|dummy|"
    r"your.?(jwt.?)?(secret|key|token|password)|insecure|^<.*>$|^x{3,}$|^\*+$|"
    r"^(dev|test|demo|local)[-_]",
    re.IGNORECASE,
)

#: Names of environment variables whose values are secrets.
SECRET_NAME = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth[_-]?key|"
    r"access[_-]?key|signing[_-]?key)",
    re.IGNORECASE,
)
#: Names that say something ABOUT a secret (where it is, how long it lives), not the secret:
#: `POSTGRES_PASSWORD_FILE`, `JWT_ACCESS_TOKEN_EXPIRE_MINUTES`, `TOKEN_URL`.
_NOT_SECRET_NAME = re.compile(
    r"_(FILE|PATH|DIR|URL|URI|ENDPOINT|HOST|PORT|EXPIRE|EXPIRES|EXPIRY|EXPIRE_MINUTES|"
    r"EXPIRE_SECONDS|EXPIRE_HOURS|EXPIRE_DAYS|EXPIRATION|TTL|LIFETIME|MINUTES|SECONDS|HOURS|"
    r"DAYS|LENGTH|SIZE|ALGORITHM|ALG|TYPE|ENABLED|REQUIRED|HEADER|PREFIX|NAME|ID|ISSUER|"
    r"AUDIENCE|ROTATION|VERSION)$",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:([^\s@/]+)@")
_REFERENCE = re.compile(r"\$\{?[A-Za-z_]")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


# ---------------------------------------------------------------------------------------------
# secret strength


def shannon_bits_per_char(value: str) -> float:
    """Shannon entropy of the character distribution, in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def entropy_estimate(value: str) -> float:
    """A rough upper estimate of a secret's entropy in bits (length x bits per character)."""
    return len(value) * shannon_bits_per_char(value)


def _is_repetition(value: str) -> bool:
    """True when the value is a shorter string repeated (`abcabcabc`)."""
    return len(value) >= 4 and (value + value).find(value, 1) < len(value)


def _is_sequential(value: str) -> bool:
    """True for runs such as `abcdefgh`, `12345678` or `qwertyuiop` (case-insensitive)."""
    low = value.lower()
    for alphabet in (
        "abcdefghijklmnopqrstuvwxyz0123456789",
        "qwertyuiopasdfghjklzxcvbnm",
        "0123456789abcdef",
    ):
        doubled = alphabet + alphabet
        if len(low) >= 8 and low in doubled:
            return True
    return False


def secret_weakness(
    value: str | None,
    *,
    min_length: int,
    min_entropy_bits: float,
    known: tuple[str, ...] | list[str] = KNOWN_DEFAULT_SECRETS,
) -> str | None:
    """Why a signing secret is weak (one short phrase, never the value), or None if it is fine."""
    if value is None or value == "":
        return "is not set"
    low = value.strip().lower()
    if low in {k.lower() for k in known}:
        return "is a well-known default value"
    if _PLACEHOLDER.search(value):
        return "looks like a placeholder (e.g. 'change-me', 'your-secret', 'example')"
    if len(value) < min_length:
        return f"is {len(value)} characters long, shorter than the required {min_length}"
    if _is_repetition(value) or _is_sequential(value):
        return "is a repeated or sequential pattern"
    bits = entropy_estimate(value)
    if bits < min_entropy_bits:
        return f"has low entropy (about {bits:.0f} bits, need {min_entropy_bits:g})"
    return None


_PLACEHOLDER_WORDS = frozenset(
    {
        "pass",
        "passwd",
        "pw",
        "pwd",
        "token",
        "key",
        "user",
        "username",
        "none",
        "null",
        "redacted",
        "hidden",
        "masked",
        "...",
        "todo",
        "tbd",
    }
)
_TEMPLATE = re.compile(r"\$\{|\{\{|\{%|%\(|^\$[A-Za-z_]|^<.*>$")


def placeholder_value(value: str, kind: str = "") -> bool:
    """True when a value found by a scanner is a placeholder or prose, not a real secret.

    `kind` is the detect-secrets type; for `Secret Keyword` hits (a value next to a word
    such as password) text with spaces or backticks and a lone upper-case word (`FAIL`,
    `TRUE`) are prose, not credentials."""
    v = value.strip().strip("'\"")
    if not v or "***" in v:
        return True
    low = v.lower()
    if low in _PLACEHOLDER_WORDS or low in {k.lower() for k in KNOWN_DEFAULT_SECRETS}:
        return True
    if _TEMPLATE.search(v) or set(v) <= set("*x.X-_"):
        return True
    if _is_sequential(v) or (len(v) >= 8 and _is_repetition(v)):
        return True
    if kind == "Secret Keyword" and (
        any(c.isspace() or c == "`" for c in v) or (v.isalpha() and v.isupper() and len(v) <= 10)
    ):
        return True
    return bool(_PLACEHOLDER.search(v))


# ---------------------------------------------------------------------------------------------
# JSON Web Tokens (HS256 and the unsigned `none` algorithm), standard library only


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _segments(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    head = _b64url(json.dumps(dict(header), separators=(",", ":")).encode())
    body = _b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    return f"{head}.{body}"


def hs256_token(claims: Mapping[str, Any], key: str) -> str:
    """A JWT signed with HMAC-SHA256 under `key`."""
    signing_input = _segments({"alg": "HS256", "typ": "JWT"}, claims)
    sig = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(sig)}"


def unsigned_token(claims: Mapping[str, Any]) -> str:
    """A JWT with `alg: none` and no signature (accepted only by broken verifiers)."""
    return _segments({"alg": "none", "typ": "JWT"}, claims) + "."


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT, decoded WITHOUT verifying it (None when it is not a JWT)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(_b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def token_lifetime_minutes(claims: Mapping[str, Any], now: float) -> float | None:
    """Lifetime of a token from its `exp` and `iat` claims (or from now when `iat` is absent)."""
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)):
        return None
    start = claims.get("iat")
    begin = float(start) if isinstance(start, (int, float)) else now
    return (float(exp) - begin) / 60.0


# ---------------------------------------------------------------------------------------------
# environment values


def env_list_to_dict(items: Any, fallback: Mapping[str, str]) -> dict[str, str | None]:
    """A compose `environment:` (mapping or `KEY=VALUE` list) or a container's `Env` as a dict.

    A bare `KEY` takes its value from `fallback` (the shell environment and .env), as Compose
    does; None means the variable is declared but has no value anywhere.
    """
    out: dict[str, str | None] = {}
    if isinstance(items, Mapping):
        for k, v in items.items():
            out[str(k)] = None if v is None else scalar_text(v)
    elif isinstance(items, list):
        for item in items:
            if not isinstance(item, str):
                continue
            key, sep, value = item.partition("=")
            out[key.strip()] = value if sep else fallback.get(key.strip())
    return out


def scalar_text(value: Any) -> str:
    """A YAML scalar as Compose passes it to a container (`true`, not `True`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_bool(value: str | None) -> bool | None:
    """`true`/`false` and friends as a bool; None when unset or not a boolean."""
    if value is None:
        return None
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return None


def parse_int(value: str | None) -> int | None:
    """An integer setting, or None when unset or not a whole number."""
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def is_secret_name(name: str) -> bool:
    """True when an environment variable's name says it holds a secret value."""
    return bool(SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def url_password(value: str) -> str | None:
    """The password inside a URL (`scheme://user:password@host`), or None."""
    m = _URL_PASSWORD.search(value)
    if not m:
        return None
    try:
        pw = urlsplit(value[m.start() :]).password
    except ValueError:
        pw = m.group(1)
    return unquote(pw) if pw else None


def is_reference(value: str) -> bool:
    """True when a raw compose value is (or contains) a `${VAR}` / `$VAR` reference."""
    return bool(_REFERENCE.search(value))


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?([^}]*)\}")


def plaintext_default(value: str) -> str | None:
    """The literal default of `${VAR:-default}` / `${VAR-default}` in a raw value, if any."""
    for m in _INTERPOLATION.finditer(value):
        op, word = m.group(2) or "", m.group(3)
        if op.endswith("-") and word and not is_reference(word):
            return word
    return None


def _template_or_masked(value: str) -> bool:
    """True for a value that is not a password at all: empty, masked (`***`, `xxxx`) or a
    template (`{{ vault_pw }}`, `<your-password>`)."""
    v = value.strip().strip("'\"")
    return not v or "***" in v or bool(_TEMPLATE.search(v)) or set(v) <= set("*x.X-_")


#: Passwords that guessing tries first (besides KNOWN_DEFAULT_SECRETS and placeholders).
_COMMON_PASSWORDS = frozenset(
    {
        "admin",
        "administrator",
        "root",
        "guest",
        "letmein",
        "qwerty",
        "welcome",
        "master",
        "postgres",
        "grafana",
        "redis",
        "orchestrator",
        "abc123",
        "123456",
        "12345678",
        "password1",
        "passw0rd",
        "p@ssw0rd",
    }
)


def password_weakness(value: str) -> str | None:
    """Why a literal password is guessable (one short phrase, never the value), or None."""
    v = value.strip()
    low = v.lower()
    if (
        low in _COMMON_PASSWORDS
        or low in _PLACEHOLDER_WORDS
        or low in {k.lower() for k in KNOWN_DEFAULT_SECRETS}
        or _PLACEHOLDER.search(v)
    ):
        return "a well-known default or placeholder"
    if _is_sequential(v) or (len(v) >= 4 and _is_repetition(v)):
        return "a repeated or sequential pattern"
    if len(v) < 8:
        return f"{len(v)} characters long"
    if v.isalpha() and len(v) <= 12:
        return "a single word"
    return None


def literal_secret(name: str, raw: str) -> tuple[str, str] | None:
    """(kind, value) when a raw compose environment entry holds a plaintext secret.

    kind is `value` (the whole value is literal), `url` (a password inside a URL) or
    `default` (the literal default of a `${VAR:-default}` reference). A literal that looks
    like a placeholder (`changeme`, `admin`) is still one: it is the password the service
    gets, and a guessable one (see `password_weakness`); only templates and masked values
    are not.
    """
    if not raw:
        return None
    pw = url_password(raw)
    if pw and not is_reference(pw) and not _template_or_masked(pw):
        return ("url", pw)
    if is_secret_name(name):
        default = plaintext_default(raw)
        if default is not None:
            return ("default", default)
        if not is_reference(raw) and not _template_or_masked(raw):
            return ("value", raw)
    return None


# ---------------------------------------------------------------------------------------------
# published ports


@dataclass(frozen=True)
class Published:
    """One published port: the host address it listens on, host port and container port."""

    host_ip: str  # "" means every interface
    host_port: str  # "" means a random port
    container_port: str
    protocol: str = "tcp"

    @property
    def is_public(self) -> bool:
        """True unless the port listens on a loopback address only."""
        ip = self.host_ip.strip("[]")
        return not (ip.startswith("127.") or ip in {"::1", "localhost"})

    def describe(self) -> str:
        """`0.0.0.0:5432->5432/tcp` style text."""
        ip = self.host_ip or "0.0.0.0"
        return f"{ip}:{self.host_port or '<random>'}->{self.container_port}/{self.protocol}"


def parse_compose_port(entry: Any) -> list[Published]:
    """Parse one compose `ports:` entry (short `[IP:][HOST:]CONTAINER[/proto]` or long form)."""
    if isinstance(entry, Mapping):
        target = str(entry.get("target", ""))
        return [
            Published(
                str(entry.get("host_ip") or ""),
                str(entry.get("published") or ""),
                target,
                str(entry.get("protocol") or "tcp"),
            )
        ]
    text = str(entry).strip()
    proto = "tcp"
    if "/" in text:
        text, proto = text.rsplit("/", 1)
    host_ip = ""
    if text.startswith("["):  # [::1]:5432:5432
        end = text.find("]")
        host_ip, text = text[: end + 1], text[end + 2 :]
        parts = text.split(":")
    else:
        parts = text.split(":")
        if len(parts) == 3:
            host_ip, parts = parts[0], parts[1:]
    if len(parts) == 1:
        host, container = "", parts[0]
    else:
        host, container = parts[0], parts[1]
    return [Published(host_ip, host, container, proto)]


def container_port_numbers(spec: str) -> set[int]:
    """Container port numbers of `5432`, `5432-5433` (a range), or `5432/tcp`."""
    spec = spec.split("/", 1)[0]
    if "-" in spec:
        lo, _, hi = spec.partition("-")
        if lo.isdigit() and hi.isdigit() and int(hi) - int(lo) < 65536:
            return set(range(int(lo), int(hi) + 1))
        return set()
    return {int(spec)} if spec.isdigit() else set()
