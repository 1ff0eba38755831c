"""Overlapping `golive monitor` processes (as cron would start them) and processes killed
with SIGKILL: every sample is stored exactly once, the history stays intact, a verdict
change is notified once, and an interrupted notification is retried by the next run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from golive.monitor.history import History
from golive.testing import write_config

from .conftest import Webhook
from .stackcfg import short_windows

ROOT = Path(__file__).resolve().parents[3]


def golive_monitor(config: str, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    return subprocess.Popen(
        [sys.executable, "-m", "golive", "monitor", "-c", config, "--json", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def trigger(history: str, reason: str) -> None:
    """A manual trigger recorded without deciding: the next run must notify it."""
    with History.open(history) as h:
        h.add_event("trigger", time.time(), {"reason": reason})


@pytest.mark.integration
@pytest.mark.slow
def test_twenty_simultaneous_runs(stack: Any, tmp_path: Path, webhook: Webhook) -> None:
    cfg = short_windows(stack, tmp_path, notify={"webhooks": [{"url": webhook.url}]}, every="1h")
    trigger(cfg.monitor.history, "concurrency test")
    procs = [golive_monitor(cfg.files[0]) for _ in range(20)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [12] * 20, [err[-500:] for _, err in results]
    docs = [json.loads(out) for out, _ in results]
    ids = [d["sample"]["id"] for d in docs]
    down = [d["sample"]["problems"] for d in docs if not d["sample"]["api_ok"]]
    assert down == []
    with History.open(cfg.monitor.history) as h:
        stored = [s.id for s in h.samples()]
        assert h.integrity() == "ok"
        changes = [e.detail for e in h.events(("verdict",))]
        notified = [e.detail for e in h.events(("notify",))]
    assert sorted(stored) == sorted(ids)  # every sample stored, each exactly once
    assert len(set(stored)) == 20
    assert [(c["from"], c["to"]) for c in changes] == [(None, "ROLLBACK")]
    assert [(n["verdict"], n["ok"]) for n in notified] == [("ROLLBACK", True)]
    assert [p["verdict"] for p in webhook.payloads()] == ["ROLLBACK"]  # once, not twenty times
    assert sum(1 for d in docs if d["decided"]) >= 1


class SlowHook:
    """A webhook that accepts the connection, then answers only when released."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.count = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.count += 1
                hook.arrived.set()
                hook.release.wait(60)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slow"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_hook() -> Iterator[SlowHook]:
    hook = SlowHook()
    try:
        yield hook
    finally:
        hook.close()


def test_sigkill_while_deciding_leaves_a_usable_history(
    tmp_path: Path, slow_hook: SlowHook
) -> None:
    """Killed while it holds the decision lock and waits for a notifier: the sample is
    committed, the lock is free again, and the next run delivers the notice."""
    history = str(tmp_path / "history.sqlite")
    config = write_config(
        {"monitor": {"history": history, "notify": {"webhooks": [{"url": slow_hook.url}]}}},
        str(tmp_path),
    )
    trigger(history, "security breach")
    proc = golive_monitor(config)
    assert slow_hook.arrived.wait(60), proc.communicate(timeout=5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    with History.open(history) as h:
        assert h.integrity() == "ok"
        assert h.count() == 1
        assert h.get_state("verdict")["verdict"] == "ROLLBACK"  # recorded before notifying
        delivered = h.conn.execute(
            "SELECT count(*) FROM state WHERE key LIKE 'notify:%'"
        ).fetchone()
        assert delivered[0] == 0  # not delivered: the next run must try again
        with h.locked(timeout=5):  # the kernel released the dead process's lock
            pass
    slow_hook.release.set()
    again = golive_monitor(config)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 12, err
    doc = json.loads(out)
    assert [(n["verdict"], n["ok"]) for n in doc["notifications"]] == [("ROLLBACK", True)]
    assert slow_hook.count == 2  # the interrupted notice was sent again
    with History.open(history) as h:
        assert h.count() == 2


def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    """Runs killed anywhere (start-up, sampling, writing, deciding) while others write;
    test_history.py kills a writer deterministically inside an open transaction."""
    history = str(tmp_path / "history.sqlite")
    config = write_config({"monitor": {"history": history}}, str(tmp_path))
    rng = random.Random(1234)
    survivors = []
    for _ in range(3):
        procs = [golive_monitor(config) for _ in range(6)]
        for p in procs:
            time.sleep(rng.uniform(0.0, 0.5))
            if rng.random() < 0.7:
                os.kill(p.pid, signal.SIGKILL)
        for p in procs:
            p.communicate(timeout=120)
            if p.returncode != -signal.SIGKILL:
                survivors.append(p.returncode)
    with History.open(history) as h:
        assert h.integrity() == "ok"
        samples = h.samples()
        assert len({s.id for s in samples}) == len(samples)
    final = golive_monitor(config)
    _out, err = final.communicate(timeout=120)
    assert final.returncode == 10, err  # WATCHING: nothing is measured, nothing failed
    with History.open(history) as h:
        assert h.count() == len(samples) + 1
    assert all(code == 10 for code in survivors)
