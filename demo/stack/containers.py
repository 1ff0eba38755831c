"""A Docker-API engine (podman) running the compose project of ``ops/`` (STACK.md).

``podman system service`` serves the Docker Engine API on a unix socket in the state
directory; podman-compose brings the project up from the copied project tree with an
override that swaps every service's image for a local busybox image sleeping forever.
Security options, users, networks, volumes and the compose labels stay as the compose
files say, so golive can inspect them through ``DOCKER_HOST``. Nothing listens on a host
port: the override resets every ``ports:`` list.

pytest-docker is not used here: it runs ``compose up`` per test session from a fixture,
but the launcher must also bring the containers up from the command line
(``python -m demo.stack up``) and share them between processes, so it drives
podman-compose itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml

from demo.stack import prereq, procs
from demo.stack.model import Stack

IMAGE = "localhost/golive-test:latest"
PROJECT = "ordinaut"
NETWORK = "ordinaut-network"
COMPOSE_FILES = (
    "docker-compose.yml",
    "docker-compose.prod.yml",
    "docker-compose.observability.yml",
)
SLEEP = ["/bin/sleep", "2147483647"]


def missing_binaries() -> list[str]:
    """What the container part needs and is not installed."""
    missing = [f"{t.name} (Debian package {t.package})" for t in prereq.missing(["containers"])]
    try:
        import podman_compose  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        missing.append("podman-compose (pip)")
    return missing


def _short(path: Path, name: str) -> Path:
    """``path`` when it fits in a unix socket address, else a short /tmp path."""
    if len(str(path)) < 90:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"golive-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / name


def configure(stack: Stack) -> dict[str, str]:
    """Write containers.conf / storage.conf under STATE/podman; return the engine env."""
    base = stack.state_dir / "podman"
    for sub in ("storage", "run", "networks", "tmp"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    conf, storage = base / "containers.conf", base / "storage.conf"
    conf.write_text(
        "[containers]\ndefault_ulimits = []\n\n"
        '[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n'
        f'tmp_dir = "{base / "tmp"}"\n\n'
        f'[network]\nnetwork_backend = "netavark"\nnetwork_config_dir = "{base / "networks"}"\n'
    )
    storage.write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{base / "run"}"\ngraphroot = "{base / "storage"}"\n'
    )
    sock = _short(base / "podman.sock", "podman.sock")
    stack.paths.update(
        podman_base=str(base),
        podman_conf=str(conf),
        podman_storage_conf=str(storage),
        podman_socket=str(sock),
    )
    stack.docker_host = f"unix://{sock}"
    return engine_env(stack)


def engine_env(stack: Stack) -> dict[str, str]:
    """Environment for podman and podman-compose commands of this stack."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "CONTAINER_HOST")}
    env["CONTAINERS_CONF"] = stack.paths["podman_conf"]
    env["CONTAINERS_STORAGE_CONF"] = stack.paths["podman_storage_conf"]
    return env


def podman(stack: Stack, *args: str, check: bool = True, timeout: float = 120) -> str:
    """Run ``podman ARGS`` against this stack's storage; return stdout."""
    proc = procs.run(
        [prereq.path("podman"), *args],
        env=engine_env(stack),
        check=check,
        timeout=timeout,
        cwd=stack.state_dir,
    )
    return proc.stdout


