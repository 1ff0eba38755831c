"""The ``down`` and ``status`` commands of both launchers' command lines (``python -m
demo.stack`` and ``python -m demo.upstream``): the same for any record type, given how to
stop it and what to call it."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from demo.stack import lifecycle, procs
from demo.stack.model import Stack

S = TypeVar("S", bound=Stack)
S_contra = TypeVar("S_contra", bound=Stack, contravariant=True)


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
