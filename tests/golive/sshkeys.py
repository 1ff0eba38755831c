"""Real SSH keys for the sign-off tests, made with `ssh-keygen` (Debian's openssh-client)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import _missing


@dataclass(frozen=True)
class Key:
    """A key pair on disk: the private key file and its public line."""

    principal: str
    path: Path
    public: str  # "ssh-ed25519 AAAA..."

    def allowed_line(self, options: str = "") -> str:
        """This key's line in an allowed-signers file."""
        return f"{self.principal} {options + ' ' if options else ''}{self.public}\n"


class Keys:
    """Makes keys in a directory and writes allowed-signers files for them."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("ssh-keygen") is None:
            _missing("ssh-keygen (Debian package openssh-client)")
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def make(self, principal: str, kind: str = "ed25519") -> Key:
        """A new passphrase-less key of `kind` (ed25519 or rsa) for `principal`."""
        path = self.dir / principal.replace("@", "_at_").replace(".", "_")
        args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", principal, "-f", str(path)]
        if kind == "rsa":
            args[4:4] = ["-b", "2048"]
        subprocess.run(args, check=True, capture_output=True, timeout=60)
        public = " ".join(Path(f"{path}.pub").read_text().split()[:2])
        return Key(principal, path, public)

    def allowed(self, *keys: Key, name: str = "allowed_signers") -> Path:
        """An allowed-signers file trusting exactly these keys."""
        path = self.dir / name
        path.write_text("".join(k.allowed_line() for k in keys), encoding="utf-8")
        return path
