"""demo.pipeline: the steps workers run, and how a bad pipeline fails."""

from __future__ import annotations

import pytest

from demo.pipeline import StepFailed, run_pipeline


def test_steps_run_in_order_and_report_their_results() -> None:
    out = run_pipeline(
        {
            "pipeline": [
                {"id": "first", "uses": "noop"},
                {"id": "say", "uses": "echo", "with": {"text": "hello"}},
                {"uses": "sleep", "with": {"seconds": 0}},
            ]
        }
    )
    assert out == {
        "steps": {
            "first": {"ok": True},
            "say": {"ok": True, "echo": {"text": "hello"}},
            "s3": {"ok": True, "slept": 0.0},
        }
    }


def test_an_empty_payload_is_an_empty_pipeline() -> None:
    assert run_pipeline({}) == {"steps": {}}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"pipeline": [{"id": "boom", "uses": "fail", "with": {"message": "disk full"}}]},
            "disk full",
        ),
        ({"pipeline": [{"id": "x", "uses": "teleport"}]}, "unknown tool 'teleport'"),
        ({"pipeline": "noop"}, "must be a list"),
        ({"pipeline": ["noop"]}, "step 0 is not an object"),
    ],
)
def test_bad_or_failing_steps_raise_step_failed(payload: dict[str, object], message: str) -> None:
    with pytest.raises(StepFailed, match=message):
        run_pipeline(payload)


def test_a_failing_step_stops_the_pipeline() -> None:
    with pytest.raises(StepFailed, match="step two failed"):
        steps = [{"id": "one", "uses": "noop"}, {"id": "two", "uses": "fail"}]
        run_pipeline({"pipeline": [*steps, {"id": "three", "uses": "noop"}]})
