"""Command line: ``python -m demo.upstream up|down|status|env [--state-dir DIR]``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from demo.stack import cli, procs
from demo.stack.lifecycle import running
from demo.upstream import lifecycle, pyenv
from demo.upstream.model import UpstreamStack

COMMANDS = cli.Commands(
    UpstreamStack, lifecycle.stop, name="Ordinaut", unrecorded="nothing recorded"
)


def cmd_up(args: argparse.Namespace) -> int:
    existing = running(args.state_dir, UpstreamStack)
    if existing is not None:
        print(f"Ordinaut already running in {args.state_dir} (API {existing.api_url})")
        return 0
    began = time.monotonic()
    try:
        stack = lifecycle.start(args.state_dir, source=args.source)
    except procs.ServiceFailed as exc:
        procs.report_failure(exc)
        print("Ordinaut not started; everything it had started was stopped", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything started so far was stopped", file=sys.stderr)
        return 130
    print(f"Ordinaut 2.2.2 up in {time.monotonic() - began:.1f}s (state dir {stack.state_dir})")
    print(f"  python env {stack.python_env}")
    for name, value in stack.env().items():
        if "DSN" not in name and value:
            print(f"  {name}={value}")
    print(f"variables for golive: python -m demo.upstream env --state-dir {args.state_dir}")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    stack = UpstreamStack.load(args.state_dir)
    if stack is None or not stack.pids:
        print(f"not running ({args.state_dir})", file=sys.stderr)
        return 3
    env = stack.env()
    if args.json:
        print(json.dumps(env, indent=2))
    else:
        for name, value in env.items():
            print(f"export {name}={shlex.quote(value)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser, sub = cli.parser(
        "python -m demo.upstream",
        lifecycle.DEFAULT_STATE_DIR,
        description=__doc__,
        epilog=f"Python environment cache: ${pyenv.CACHE_ENV} (default ~/.cache/golive); "
        f"release tree: ${lifecycle.SOURCE_ENV} or --source.",
    )
    up = sub.add_parser("up", help="start Ordinaut (no-op when it runs)")
    up.add_argument("--source", type=Path, default=None, help="Ordinaut's release tree")
    COMMANDS.add_parsers(sub, down_help="stop everything that up started")
    env = sub.add_parser("env", help="print export lines for golive")
    env.add_argument("--json", action="store_true")
    args = cli.parse(parser, sub, argv)
    if getattr(args, "source", None) is not None:
        args.source = args.source.resolve()
    handler = {"up": cmd_up, "down": COMMANDS.down, "status": COMMANDS.status, "env": cmd_env}
    return handler[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
