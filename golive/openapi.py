"""The API's OpenAPI document: its operations, their request schemas, and request bodies
built to satisfy them.

golive asks the API what it serves before it sends a request of its own: probes find
their operation here (method and path, `/tasks` and `/tasks/` being the same operation
behind a 307), read the operation's JSON request schema with every `$ref` resolved, and
build their body from golive's preferred values for each field, adjusted to the schema
(the first candidate that the field's schema accepts). The finished body is validated
with `jsonschema` against the whole request schema before anything is sent; a body that
cannot satisfy it raises :class:`UnsatisfiableBody` naming the operation and the field.

Standard library only at import time: `jsonschema` is imported by the functions that
validate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_MAX_DEPTH = 12  # deeper (recursive) schemas are left open rather than inlined forever


class OpenApiUnavailable(Exception):
    """The API serves no usable OpenAPI document; the message says why."""


class UnsatisfiableBody(Exception):
    """golive cannot build a request body that the operation's schema accepts."""

    def __init__(self, operation: str, field: str, reason: str) -> None:
        self.operation = operation
        self.field = field
        self.reason = reason
        what = f"cannot satisfy field `{field}`" if field[:1] != "(" else "cannot build a body"
        super().__init__(f"operation {operation}: {what}: {reason}")


def _segments(path: str) -> list[str]:
    return [s for s in path.strip("/").split("/") if s]


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


@dataclass(frozen=True)
class Operation:
    """One documented operation (`METHOD /path`)."""

    method: str
    path: str
    spec: Mapping[str, Any]
    api: OpenApi

    @property
    def label(self) -> str:
        """`POST /tasks/`: how messages name the operation."""
        return f"{self.method} {self.path}"

    def parameters(self) -> list[dict[str, Any]]:
        """The operation's parameters (path-level ones included), `$ref`s resolved."""
        item = self.api.paths.get(self.path, {})
        params = [*item.get("parameters", []), *self.spec.get("parameters", [])]
        return [self.api.deref(p) for p in params if isinstance(p, Mapping)]

    @property
    def has_path_params(self) -> bool:
        """True when the path has a `{template}` segment."""
        return any(_is_param(s) for s in _segments(self.path))

    def required_params(self, where: str) -> list[str]:
        """Names of the required parameters located `in` where (query, header, path)."""
        return [
            str(p.get("name"))
            for p in self.parameters()
            if p.get("in") == where and p.get("required")
        ]

    @property
    def declares_auth(self) -> bool:
        """The document says the operation needs credentials (a security requirement, or a
        required Authorization header parameter)."""
        security = self.spec.get("security", self.api.doc.get("security"))
        if isinstance(security, list) and any(req for req in security):
            return True
        return "authorization" in (n.lower() for n in self.required_params("header"))

    def request_schema(self) -> dict[str, Any] | None:
        """The JSON request body's schema, `$ref`s inlined (None: no JSON body)."""
        body = self.api.deref(self.spec.get("requestBody") or {})
        content = body.get("content") or {}
        for media, entry in content.items():
            if media.split(";")[0].strip() in ("application/json", "*/*") or media.endswith(
                "+json"
            ):
                schema = entry.get("schema") if isinstance(entry, Mapping) else None
                if isinstance(schema, Mapping):
                    inlined = self.api.inline(schema)
                    return inlined if isinstance(inlined, dict) else None
        return None


