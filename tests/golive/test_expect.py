"""golive/expect.py: comparisons written in golive.yaml and the JSON path subset."""

from __future__ import annotations

import pytest

from golive.expect import Expectation, json_path, parse_expectation, parse_path


@pytest.mark.parametrize(
    ("text", "actual", "holds"),
    [
        ("< 100", 99, True),
        ("< 100", 100, False),
        ("<= 0.5", "0.5", True),  # Prometheus values are strings
        (">= 2", "1", False),
        ("> 0", "NaN", False),  # NaN is not a number to compare
        ("== 0", 0, True),
        ("== 0", 0.0, True),
        ("!= 0", 1, True),
        ("== ok", "ok", True),
        ("== 'ok'", "ok", True),
        ('== "healthy"', "healthy", True),
        ("== healthy", "degraded", False),
        ("!= healthy", "degraded", True),
        ("healthy", "healthy", True),  # a bare value means ==
        ("= 5", 5, True),
        ("== true", True, True),
        ("== true", "true", False),  # a JSON boolean is not the string "true"
        ("== null", None, True),
        ("== 5", "5", True),
    ],
)
def test_comparisons(text: str, actual: object, holds: bool) -> None:
    assert parse_expectation(text).holds(actual) is holds


def test_non_strings_mean_equality_and_str_shows_the_comparison() -> None:
    assert parse_expectation(3) == Expectation("==", 3)
    assert parse_expectation(False).holds(False)
    assert str(parse_expectation("< 0.05")) == "< 0.05"
    assert str(parse_expectation("== ok")) == "== ok"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<", "'<' is not a comparison such as '< 100', '== ok' or '>= 0.95'"),
        ("< fast", "'< fast' compares with < but 'fast' is not a number"),
    ],
)
def test_bad_comparisons(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_expectation(text)
    assert str(err.value) == message


def test_json_paths() -> None:
    doc = {"checks": {"db": {"status": "ok"}}, "items": [{"id": 1}, {"id": 2}], "a b": {"c": 3}}
    assert json_path(doc, "$.checks.db.status") == "ok"
    assert json_path(doc, "checks.db.status") == "ok"
    assert json_path(doc, "items[1].id") == 2
    assert json_path(doc, "$.items[-1].id") == 2
    assert json_path(doc, "$['a b'].c") == 3
    assert json_path(doc, '$["a b"]["c"]') == 3
    assert json_path(doc, "$") == doc
    assert parse_path("$.x[0]['y']") == ["x", 0, "y"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("$.checks.redis", "$.checks has no key 'redis' (keys: db)"),
        ("$.items[5]", "$.items has 2 items, no [5]"),
        ("$.checks[0]", "$.checks is not a list, cannot take [0]"),
        ("$.items.id", "$.items is not an object, cannot take .id"),
    ],
)
def test_json_path_lookup_errors_name_the_step(path: str, message: str) -> None:
    doc = {"checks": {"db": {}}, "items": [1, 2]}
    with pytest.raises(LookupError) as err:
        json_path(doc, path)
    assert str(err.value) == message


def test_malformed_json_path() -> None:
    with pytest.raises(ValueError, match=r"cannot read JSON path '\$\.a\[x\]' at '\[x\]'"):
        json_path({}, "$.a[x]")
