"""demo.auth: bearer tokens are signed JWTs (or an agent UUID) and are checked strictly."""

from __future__ import annotations

import secrets
import uuid

import jwt

from demo.auth import ALGORITHM, agent_id_from_token, bearer, issue_token


def test_an_issued_token_names_its_agent_and_expires_as_configured() -> None:
    key = secrets.token_urlsafe(48)
    agent = uuid.uuid4()
    token, expires_in = issue_token(agent, key, lifetime_minutes=30)
    assert expires_in == 1800
    assert agent_id_from_token(token, key) == agent
    claims = jwt.decode(token, key, algorithms=[ALGORITHM])
    assert claims["exp"] - claims["iat"] == 1800
    assert claims["typ"] == "access"


def test_tokens_signed_with_another_key_or_expired_are_refused() -> None:
    key = secrets.token_urlsafe(48)
    agent = uuid.uuid4()
    forged, _ = issue_token(agent, secrets.token_urlsafe(48), lifetime_minutes=30)
    assert agent_id_from_token(forged, key) is None
    expired, _ = issue_token(agent, key, lifetime_minutes=-1)
    assert agent_id_from_token(expired, key) is None
    assert agent_id_from_token("not.a.token", key) is None


def test_a_token_without_expiry_is_refused() -> None:
    key = secrets.token_urlsafe(48)
    forever = jwt.encode({"sub": str(uuid.uuid4())}, key, algorithm=ALGORITHM)
    assert agent_id_from_token(forever, key) is None


def test_a_raw_agent_uuid_is_accepted_as_a_token() -> None:
    agent = uuid.uuid4()
    assert agent_id_from_token(f"  {agent}  ", "unused") == agent


def test_the_bearer_scheme_is_required() -> None:
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer   abc  ") == "abc"
    assert bearer("Basic abc") is None
    assert bearer("Bearer ") is None
    assert bearer(None) is None