class OpenApi:
    """An OpenAPI 3.x document as the API served it."""

    def __init__(self, doc: Mapping[str, Any], source: str = "/openapi.json") -> None:
        version = str(doc.get("openapi", ""))
        if not isinstance(doc.get("paths"), Mapping):
            raise OpenApiUnavailable(f"{source} is not an OpenAPI document (it has no `paths`)")
        if not version.startswith("3."):
            found = f"Swagger {doc['swagger']}" if "swagger" in doc else "no `openapi` version"
            raise OpenApiUnavailable(f"{source} is not an OpenAPI 3 document ({found})")
        self.doc = doc
        self.source = source
        self.version = version
        self.paths: Mapping[str, Any] = doc["paths"]

    def operations(self) -> Iterator[Operation]:
        """Every documented operation, in document order."""
        for path, item in self.paths.items():
            if not isinstance(item, Mapping):
                continue
            for method in METHODS:
                spec = item.get(method)
                if isinstance(spec, Mapping):
                    yield Operation(method.upper(), str(path), spec, self)

    def find(self, method: str, path: str) -> Operation | None:
        """The operation for `METHOD path`: the path as documented, else the same path with
        or without its trailing slash (the 307 convention), else a documented template that
        it fills (`/tasks/{task_id}` for `/tasks/0b1e...`); `{x}` in `path` matches any
        template segment."""
        method = method.upper()
        ops = [op for op in self.operations() if op.method == method]
        for candidate in (path, path.rstrip("/") or "/", path.rstrip("/") + "/"):
            for op in ops:
                if op.path == candidate:
                    return op
        want = _segments(path)
        for op in ops:
            have = _segments(op.path)
            if len(have) == len(want) and all(
                h == w or _is_param(h) for h, w in zip(have, want, strict=True)
            ):
                return op
        return None

    def labels(self, method: str | None = None) -> list[str]:
        """`METHOD /path` of every operation (of one method), for messages."""
        return [op.label for op in self.operations() if method is None or op.method == method]

    def deref(self, node: Any) -> Any:
        """Follow a chain of local `$ref`s (`#/components/...`) at the top of a node."""
        seen: set[str] = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/"):
                return {}
            seen.add(ref)
            target: Any = self.doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, Mapping) else None
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings} if isinstance(target, Mapping) and siblings else target
        return node if node is not None else {}

    def inline(self, node: Any, depth: int = 0) -> Any:
        """A copy of a schema with every local `$ref` replaced by what it points to."""
        if depth > _MAX_DEPTH:
            return {}
        node = self.deref(node)
        if isinstance(node, Mapping):
            return {k: self.inline(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list):
            return [self.inline(v, depth + 1) for v in node]
        return node


# ---------------------------------------------------------------------------------------------
# request bodies


def _field(path: Sequence[Any]) -> str:
    return ".".join(str(p) for p in path) or "(body)"


class InvalidSchema(Exception):
    """The API's schema is not valid JSON Schema (of the dialect its OpenAPI version uses)."""


def problems(schema: Mapping[str, Any], value: Any, openapi: str = "3.1") -> list[tuple[str, str]]:
    """(field, message) of every way `value` breaks `schema` (empty: it is valid).

    OpenAPI 3.1 schemas are JSON Schema 2020-12; 3.0 ones are read as draft 4, whose
    boolean `exclusiveMinimum` they use. Raises :class:`InvalidSchema` for a schema that
    is not valid in its dialect."""
    import jsonschema

    default = (
        jsonschema.Draft4Validator if openapi.startswith("3.0") else jsonschema.Draft202012Validator
    )
    cls = jsonschema.validators.validator_for(schema, default=default)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        where = _field(exc.absolute_path)
        raise InvalidSchema(
            f"the API's schema is not valid JSON Schema ({where}: {exc.message})"
        ) from None
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(value), key=lambda e: (list(e.absolute_path), e.message))
    out = []
    for err in errors:
        best = jsonschema.exceptions.best_match([err])
        out.append((_field(best.absolute_path), best.message))
    return out


def build_body(
    op: Operation,
    wanted: Mapping[str, Sequence[Any]],
    *,
    essential: Sequence[str] = (),
    exact: Sequence[str] = (),
) -> dict[str, Any]:
    """A JSON body for `op` from golive's candidate values per field.

    For each field the schema declares, the first candidate its schema accepts is used (a
    whole number outside the field's minimum/maximum is moved inside it, unless the field
    is in `exact`: values the user gave are sent as given or refused); fields the schema
    does not declare are left out. Raises :class:`UnsatisfiableBody` when
    an `essential` field is not in the schema, when the schema requires a field golive has
    no value for, when no candidate fits a field, or when the finished body still fails
    the whole schema (checked with jsonschema)."""
    try:
        return _build(op, wanted, essential, exact)
    except InvalidSchema as exc:
        raise UnsatisfiableBody(op.label, "(schema)", str(exc)) from None


