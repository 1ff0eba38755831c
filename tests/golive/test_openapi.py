"""golive/openapi.py on real OpenAPI documents: the one FastAPI generates for the demo API
(in process, no server needed) and small documents written here for the edge cases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from golive.openapi import OpenApi, OpenApiUnavailable, UnsatisfiableBody, answer_reason, build_body

UUID = "0b1e4b3c-1111-2222-3333-444455556666"


@pytest.fixture(scope="module")
def demo_doc() -> OpenApi:
    pytest.importorskip("fastapi")
    from demo.api import app

    return OpenApi(app.openapi())


def wanted(**override: Any) -> dict[str, list[Any]]:
    base: dict[str, list[Any]] = {
        "title": ["golive-x throughput 00000"],
        "description": ["probe"],
        "created_by": [UUID],
        "schedule_kind": ["once"],
        "schedule_expr": ["2026-12-05T08:00:00+00:00"],
        "timezone": ["UTC", "Etc/UTC"],
        "payload": [{"pipeline": [{"id": "s1", "uses": "noop"}]}],
        "priority": [5],
        "max_retries": [0],
    }
    base.update({k: [v] for k, v in override.items()})
    return base


def test_operations_are_found_with_or_without_the_trailing_slash(demo_doc: OpenApi) -> None:
    assert demo_doc.find("POST", "/tasks/").label == "POST /tasks/"  # type: ignore[union-attr]
    assert demo_doc.find("post", "/tasks").label == "POST /tasks/"  # type: ignore[union-attr]
    cancel = demo_doc.find("POST", f"/tasks/{UUID}/cancel")
    assert cancel is not None and cancel.path == "/tasks/{task_id}/cancel"
    assert demo_doc.find("DELETE", "/tasks/{id}") is not None
    assert demo_doc.find("PUT", "/tasks/{id}") is None
    assert demo_doc.find("POST", "/tasks/").declares_auth  # type: ignore[union-attr]
    assert not demo_doc.find("GET", "/health").declares_auth  # type: ignore[union-attr]


def test_the_body_is_adjusted_to_the_schema_and_validated(demo_doc: OpenApi) -> None:
    op = demo_doc.find("POST", "/tasks/")
    assert op is not None
    body = build_body(op, wanted(), essential=["title"])
    assert body["timezone"] == "Etc/UTC"  # 'UTC' breaks the Area/City pattern
    assert body["title"] == "golive-x throughput 00000"
    # a whole number of golive's own is moved into the field's bounds...
    assert build_body(op, {**wanted(), "max_retries": [99]})["max_retries"] == 10
    # ...one the user gave is sent as given or refused
    with pytest.raises(UnsatisfiableBody) as err:
        build_body(op, wanted(max_retries=99), exact=["max_retries"])
    assert err.value.field == "max_retries"
    assert str(err.value).startswith("operation POST /tasks/: cannot satisfy field `max_retries`")


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (wanted(timezone="UTC"), "timezone", "'UTC' does not match '^[A-Za-z]+/[A-Za-z_]+$'"),
        (wanted(schedule_kind="sometimes"), "schedule_kind", "'sometimes' is not one of"),
        (wanted(created_by="me"), "created_by", "'me' is not a 'uuid'"),
        (
            {k: v for k, v in wanted().items() if k != "description"},
            "description",
            "the API requires it and golive has no value for it",
        ),
    ],
)
def test_a_field_golive_cannot_satisfy_is_named(
    demo_doc: OpenApi, body: dict[str, list[Any]], field: str, reason: str
) -> None:
    op = demo_doc.find("POST", "/tasks/")
    assert op is not None
    with pytest.raises(UnsatisfiableBody) as err:
        build_body(op, body)
    assert err.value.field == field
    assert reason in err.value.reason


def _doc(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths, **extra}


def test_refs_are_resolved_and_an_essential_field_must_exist() -> None:
    doc = OpenApi(
        _doc(
            {
                "/jobs": {
                    "post": {
                        "requestBody": {"$ref": "#/components/requestBodies/Job"},
                    }
                }
            },
            components={
                "requestBodies": {
                    "Job": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Job"}}
                        }
                    }
                },
                "schemas": {
                    "Job": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}},
                    }
                },
            },
        )
    )
    op = doc.find("POST", "/jobs/")
    assert op is not None
    assert op.request_schema() == {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}},
    }
    with pytest.raises(UnsatisfiableBody) as err:
        build_body(op, {"name": ["x"]}, essential=["title"])
    assert str(err.value) == (
        "operation POST /jobs: cannot satisfy field `title`: the request schema has no such "
        "field (it has name), and golive needs it"
    )
    assert build_body(op, {"name": ["x"], "unknown": [1]}) == {"name": "x"}


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"swagger": "2.0", "paths": {}}, "is not an OpenAPI 3 document (Swagger 2.0)"),
        ({"openapi": "3.1.0"}, "is not an OpenAPI document (it has no `paths`)"),
    ],
)
def test_documents_golive_cannot_read_are_refused(doc: dict[str, Any], reason: str) -> None:
    with pytest.raises(OpenApiUnavailable, match=reason.replace("(", r"\(").replace(")", r"\)")):
        OpenApi(doc)


@pytest.mark.parametrize(
    ("status", "content", "reason"),
    [
        (
            422,
            {"detail": [{"loc": ["body", "timezone"], "msg": "String should match pattern"}]},
            "timezone: String should match pattern",
        ),
        (400, {"detail": "Agent 123 not found"}, "Agent 123 not found"),
        (400, {"error": "HTTPException", "message": "Request blocked"}, "Request blocked"),
        (500, "Internal Server Error", "Internal Server Error"),
    ],
)
def test_the_apis_reason_is_quoted(status: int, content: Any, reason: str) -> None:
    if isinstance(content, str):
        resp = httpx.Response(status, text=content)
    else:
        resp = httpx.Response(status, json=content)
    assert answer_reason(resp) == reason


def _one_field_doc(version: str, field: dict[str, Any]) -> OpenApi:
    schema = {"type": "object", "properties": {"n": field}}
    return OpenApi(
        {
            **_doc(
                {
                    "/n": {
                        "post": {
                            "requestBody": {"content": {"application/json": {"schema": schema}}}
                        }
                    }
                }
            ),
            "openapi": version,
        }
    )


def test_openapi_3_0_schemas_are_read_in_their_own_dialect() -> None:
    # 3.0 writes exclusiveMinimum as a boolean (draft 4); in 2020-12 that is invalid
    doc = _one_field_doc("3.0.3", {"type": "integer", "minimum": 0, "exclusiveMinimum": True})
    op = doc.find("POST", "/n")
    assert op is not None
    assert build_body(op, {"n": [0]}) == {"n": 1}  # golive's own value, moved inside
    with pytest.raises(UnsatisfiableBody) as err:
        build_body(op, {"n": [0]}, exact=["n"])
    assert err.value.field == "n"


def test_a_schema_that_is_not_json_schema_is_an_error_not_a_traceback() -> None:
    op = _one_field_doc("3.1.0", {"type": "whole number"}).find("POST", "/n")
    assert op is not None
    with pytest.raises(UnsatisfiableBody) as err:
        build_body(op, {"n": [1]})
    assert str(err.value).startswith(
        "operation POST /n: cannot build a body: the API's schema is not valid JSON Schema ("
    )
