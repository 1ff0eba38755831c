"""The monitor's history: samples, events and small state in one SQLite file.

The database runs in WAL mode with `synchronous=FULL`: a process killed at any moment
(SIGKILL included) leaves every committed sample readable and loses only its own
uncommitted transaction. Writers are serialised by SQLite itself (`BEGIN IMMEDIATE` with
a busy timeout), so overlapping cron runs all store their sample. Deciding — evaluating
the verdict, notifying, running the rollback command — additionally takes an exclusive
`fcntl` lock on `<history>.lock`, so that two runs never notify twice or roll back twice;
the kernel releases that lock when its holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from golive.errors import GoliveError
from golive.monitor.model import Event, Sample

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    ts REAL NOT NULL,
    recorded_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_ts ON samples (ts);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, seq);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class HistoryError(GoliveError):
    """The history file cannot be opened, read or written."""

    exit_code = 3


class HistoryLocked(HistoryError):
    """Another `golive monitor` holds the decision lock longer than the lock timeout."""


class History:
    """One open history file. Use `History.open(path)` as a context manager."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock_timeout: float) -> None:
        self.path = path
        self.conn = conn
        self.lock_timeout = lock_timeout
        self._lock_fd: int | None = None

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, lock_timeout: float = 60.0, create: bool = True
    ) -> History:
        """Open (and create, with its directory) the history; raise HistoryError."""
        p = Path(path)
        if not create and not p.exists():
            raise HistoryError(f"no monitor history at {p} (run `golive monitor` first)")
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(p, timeout=lock_timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"cannot open the monitor history {p}: {exc}") from None
        history = cls(p, conn, lock_timeout)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout * 1000)}")
            if not history._has_schema():
                if not create:
                    raise HistoryError(f"{p} is not a golive monitor history")
                with history.locked():
                    history._init_schema()
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            conn.close()
            raise HistoryError(f"the monitor history {p} is not usable: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return history

    def _has_schema(self) -> bool:
        row = self.conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'state'"
        ).fetchone()
        return bool(row and row[0])

    def _init_schema(self) -> None:
        mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if not mode or str(mode[0]).lower() != "wal":
            raise HistoryError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
        self.conn.executescript(_SCHEMA)
        self.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?), ('created_at', ?)",
            (str(SCHEMA_VERSION), str(time.time())),
        )

    def close(self) -> None:
        """Close the connection (and release the lock if held)."""
        self._unlock()
        self.conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ locking

    @contextlib.contextmanager
    def locked(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the exclusive decision lock; raise HistoryLocked after `timeout` seconds."""
        if self._lock_fd is not None:  # re-entrant within one History
            yield
            return
        lock_path = f"{self.path}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + (self.lock_timeout if timeout is None else timeout)
        pause = 0.01
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise HistoryLocked(
                        f"another golive monitor{holder} has held {lock_path} for more than "
                        f"{self.lock_timeout if timeout is None else timeout:g}s"
                    ) from None
                time.sleep(pause)  # waiting for a local lock holder, not for the stack
                pause = min(pause * 2, 0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd
        try:
            yield
        finally:
            self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE): committed on success, rolled back on error."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot write the monitor history {self.path}: {exc}") from None
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot commit to the monitor history {self.path}: {exc}") from None

    # ------------------------------------------------------------------ samples

    def record(self, sample: Sample, *, error_log_file: tuple[str, str] | None = None) -> Sample:
        """Store a sample once (by id). With `error_log_file` = (path, pattern), count the
        error lines appended since the previous sample in the same transaction."""
        from golive.monitor.sampling import count_file_errors, dumps, with_file_errors

        with self.transaction() as conn:
            if error_log_file is not None:
                path, pattern = error_log_file
                key = f"error_log:{path}"
                try:
                    lines, span, new_state = count_file_errors(
                        path, pattern, self.get_state(key), sample.ts
                    )
                except OSError as exc:
                    sample = with_file_errors(
                        sample, None, None, f"cannot read {path}: {exc.strerror or exc}"
                    )
                else:
                    sample = with_file_errors(sample, lines, span, None)
                    self.set_state(key, new_state)
            conn.execute(
                "INSERT OR IGNORE INTO samples (id, ts, recorded_at, data) VALUES (?, ?, ?, ?)",
                (sample.id, sample.ts, time.time(), dumps(sample)),
            )
        return sample

    def samples(self, *, last: int | None = None) -> list[Sample]:
        """Samples in recording order (the `last` N when given)."""
        try:
            if last is None:
                rows = self.conn.execute("SELECT data FROM samples ORDER BY seq").fetchall()
            else:
                rows = self.conn.execute(
                    "SELECT data FROM (SELECT seq, data FROM samples ORDER BY seq DESC LIMIT ?)"
                    " ORDER BY seq",
                    (last,),
                ).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot read the monitor history {self.path}: {exc}") from None
        return [Sample.from_json(json.loads(r[0])) for r in rows]

    def count(self) -> int:
        """How many samples are stored."""
        row = self.conn.execute("SELECT count(*) FROM samples").fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ events and state

    def add_event(self, kind: str, ts: float, detail: Mapping[str, Any]) -> Event:
        """Append an event (in its own transaction unless one is open)."""
        sql = "INSERT INTO events (ts, kind, detail) VALUES (?, ?, ?)"
        args = (ts, kind, json.dumps(dict(detail), sort_keys=True, default=str))
        if self.conn.in_transaction:
            cur = self.conn.execute(sql, args)
        else:
            with self.transaction() as conn:
                cur = conn.execute(sql, args)
        return Event(int(cur.lastrowid or 0), ts, kind, dict(detail))

    def events(self, kinds: Sequence[str] | None = None) -> list[Event]:
        """Events in recording order, optionally only some kinds."""
        if kinds:
            marks = ",".join("?" for _ in kinds)
            rows = self.conn.execute(
                f"SELECT seq, ts, kind, detail FROM events WHERE kind IN ({marks}) ORDER BY seq",
                tuple(kinds),
            ).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT seq, ts, kind, detail FROM events ORDER BY seq"
            ).fetchall()
        return [Event(int(s), float(t), str(k), json.loads(d)) for s, t, k, d in rows]

    def get_state(self, key: str) -> Any:
        """A JSON value stored under `key`, or None."""
        row = self.conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_state(self, key: str, value: Any) -> None:
        """Store a JSON value under `key` (in its own transaction unless one is open)."""
        sql = (
            "INSERT INTO state (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        )
        args = (key, json.dumps(value, sort_keys=True, default=str))
        if self.conn.in_transaction:
            self.conn.execute(sql, args)
        else:
            with self.transaction() as conn:
                conn.execute(sql, args)

    def integrity(self) -> str:
        """`PRAGMA integrity_check`: 'ok' for an intact database."""
        rows = self.conn.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
