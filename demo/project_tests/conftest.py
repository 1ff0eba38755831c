"""Shared fixtures: where the running stack is, from the environment the tests get.

The names are the application's own (DATABASE_URL, REDIS_URL) and those of the ops
scripts (API_URL); a test whose variable is not set is skipped with the variable's name.
"""

from __future__ import annotations

import os

import pytest


def env_or_skip(name: str) -> str:
    """The variable's value, or skip the test that needs it."""
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.skip(f"{name} is not set")
    return value


@pytest.fixture(scope="session")
def api_url() -> str:
    """Base URL of the running API."""
    return env_or_skip("API_URL").rstrip("/")


@pytest.fixture(scope="session")
def api_token() -> str:
    """A bearer token the API accepts (the system agent's)."""
    return env_or_skip("API_TOKEN")


@pytest.fixture(scope="session")
def agent_id() -> str:
    """The id of the seeded system agent."""
    return env_or_skip("AGENT_ID")


@pytest.fixture(scope="session")
def database_url() -> str:
    """libpq URL of the application database (the application role)."""
    return env_or_skip("DATABASE_URL")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the Redis server."""
    return env_or_skip("REDIS_URL")
