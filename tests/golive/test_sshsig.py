"""golive/sshsig.py: SSH signatures through ssh-keygen, with real keys."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from golive.sshsig import NAMESPACE, SigningError, envelope, find_principals, sign, verify
from tests.golive.sshkeys import Keys


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_envelope_names_the_key_as_ssh_keygen_does(tmp_path: Path, kind: str) -> None:
    key = Keys(tmp_path).make("alice@example.com", kind)
    sig = sign(b"payload", str(key.path))
    env = envelope(sig)
    assert env is not None and env.namespace == NAMESPACE
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{key.path}.pub"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert env.fingerprint == listed[1]
    assert env.key_type == key.public.split()[0]
    assert envelope("not a signature") is None
    assert envelope(sig.replace("U1NIU0lH", "AAAAAAAA", 1)) is None


def test_verify_checks_data_namespace_principal_and_validity_window(tmp_path: Path) -> None:
    keys = Keys(tmp_path)
    alice = keys.make("alice@example.com")
    allowed = tmp_path / "allowed"
    allowed.write_text(alice.allowed_line('valid-before="20260601"'), encoding="utf-8")
    sig = sign(b"payload", str(alice.path))
    when = "20260504120000Z"
    assert find_principals(str(allowed), sig, at=when) == ("alice@example.com",)
    assert find_principals(str(allowed), sig, at="20260701120000Z") == ()
    assert verify(str(allowed), "alice@example.com", sig, b"payload", at="20260504120000Z").ok
    changed = verify(str(allowed), "alice@example.com", sig, b"payload!", at="20260504120000Z")
    assert not changed.ok and "incorrect signature" in changed.reason
    assert not verify(str(allowed), "bob@example.com", sig, b"payload", at="20260504120000Z").ok
    # signed after the key's validity ended in the allowed-signers file
    assert not verify(str(allowed), "alice@example.com", sig, b"payload", at="20260701120000Z").ok
    git = sign(b"payload", str(alice.path), "git")
    assert not verify(str(allowed), "alice@example.com", git, b"payload", at="20260504120000Z").ok


def test_signing_errors_are_typed_and_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SigningError, match=r"--key .*nope: no such key file"):
        sign(b"x", str(tmp_path / "nope"))
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key\n", encoding="utf-8")
    with pytest.raises(SigningError, match=r"ssh-keygen could not sign with .*garbage: "):
        sign(b"x", str(garbage))
    monkeypatch.setenv("PATH", str(tmp_path))  # no ssh-keygen here
    with pytest.raises(
        SigningError, match=r"ssh-keygen was not found on PATH: install .*openssh-client"
    ):
        sign(b"x", str(garbage))