def _build(
    op: Operation,
    wanted: Mapping[str, Sequence[Any]],
    essential: Sequence[str],
    exact: Sequence[str],
) -> dict[str, Any]:
    version = op.api.version
    schema = op.request_schema()
    if schema is None:
        raise UnsatisfiableBody(op.label, "(body)", "the operation documents no JSON request body")
    props = schema.get("properties")
    props = props if isinstance(props, Mapping) else None
    required = [str(r) for r in schema.get("required", []) if isinstance(r, str)]
    if props is not None:
        for name in essential:
            if name not in props:
                raise UnsatisfiableBody(
                    op.label,
                    name,
                    "the request schema has no such field (it has "
                    + ", ".join(sorted(props))
                    + "), and golive needs it",
                )
    for name in required:
        if name not in wanted:
            raise UnsatisfiableBody(
                op.label,
                name,
                "the API requires it and golive has no value for it (give one in the "
                "check's parameters)",
            )
    body: dict[str, Any] = {}
    for name, candidates in wanted.items():
        if props is not None and name not in props:
            continue
        sub = props[name] if props is not None else {}
        tried: list[str] = []
        for value in candidates:
            found = problems(sub, value, version) if isinstance(sub, Mapping) else []
            if not found:
                body[name] = value
                break
            tried.append(found[0][1])
        else:
            fitted = (
                _clamped(sub, candidates[0], version) if candidates and name not in exact else None
            )
            if fitted is not None:
                body[name] = fitted
            elif candidates:
                raise UnsatisfiableBody(op.label, name, "; ".join(dict.fromkeys(tried)))
    remaining = problems(schema, body, version)
    if remaining:
        field, message = remaining[0]
        raise UnsatisfiableBody(op.label, field, message)
    return body


def _clamped(schema: Any, value: Any, version: str) -> Any:
    """A whole number moved into the schema's [minimum, maximum], if that satisfies it."""
    if not isinstance(schema, Mapping) or isinstance(value, bool) or not isinstance(value, int):
        return None
    low, high = schema.get("minimum"), schema.get("maximum")
    # 2020-12 writes exclusive bounds as numbers, OpenAPI 3.0 as booleans beside the bound
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        bound = schema.get(key)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool):
            if key == "exclusiveMinimum":
                low = bound if low is None else max(low, bound)
            else:
                high = bound if high is None else min(high, bound)
    fitted = value
    if isinstance(low, (int, float)) and fitted < low:
        fitted = math.ceil(low)
    if isinstance(high, (int, float)) and fitted > high:
        fitted = math.floor(high)
    # one step further inside when the bound itself is excluded
    for candidate in (fitted, fitted + 1, fitted - 1):
        if candidate != value and not problems(schema, candidate, version):
            return candidate
    return None


_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def answer_reason(resp: Any, limit: int = 300) -> str:
    """The reason an API gave in an error answer: FastAPI's `detail` (a string, or a list
    of `{loc, msg}` validation errors), else `message`/`error`, else the start of the body."""
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    text = ""
    if isinstance(doc, Mapping):
        detail = doc.get("detail")
        if detail is None:
            detail = doc.get("message") or doc.get("error")
        if isinstance(detail, list):
            parts = []
            for item in detail[:5]:
                if isinstance(item, Mapping):
                    loc = [str(x) for x in item.get("loc", []) if x != "body"]
                    msg = str(item.get("msg", ""))
                    parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
                else:
                    parts.append(str(item))
            text = "; ".join(parts)
        elif detail is not None:
            text = str(detail)
    if not text:
        text = (getattr(resp, "text", "") or "").strip() or "(empty body)"
    text = _UNSAFE.sub(" ", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
