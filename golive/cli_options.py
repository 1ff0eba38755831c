"""The options every command that reads golive.yaml takes, defined once: `-c` and `--env-file`.

    def command(config: ConfigOpt = None, env_file: EnvFileOpt = None) -> None:
        cfg = read_config(config, env_file)

Only typer is imported here (`golive --help` stays fast).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from golive.config import Config

ConfigOpt = Annotated[
    Optional[list[str]],  # noqa: UP045 - Typer needs Optional on Python 3.10
    typer.Option(
        "--config",
        "-c",
        help="golive.yaml; repeat to merge overlays in order (default: ./golive.yaml).",
    ),
]
EnvFileOpt = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option("--env-file", help="KEY=VALUE file for ${VAR} references (repeatable)."),
]


def read_config(
    config: list[str] | None, env_file: list[str] | None, *, required: bool = True
) -> Config | None:
    """The configuration given with -c (and --env-file), else ./golive.yaml.

    Without -c, a missing ./golive.yaml is an error when `required`, and None otherwise.
    """
    from golive.config import DEFAULT_CONFIG, load_config

    if not config and not required and not os.path.exists(DEFAULT_CONFIG):
        return None
    return load_config(config or [DEFAULT_CONFIG], env_files=env_file or [])