def _import_image(stack: Stack) -> None:
    base = Path(stack.paths["podman_base"])
    rootfs = base / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:

        def add_dir(name: str) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)

        for d in ("bin", "tmp", "etc", "data"):
            add_dir(d)
        tar.add(prereq.path("busybox"), arcname="bin/busybox")
        for applet in ("sh", "sleep", "true", "cat", "ls", "id"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    podman(stack, "import", str(rootfs), IMAGE)


def _socket_answers(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
            return b" 200 " in sock.recv(256)
    except OSError:
        return False


def start_engine(stack: Stack) -> None:
    """Import the busybox image and start the Docker-API service."""
    env = configure(stack)
    _import_image(stack)
    create_network(stack)
    sock = stack.paths["podman_socket"]
    Path(sock).unlink(missing_ok=True)
    log = stack.state_dir / "logs" / "podman.log"
    pid = procs.spawn(
        [prereq.path("podman"), "system", "service", "--time=0", f"unix://{sock}"],
        log,
        env=env,
        cwd=stack.state_dir,
    )
    stack.pids["podman"] = pid
    stack.paths["podman_log"] = str(log)
    try:
        procs.wait_until(
            lambda: _socket_answers(sock), 30, "podman", alive=lambda: procs.alive(pid)
        )
    except (RuntimeError, TimeoutError) as exc:
        raise procs.ServiceFailed("podman", str(exc), log) from None


def service_names(ops_dir: Path) -> dict[str, bool]:
    """Services declared across the compose files -> whether any file publishes ports."""
    names: dict[str, bool] = {}
    for name in COMPOSE_FILES:
        doc = yaml.safe_load((ops_dir / name).read_text()) or {}
        for svc, desc in (doc.get("services") or {}).items():
            names[svc] = names.get(svc, False) or bool((desc or {}).get("ports"))
    return names


def write_override(stack: Stack, ops_dir: Path) -> Path:
    """Override: local image, a sleeping command and no published port for every service."""
    lines = [
        "# Generated by demo.stack: containers exist to be inspected, not to serve.",
        "services:",
    ]
    for svc, has_ports in service_names(ops_dir).items():
        lines += [f"  {svc}:", f"    image: {IMAGE}", f'    command: ["{SLEEP[0]}", "{SLEEP[1]}"]']
        if has_ports:  # podman-compose rejects a reset of a list that no file defines
            lines.append("    ports: !reset []")
    override = Path(stack.paths["podman_base"]) / "docker-compose.golive-override.yml"
    override.write_text("\n".join(lines) + "\n")
    return override


def compose_args(stack: Stack) -> list[str]:
    """``python -m podman_compose -p PROJECT --env-file .env -f ... -f override``."""
    ops_dir = stack.project_root / "ops"
    args = [
        sys.executable,
        "-m",
        "podman_compose",
        "-p",
        PROJECT,
        "--env-file",
        str(stack.project_root / ".env"),
    ]
    for name in COMPOSE_FILES:
        args += ["-f", str(ops_dir / name)]
    args += ["-f", stack.paths["podman_override"]]
    return args


SUBNET_ATTEMPTS = 20  # subnets 10.89.20-219.0/24 tried from the state dir's own one


def create_network(stack: Stack) -> None:
    """Create ``ordinaut-network`` with a bridge name and subnet unique to this state dir.

    podman-compose would create it with netavark's defaults (bridge ``podman1``,
    10.89.0.0/24), which collide with any other podman storage on the machine that uses
    the defaults too; compose then finds the network existing and joins it. podman 4.3
    has no option for the bridge name, so the network file is edited before the API
    service (which caches networks) starts.
    """
    digest = int(hashlib.sha256(str(stack.state_dir).encode()).hexdigest(), 16)
    for attempt in range(SUBNET_ATTEMPTS):
        podman_args = [
            "network",
            "create",
            "--disable-dns",  # no aardvark-dns: it is one daemon shared by all podman storages
            "--subnet",
            f"10.89.{20 + (digest + attempt) % 200}.0/24",
            "--label",
            f"com.docker.compose.project={PROJECT}",
            "--label",
            f"com.docker.compose.network={NETWORK}",
            "--label",
            f"io.podman.compose.project={PROJECT}",
            NETWORK,
        ]
        # another stack on this machine (its own storage) may hold the subnet: take the next
        proc = procs.run(
            [prereq.path("podman"), *podman_args],
            env=engine_env(stack),
            check=False,
            cwd=stack.state_dir,
        )
        if proc.returncode == 0:
            break
        if "is already used" not in proc.stderr or attempt == SUBNET_ATTEMPTS - 1:
            raise RuntimeError(
                f"podman {' '.join(podman_args)} exited {proc.returncode}:\n{proc.stderr}"
            )
    conf = Path(stack.paths["podman_base"]) / "networks" / f"{NETWORK}.json"
    data = json.loads(conf.read_text())
    data["network_interface"] = f"golive{digest % 16**8:08x}"
    conf.write_text(json.dumps(data, indent=2))


def compose_up(stack: Stack) -> None:
    """Bring the compose project up (detached) and check every service has a container."""
    ops_dir = stack.project_root / "ops"
    stack.paths["podman_override"] = str(write_override(stack, ops_dir))
    log = stack.state_dir / "logs" / "compose.log"
    proc = procs.run(
        [*compose_args(stack), "up", "-d"],
        env=engine_env(stack),
        cwd=ops_dir,
        check=False,
        timeout=300,
    )
    log.write_text(proc.stdout + proc.stderr)
    running = podman(
        stack,
        "ps",
        "--filter",
        f"label=com.docker.compose.project={PROJECT}",
        "--format",
        "{{.Labels}}",
    )
    if proc.returncode != 0 or not running.strip():
        raise procs.ServiceFailed("compose", f"podman-compose up exited {proc.returncode}", log)
    stack.compose_project = PROJECT


def stop(stack: Stack) -> None:
    """Remove the project's containers, networks and volumes; stop the engine."""
    if "podman_conf" not in stack.paths or not Path(stack.paths["podman_conf"]).exists():
        return
    if "podman_override" in stack.paths and stack.project_root.exists():
        procs.run(
            [*compose_args(stack), "down", "-t", "0", "-v"],
            env=engine_env(stack),
            cwd=stack.project_root / "ops",
            check=False,
            timeout=120,
        )
    podman(stack, "rm", "--all", "--force", "--time", "0", check=False)
    podman(stack, "network", "rm", "--force", NETWORK, check=False)
    podman(stack, "volume", "prune", "--force", check=False)
    pid = stack.pids.pop("podman", None)
    if pid:
        procs.kill_group(pid)
    sock = stack.paths.get("podman_socket")
    if sock:
        Path(sock).unlink(missing_ok=True)
