"""golive/monitor/history.py: SQLite WAL storage, the decision lock, error-log offsets,
and a history that survives a writer killed with SIGKILL mid-transaction."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from golive.monitor.history import History, HistoryError, HistoryLocked
from golive.monitor.model import Sample
from golive.monitor.sampling import count_file_errors


def sample(ts: float, **kw: object) -> Sample:
    return Sample(id=f"id-{ts}", ts=ts, interval=60.0, **kw)  # type: ignore[arg-type]


def test_records_and_reads_back_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "history.sqlite"
    with History.open(path) as h:
        h.record(sample(1.0, api_ok=True, latencies_ms=(1.5, 2.5), problems={"db": "down"}))
        h.record(sample(2.0, api_ok=False, api_detail="connection refused"))
        got = h.samples()
    assert [s.ts for s in got] == [1.0, 2.0]
    assert got[0].latencies_ms == (1.5, 2.5) and got[0].problems == {"db": "down"}
    assert got[1].api_detail == "connection refused"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_sample_is_stored_once(tmp_path: Path) -> None:
    with History.open(tmp_path / "h.sqlite") as h:
        s = sample(5.0)
        h.record(s)
        h.record(s)  # a retry of the same sample
        assert h.count() == 1


def test_last_samples_in_recording_order(tmp_path: Path) -> None:
    with History.open(tmp_path / "h.sqlite") as h:
        for ts in (30.0, 10.0, 20.0):  # recording order, not clock order
            h.record(sample(ts))
        assert [s.ts for s in h.samples(last=2)] == [10.0, 20.0]


def test_events_and_state(tmp_path: Path) -> None:
    with History.open(tmp_path / "h.sqlite") as h:
        h.add_event("trigger", 10.0, {"reason": "security breach"})
        h.add_event("verdict", 11.0, {"from": None, "to": "ROLLBACK"})
        h.set_state("verdict", {"verdict": "ROLLBACK", "at": 11.0})
        h.set_state("verdict", {"verdict": "WATCHING", "at": 12.0})
        assert [e.kind for e in h.events()] == ["trigger", "verdict"]
        assert [e.detail for e in h.events(("trigger",))] == [{"reason": "security breach"}]
        assert h.get_state("verdict") == {"verdict": "WATCHING", "at": 12.0}
        assert h.get_state("missing") is None


def test_status_on_a_missing_history_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        HistoryError, match=r"no monitor history at .*nope\.sqlite \(run `golive monitor` first\)"
    ):
        History.open(tmp_path / "nope.sqlite", create=False)


def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    bad = tmp_path / "h.sqlite"
    bad.write_text("not a database at all " * 100)
    with pytest.raises(HistoryError, match="is not usable: file is not a database"):
        History.open(bad)


def test_decision_lock_is_exclusive_and_times_out(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with History.open(path) as first, History.open(path) as second:
        with first.locked():
            t0 = time.monotonic()
            held = rf"another golive monitor \(pid {os.getpid()}\) has held .*h\.sqlite\.lock"
            with (
                pytest.raises(HistoryLocked, match=held + r" for more than 0\.3s"),
                second.locked(0.3),
            ):
                pass
            assert time.monotonic() - t0 >= 0.3
        with second.locked(timeout=0.3):  # released
            pass


HOLDER = textwrap.dedent(
    """
    import sys, time
    from golive.monitor.history import History
    from golive.monitor.model import Sample
    h = History.open(sys.argv[1])
    mode = sys.argv[2]
    if mode == "lock":
        with h.locked():
            print("held", flush=True)
            time.sleep(60)
    else:  # a write transaction that never commits
        with h.transaction() as conn:
            for i in range(500):
                conn.execute("INSERT INTO samples (id, ts, recorded_at, data) VALUES (?, ?, 0, '{}')",
                             (f"uncommitted-{i}", float(i)))
            print("held", flush=True)
            time.sleep(60)
    """
)


def _hold(path: Path, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_sigkill_releases_the_decision_lock(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    History.open(path).close()
    proc = _hold(path, "lock")
    with History.open(path) as h:
        with pytest.raises(HistoryLocked), h.locked(timeout=0.2):
            pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        with h.locked(timeout=5):
            pass


def test_sigkill_mid_transaction_leaves_the_history_readable(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with History.open(path) as h:
        for ts in range(10):
            h.record(sample(float(ts)))
    proc = _hold(path, "write")  # 500 inserted rows, not committed, WAL being written
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    with History.open(path) as h:
        assert h.integrity() == "ok"
        assert [s.ts for s in h.samples()] == [float(t) for t in range(10)]
        h.record(sample(99.0))  # and it still takes writes
        assert h.count() == 11


# ----------------------------------------------------------------------------- error-log file


def test_file_errors_are_counted_incrementally(tmp_path: Path) -> None:
    log = tmp_path / "api.log"
    log.write_text("INFO start\nERROR one\nERROR two\n")
    n, span, state = count_file_errors(str(log), "ERROR", None, now=100.0)
    assert (n, span) == (2, None)  # first read: the whole file, age unknown
    with log.open("a") as fh:
        fh.write("INFO ok\nERROR three\nERROR half-writ")  # the last line is incomplete
    n, span, state = count_file_errors(str(log), "ERROR", state, now=160.0)
    assert (n, span) == (1, 60.0)
    with log.open("a") as fh:
        fh.write("ten\n")
    n, span, state = count_file_errors(str(log), "ERROR", state, now=220.0)
    assert (n, span) == (1, 60.0)  # the completed line counts once, now


def test_file_errors_after_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "api.log"
    log.write_text("ERROR a\n" * 5)
    _, _, state = count_file_errors(str(log), "ERROR", None, now=0.0)
    log.write_text("ERROR b\n")  # truncated in place: smaller than the saved offset
    assert count_file_errors(str(log), "ERROR", state, now=10.0)[0] == 1
    log.rename(tmp_path / "api.log.1")
    log.write_text("ERROR c\nERROR d\n" + "x" * 50 + "\n")  # a new file (new inode)
    n, span, _ = count_file_errors(str(log), "ERROR", state, now=20.0)
    assert (n, span) == (2, 20.0)


def test_record_counts_the_file_under_the_write_lock(tmp_path: Path) -> None:
    log = tmp_path / "api.log"
    log.write_text("ERROR x\n")
    with History.open(tmp_path / "h.sqlite") as h:
        first = h.record(sample(0.0), error_log_file=(str(log), "ERROR"))
        second = h.record(sample(60.0), error_log_file=(str(log), "ERROR"))
        missing = h.record(sample(120.0), error_log_file=(str(tmp_path / "gone.log"), "ERROR"))
    assert (first.error_lines, first.error_span) == (1, None)
    assert (second.error_lines, second.error_span) == (0, 60.0)
    assert missing.error_lines is None
    assert missing.problems == {
        "error-log lines": f"cannot read {tmp_path / 'gone.log'}: No such file or directory"
    }
