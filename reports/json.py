"""JSON report: the run model as versioned JSON (schema in run.schema.json), and back."""

from __future__ import annotations

import dataclasses
import enum
import json
from functools import lru_cache
from typing import Any

from golive.errors import RunFileError
from golive.models import SCHEMA_VERSION, Run


def to_dict(run: Run) -> dict[str, Any]:
    """The run as plain JSON-ready data.

    `wait` is left out when the run did not wait (no --wait): a run saved before it existed
    reads back to the same data, so its digest, which sign-offs are bound to, is unchanged.
    """
    data: dict[str, Any] = _plain(dataclasses.asdict(run))
    if data.get("wait") is None:
        data.pop("wait", None)
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def render(run: Run) -> str:
    """Render a run as indented JSON."""
    return (
        json.dumps(to_dict(run), indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"
    )


@lru_cache(maxsize=1)
def _adapter() -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(Run)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the report (shipped as golive/reports/run.schema.json)."""
    schema: dict[str, Any] = _adapter().json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "golive run"
    return schema


def from_dict(data: Any, source: str = "<run>") -> Run:
    """Read a run back from JSON data; a wrong version or shape is a RunFileError."""
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise RunFileError(f"{source}: not a golive run (expected a JSON object)")
    version = str(data.get("schema_version", ""))
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise RunFileError(
            f"{source}: schema_version {version or 'missing'} is not supported "
            f"(this golive reads {SCHEMA_VERSION})"
        )
    try:
        run: Run = _adapter().validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RunFileError(f"{source}: not a valid golive run: {where}: {first['msg']}") from None
    return run


def load(path: str) -> Run:
    """Read a saved JSON run from a file."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFileError(f"{path}: not valid JSON: {exc}") from None
    return from_dict(data, path)


if __name__ == "__main__":  # regenerate the shipped schema: python -m golive.reports.json
    from pathlib import Path

    out = Path(__file__).with_name("run.schema.json")
    out.write_text(json.dumps(json_schema(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
