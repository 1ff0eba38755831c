"""What both launchers' command lines (``python -m demo.stack`` and ``python -m
demo.upstream``) share: the ``--state-dir`` option, and the ``down`` and ``status``
commands, the same for any record type given how to stop it and what to call it."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from demo.stack import lifecycle, procs
from demo.stack.model import Stack

S = TypeVar("S", bound=Stack)
S_contra = TypeVar("S_contra", bound=Stack, contravariant=True)
SubParsers = argparse._SubParsersAction  # the type of add_subparsers()'s result


def parser(
    prog: str, default_state_dir: Path, **kwargs: Any
) -> tuple[argparse.ArgumentParser, SubParsers[argparse.ArgumentParser]]:
    """A parser for ``prog`` (``kwargs`` go to :class:`argparse.ArgumentParser`) with
    ``--state-dir`` and its required sub-commands, to which the caller adds its own."""
    main = argparse.ArgumentParser(prog=prog, **kwargs)
    main.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir,
        help="state directory (default: %(default)s)",
    )
    return main, main.add_subparsers(dest="command", required=True)


def parse(
    main: argparse.ArgumentParser,
    sub: SubParsers[argparse.ArgumentParser],
    argv: list[str] | None,
) -> argparse.Namespace:
    """Parse ``argv`` (with ``--state-dir`` accepted after any sub-command too); the state
    dir comes back resolved."""
    for command in sub.choices.values():
        command.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS)
    args = main.parse_args(argv)
    args.state_dir = args.state_dir.resolve()
    return args


class Stop(Protocol[S_contra]):
    """A launcher's ``stop``: stops what ``stack`` records, returns the force-killed processes."""

    def __call__(self, stack: S_contra, *, purge: bool = False) -> list[tuple[int, str]]: ...


@dataclass(frozen=True)
class Commands(Generic[S]):
    """``down`` and ``status`` for the records of type ``record`` (each takes the parsed
    arguments, with ``state_dir`` and for ``down`` ``purge``, and returns the exit status)."""

    record: type[S]
    stop: Stop[S]
    name: str  # what ``down`` says it stopped: "stack", "Ordinaut"
    unrecorded: str  # what ``down`` says of a state dir without a record: "no stack recorded"

    def add_parsers(self, sub: SubParsers[argparse.ArgumentParser], down_help: str) -> None:
        """Add the ``down`` (with ``--purge``) and ``status`` sub-commands to ``sub``."""
        down = sub.add_parser("down", help=down_help)
        down.add_argument("--purge", action="store_true", help="also delete the state dir")
        sub.add_parser("status", help="liveness of each process (exit 0 when all up)")

    def down(self, args: argparse.Namespace) -> int:
        """Stop everything recorded in the state dir (exit 1 when something would not stop)."""
        stack = self.record.load(args.state_dir)
        if stack is None:
            print(f"{self.unrecorded} in {args.state_dir}")
            return 0
        try:
            forced = self.stop(stack, purge=args.purge)
        except RuntimeError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            return 1
        for pid, cmd in forced:
            print(f"force-killed leftover process {pid}: {cmd[:120]}", file=sys.stderr)
        print(f"{self.name} stopped" + (" and state dir removed" if args.purge else ""))
        return 0

    def status(self, args: argparse.Namespace) -> int:
        """Print the liveness of each recorded process and of the API over HTTP: exit 0 when
        all are up, 1 when any is down, 3 when nothing runs."""
        stack = self.record.load(args.state_dir)
        if stack is None or not stack.pids:
            print(f"not running ({args.state_dir})")
            return 3
        states = lifecycle.status(stack)
        for name, ok in states.items():
            print(f"{name:14s} {'up' if ok else 'DOWN'} (pid {stack.pids[name]})")
        api_ok = procs.http_ok(f"{stack.api_url}/health/live")
        print(f"{'api http':14s} {'up' if api_ok else 'DOWN'} ({stack.api_url})")
        return 0 if all(states.values()) and api_ok else 1
