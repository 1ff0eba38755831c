"""Command line: ``python -m demo.stack up|down|status|env|doctor [--state-dir DIR]``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from demo.stack import cli, lifecycle, procs, sshhosts
from demo.stack.model import Stack

COMMANDS = cli.Commands(Stack, lifecycle.stop, name="stack", unrecorded="no stack recorded")


def _load(state_dir: Path) -> Stack | None:
    return Stack.load(state_dir)


def cmd_up(args: argparse.Namespace) -> int:
    existing = lifecycle.running(args.state_dir, Stack)
    if existing is not None:
        print(f"stack already running in {args.state_dir} (API {existing.api_url})")
        return 0
    began = time.monotonic()
    try:
        stack = lifecycle.start(
            args.state_dir,
            with_containers=False if args.no_containers else None,
            alert_rules=args.alert_rules,
        )
    except procs.ServiceFailed as exc:
        procs.report_failure(exc)
        print("stack not started; everything it had started was stopped", file=sys.stderr)
        return 1
    if args.hosts:
        try:
            hosts = lifecycle.start_hosts(stack, args.hosts)
        except procs.ServiceFailed as exc:
            procs.report_failure(exc)
            lifecycle.stop(stack)
            print("stack not started; everything it had started was stopped", file=sys.stderr)
            return 1
        overlay = hosts.base / "golive-hosts.yaml"
        print(f"{len(hosts.hosts)} SSH host(s): add `--config {overlay}` to golive run")
    elapsed = time.monotonic() - began
    print(f"stack up in {elapsed:.1f}s (state dir {stack.state_dir})")
    for name, value in stack.env().items():
        if "TOKEN" not in name and "DSN" not in name:
            print(f"  {name}={value}")
    if not stack.docker_host:
        print("  (containers: podman not installed or disabled)")
    print(f"credentials: python -m demo.stack env --state-dir {shlex.quote(str(args.state_dir))}")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    stack = _load(args.state_dir)
    if stack is None or not stack.pids:
        print(f"not running ({args.state_dir})", file=sys.stderr)
        return 3
    env = stack.env()
    hosts = sshhosts.HostSet.load(stack.state_dir / "hosts")
    if hosts is not None:
        env["GOLIVE_HOSTS_CONFIG"] = str(hosts.base / "golive-hosts.yaml")
    if args.json:
        out: dict[str, object] = dict(env)
        if hosts is not None:
            out["hosts"] = hosts.golive_block()
        print(json.dumps(out, indent=2))
    else:
        for name, value in env.items():
            print(f"export {name}={shlex.quote(value)}")
        if hosts is not None:
            print("# the SSH hosts, as golive.yaml's targets.hosts ($GOLIVE_HOSTS_CONFIG):")
            for line in hosts.overlay_yaml().splitlines():
                print(f"# {line}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Every listed program present (exit 0), or what is missing by Debian package (exit 1)."""
    from demo.stack import prereq

    groups = args.groups.split(",") if args.groups else None
    try:
        missing = prereq.missing(groups)
    except KeyError as exc:
        print(f"doctor: {exc.args[0]} (known: {', '.join(prereq.GROUPS)})", file=sys.stderr)
        return 2
    wanted = list(prereq.GROUPS) if groups is None else groups
    total = [t for t in prereq.TOOLS if set(wanted) & set(t.groups)]
    if not missing:
        print(f"all {len(total)} programs present ({', '.join(wanted)})")
        return 0
    print(f"missing {len(missing)} of {len(total)} programs:")
    for t in missing:
        where = ", ".join(t.dirs) if t.dirs else "PATH"
        groups_of = ",".join(g for g in t.groups if g in wanted)
        print(
            f"  {t.name:<24} Debian package {t.package:<24} [{groups_of}] {t.why}"
            f" (looked in {where})"
        )
    print(f"install them with: apt-get install -y {' '.join(prereq.packages(missing))}")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser, sub = cli.parser(
        "python -m demo.stack", lifecycle.DEFAULT_STATE_DIR, description=__doc__
    )
    up = sub.add_parser("up", help="start the stack (no-op when it runs)")
    up.add_argument("--no-containers", action="store_true", help="skip podman even if present")
    up.add_argument(
        "--hosts",
        type=int,
        default=0,
        metavar="N",
        help="also start N SSH hosts (sshd on 127.0.0.1, own mount namespace and project copy)",
    )
    up.add_argument(
        "--alert-rules",
        type=Path,
        default=None,
        help="rules file for Prometheus instead of ops/alert_rules.yml",
    )
    COMMANDS.add_parsers(sub, down_help="stop everything the stack started")
    env = sub.add_parser("env", help="print export lines for golive")
    env.add_argument("--json", action="store_true")
    doctor = sub.add_parser(
        "doctor", help="list missing programs by Debian package (exit 1 when any is missing)"
    )
    doctor.add_argument(
        "--for",
        dest="groups",
        default=None,
        help="comma-separated groups to check: stack, containers, tests, benchmarks (default all)",
    )
    args = cli.parse(parser, sub, argv)
    handler = {
        "up": cmd_up,
        "down": COMMANDS.down,
        "status": COMMANDS.status,
        "env": cmd_env,
        "doctor": cmd_doctor,
    }
    return handler[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
