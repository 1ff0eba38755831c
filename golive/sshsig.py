"""SSH signatures (the SSHSIG format of `ssh-keygen -Y`), as git uses them for commits.

Signing and verifying are done by OpenSSH's own `ssh-keygen` rather than a Python library:
it is the reference implementation of the format and of the allowed-signers file (principal
patterns, `namespaces=`, `valid-after=`/`valid-before=`, `cert-authority`), it signs with keys
held in an ssh-agent, on a FIDO token or behind a passphrase exactly as `git commit -S` does,
and approvers already have it. No well-kept Python package signs SSHSIG (the ones on PyPI only
verify, and none reads an ssh-agent). golive only reads the armoured envelope itself, to name
the key and the namespace in its messages.

    sig = sign(b"data", "~/.ssh/id_ed25519", NAMESPACE)
    principals = find_principals("allowed_signers", sig)
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass

from golive.errors import GoliveError

#: The namespace of golive's sign-offs: a signature made for git ("git") or for a file
#: ("file") can never be replayed as an approval.
NAMESPACE = "golive-approval"
_ARMOR_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_ARMOR_END = "-----END SSH SIGNATURE-----"
#: Signing may wait for a passphrase or a touch of a security key.
SIGN_TIMEOUT = 300.0
VERIFY_TIMEOUT = 30.0


class SigningError(GoliveError):
    """ssh-keygen is missing, or it could not sign with the given key (exit 2)."""


@dataclass(frozen=True)
class Envelope:
    """What an SSHSIG signature says about itself (unverified): its key and namespace."""

    key_type: str
    fingerprint: str  # SHA256:... as ssh-keygen -l prints it
    namespace: str


@dataclass(frozen=True)
class Checked:
    """The result of verifying one signature against an allowed-signers file."""

    ok: bool
    principals: tuple[str, ...] = ()
    reason: str = ""


def _ssh_keygen() -> str:
    path = shutil.which("ssh-keygen")
    if path is None:
        raise SigningError(
            "ssh-keygen was not found on PATH: install the OpenSSH client "
            "(Debian/Ubuntu: apt-get install openssh-client) to sign or verify sign-offs"
        )
    return path


def _run(
    args: list[str], data: bytes, timeout: float, *, tty: bool = False
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            [_ssh_keygen(), *args],
            input=data,
            capture_output=True,
            timeout=timeout,
            check=False,
            # a passphrase prompt goes to /dev/tty; without one ssh-keygen fails cleanly
            start_new_session=not tty,
        )
    except subprocess.TimeoutExpired:
        raise SigningError(
            f"ssh-keygen {args[0]} {args[1]} did not finish in {timeout:g}s"
        ) from None
    except OSError as exc:
        raise SigningError(f"cannot run ssh-keygen: {exc.strerror or exc}") from None


def _message(proc: subprocess.CompletedProcess[bytes]) -> str:
    lines = [
        line.strip()
        for line in proc.stderr.decode("utf-8", errors="replace").splitlines()
        if line.strip() and not line.startswith("Signing data on standard input")
    ]
    return "; ".join(lines[-3:]) or f"ssh-keygen exited with {proc.returncode}"


def sign(data: bytes, key: str, namespace: str = NAMESPACE) -> str:
    """The armoured SSHSIG signature of `data` made with the private key `key`.

    `key` may also be a public key whose private half is in the running ssh-agent, as
    with git's `user.signingKey`.
    """
    path = os.path.expanduser(key)
    if not os.path.isfile(path):
        raise SigningError(f"--key {key}: no such key file")
    proc = _run(["-Y", "sign", "-n", namespace, "-f", path], data, SIGN_TIMEOUT, tty=True)
    text = proc.stdout.decode("ascii", errors="replace").strip()
    if proc.returncode != 0 or not text.startswith(_ARMOR_BEGIN):
        hint = ""
        if "passphrase" in proc.stderr.decode("utf-8", errors="replace"):
            hint = " (a key with a passphrase needs a terminal to type it, or the key in ssh-agent)"
        raise SigningError(f"ssh-keygen could not sign with {key}: {_message(proc)}{hint}")
    return text + "\n"


def envelope(signature: str) -> Envelope | None:
    """The key and namespace an armoured signature names, or None if it is not SSHSIG."""
    text = signature.strip()
    if not (text.startswith(_ARMOR_BEGIN) and text.endswith(_ARMOR_END)):
        return None
    body = "".join(text[len(_ARMOR_BEGIN) : -len(_ARMOR_END)].split())
    try:
        blob = base64.b64decode(body, validate=True)
        if blob[:6] != b"SSHSIG":
            return None
        pos = 10  # magic + uint32 version
        fields: list[bytes] = []
        for _ in range(2):  # public key, namespace
            (n,) = struct.unpack(">I", blob[pos : pos + 4])
            fields.append(blob[pos + 4 : pos + 4 + n])
            pos += 4 + n
        pubkey, namespace = fields
        (n,) = struct.unpack(">I", pubkey[:4])
        key_type = pubkey[4 : 4 + n].decode("ascii")
    except (ValueError, struct.error, UnicodeDecodeError):
        return None
    digest = base64.b64encode(hashlib.sha256(pubkey).digest()).decode().rstrip("=")
    return Envelope(key_type, f"SHA256:{digest}", namespace.decode("utf-8", errors="replace"))


class _SigFile:
    """The signature in a private temporary file (ssh-keygen reads signatures from files)."""

    def __init__(self, signature: str) -> None:
        fd, self.path = tempfile.mkstemp(prefix="golive-sig-", suffix=".sig")
        with os.fdopen(fd, "w", encoding="ascii", errors="replace") as fh:
            fh.write(signature)

    def __enter__(self) -> str:
        return self.path

    def __exit__(self, *exc: object) -> None:
        os.unlink(self.path)


def find_principals(allowed_signers: str, signature: str, *, at: str = "") -> tuple[str, ...]:
    """The principals the allowed-signers file gives to the signature's key (maybe none),
    for a signature made at `at` (`YYYYMMDDHHMMSSZ`; default now), as `verify` judges it."""
    args = ["-Y", "find-principals", "-f", allowed_signers]
    if at:
        args.append(f"-Overify-time={at}")
    with _SigFile(signature) as sig:
        proc = _run([*args, "-s", sig], b"", VERIFY_TIMEOUT)
    if proc.returncode != 0:
        return ()
    out = proc.stdout.decode("utf-8", errors="replace")
    return tuple(p.strip() for p in out.splitlines() if p.strip())


def verify(
    allowed_signers: str,
    principal: str,
    signature: str,
    data: bytes,
    namespace: str = NAMESPACE,
    *,
    at: str = "",
) -> Checked:
    """Whether `signature` is `principal`'s signature of `data` in `namespace`.

    `at` (a `YYYYMMDDHHMMSSZ` time) is when the signature claims to have been made: a key
    whose `valid-before`/`valid-after` in the allowed-signers file excludes it is refused,
    as git does with a commit's date.
    """
    args = ["-Y", "verify", "-f", allowed_signers, "-I", principal, "-n", namespace]
    if at:
        args.append(f"-Overify-time={at}")
    with _SigFile(signature) as sig:
        proc = _run([*args, "-s", sig], data, VERIFY_TIMEOUT)
    if proc.returncode == 0:
        return Checked(True, (principal,))
    return Checked(False, (), _message(proc))
