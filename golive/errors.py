"""Typed errors raised by golive's core; only the CLI turns them into messages and exit codes."""

from __future__ import annotations

from dataclasses import dataclass


class GoliveError(Exception):
    """Base class of every error golive reports to the user without a traceback."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One configuration problem, located in a file."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class ConfigError(GoliveError):
    """golive.yaml (or an overlay, env file, plugin) is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class RegistryError(GoliveError):
    """The check registry cannot be built (duplicate ids, broken plugin, bad metadata)."""


class UsageError(GoliveError):
    """The command line asks for something that does not exist or does not fit."""


class BaselineError(GoliveError):
    """A baseline file is missing, corrupt or does not match the configuration."""


class RunFileError(GoliveError):
    """A saved run (JSON) cannot be read back."""


class TargetUnavailable(GoliveError):
    """A target could not be reached; checks that need it are skipped with this reason."""

    exit_code = 3
