"""The reference stack for the performance benchmarks: reused when it runs, else started.

`--state-dir DIR`, else $GOLIVE_TEST_STACK_DIR, else .golive-stack: a stack already running
there is reused and left running; otherwise one is started there and stopped (and its state
dir removed) when the benchmark ends.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from demo.stack import DEFAULT_STATE_DIR, Stack, is_up, start, stop  # noqa: E402


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    """The `--state-dir` option every benchmark takes."""
    default = os.environ.get("GOLIVE_TEST_STACK_DIR") or str(DEFAULT_STATE_DIR)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(default),
        help="stack state dir to reuse or start (default: %(default)s)",
    )


@contextmanager
def reference_stack(state_dir: Path, *, containers: bool) -> Iterator[Stack]:
    """A running stack (see the module docstring)."""
    stack = Stack.load(state_dir.resolve())
    if stack is not None and is_up(stack):
        if containers and not stack.docker_host:
            print(f"note: the stack in {state_dir} runs without containers", flush=True)
        yield stack
        return
    print(f"starting the reference stack in {state_dir} ...", flush=True)
    stack = start(state_dir.resolve(), with_containers=None if containers else False)
    try:
        yield stack
    finally:
        stop(stack, purge=True)
