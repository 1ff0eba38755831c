"""Headless Chromium for the report tests: one-shot runs (--dump-dom, --screenshot,
--print-to-pdf) and a small DevTools-protocol client over ``--remote-debugging-pipe`` for
what the one-shot flags cannot do (JavaScript off, clicking and typing in the page).

Flags as in STACK.md: no sandbox (tests run as root), no GPU, no background networking,
a fresh profile per browser. A missing Chromium skips, or fails under CI=true.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
)


def binary() -> str:
    """The Chromium binary, or skip (fail under CI=true)."""
    from tests.conftest import tool

    return tool("chromium")


def run(tmp_path: Path, url: str, *flags: str) -> str:
    """Run headless Chromium once on a page; returns what it prints (the DOM with --dump-dom)."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [binary(), *FLAGS, f"--user-data-dir={profile}", *flags, url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class Page:
    """One tab driven over the DevTools protocol (JSON messages separated by NUL on fds 3/4)."""

    def __init__(self, proc: subprocess.Popen[bytes], write_fd: int, read_fd: int) -> None:
        self._proc, self._w, self._r = proc, write_fd, read_fd
        self._buf = b""
        self._n = 0
        self._events: list[dict[str, Any]] = []
        self.session: str | None = None

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 16)
                if not chunk:
                    raise EOFError("Chromium closed the DevTools pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        data: dict[str, Any] = json.loads(msg)
        return data

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 30
    ) -> dict[str, Any]:
        """Send a command to the page's session and return its result."""
        self._n += 1
        msg: dict[str, Any] = {"id": self._n, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._n:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self._events.append(answer)

    def wait_for(self, event: str, *, timeout: float = 30) -> dict[str, Any]:
        """Wait for a protocol event (e.g. Page.loadEventFired)."""
        for i, e in enumerate(self._events):
            if e.get("method") == event:
                return self._events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            if msg.get("method") == event:
                return msg
            self._events.append(msg)

    def open(self, url: str) -> None:
        """Navigate and wait for the load event (scripts have run)."""
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        """Evaluate an expression in the page (works with the page's scripts disabled)."""
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"].get("text", "exception"))
        return res["result"].get("value")

    def type_text(self, text: str) -> None:
        """Type into the focused element, one key event per character."""
        for ch in text:
            self.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": ch, "key": ch})
            self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": ch})

    def click(self, selector: str) -> None:
        """Click the centre of the first element matching a CSS selector (a real mouse click)."""
        script = (
            "(() => { const e = document.querySelector(%s); e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        box = self.js(script % json.dumps(selector))
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
            )


def _child_fds(read_fd: int, write_fd: int) -> None:
    r, w = os.dup(read_fd), os.dup(write_fd)  # dups are inheritable, unlike os.pipe()'s ends
    os.dup2(r, 3)
    os.dup2(w, 4)


@contextmanager
def page(
    tmp_path: Path, *, scripts: bool = True, width: int = 1280, height: int = 1000
) -> Iterator[Page]:
    """A tab in a fresh headless Chromium, with the page's JavaScript on or off."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    profile = tmp_path / f"cdp-profile-{time.monotonic_ns()}"
    proc = subprocess.Popen(
        [
            binary(),
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            f"--window-size={width},{height}",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=False,
        preexec_fn=lambda: _child_fds(to_child_r, from_child_w),
    )
    os.close(to_child_r)
    os.close(from_child_w)
    tab = Page(proc, to_child_w, from_child_r)
    try:
        target = tab.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        tab.session = tab.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        tab.send("Page.enable")
        tab.send("Runtime.enable")
        if not scripts:
            tab.send("Emulation.setScriptExecutionDisabled", {"value": True})
        yield tab
    finally:
        try:
            tab.send("Browser.close", timeout=5)
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(to_child_w)
        os.close(from_child_r)
