"""Fixtures of the reliability suite: the shared stack's environment and the check registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.reliability import harness

if TYPE_CHECKING:
    from demo.stack import Stack


@pytest.fixture(scope="session")
def stack_env(stack: Stack) -> dict[str, str]:
    """The environment for `golive run` against the session's stack."""
    return harness.stack_env(stack)


@pytest.fixture(scope="session")
def registry_specs() -> dict[str, Any]:
    """Every registered check's spec, by id."""
    from golive.registry import build_registry

    return {s.id: s for s in build_registry().sorted()}
