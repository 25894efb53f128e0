"""The trainings of one server, shared by its worker processes: a small SQLite file they all open.

`initscope serve` gives its workers a folder (INITSCOPE_SHARED_DIR); with several workers a
training's stream, a second viewer and a cancel may each reach another worker. The worker that
runs a training (its owner) writes its events here; a viewer on another worker reads them; every
listener of every worker is a row, so the owner stops a training only when no worker has a
listener left; a cancel that reaches another worker is a request the owner answers.

Every call is a short transaction on a local file (WAL mode: readers never wait for the writer).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, pid INTEGER NOT NULL, share TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    job TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL,
    ended REAL, PRIMARY KEY (job, seq)
);
CREATE TABLE IF NOT EXISTS listeners (
    token TEXT PRIMARY KEY, job TEXT NOT NULL, pid INTEGER NOT NULL, detached INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cancels (token TEXT PRIMARY KEY, job TEXT NOT NULL, outcome TEXT);
"""
EVENTS_KEPT_SECONDS = 60.0  # a finished training's events, for viewers on other workers to finish reading


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    kind: str
    data: bytes


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Registry:
    def __init__(self, folder: Path) -> None:
        self.pid = os.getpid()
        self._db = sqlite3.connect(folder / "trainings.sqlite3", timeout=10, check_same_thread=False)
        self._lock = threading.Lock()  # one connection per process, used from the loop and threads
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._db:
            return self._db.execute(sql, args).fetchall()

    # --- jobs -------------------------------------------------------------------------------------

    def claim(self, job: str, share: str) -> int | None:
        """Record this process as the owner of `job`; None if it is, or the pid of the live worker
        that already owns it (a dead owner's claim is taken over)."""
        with self._lock, self._db:
            row = self._db.execute("SELECT pid FROM jobs WHERE id = ?", (job,)).fetchone()
            if row is not None and row[0] != self.pid and _alive(int(row[0])):
                return int(row[0])
            self._db.execute(
                "INSERT OR REPLACE INTO jobs (id, pid, share) VALUES (?, ?, ?)", (job, self.pid, share)
            )
            self._db.execute("DELETE FROM events WHERE job = ?", (job,))
            return None

    def release(self, job: str) -> None:
        """The owner's training has ended (its last event is stored)."""
        now = time.time()
        with self._lock, self._db:
            self._db.execute("DELETE FROM jobs WHERE id = ? AND pid = ?", (job, self.pid))
            self._db.execute("UPDATE events SET ended = ? WHERE job = ?", (now, job))
            self._db.execute(
                "DELETE FROM events WHERE ended IS NOT NULL AND ended < ?", (now - EVENTS_KEPT_SECONDS,)
            )

    def owned_elsewhere(self, job: str) -> bool:
        """Another live worker of the server runs `job`."""
        owner = self.owner(job)
        return owner is not None and owner != self.pid and _alive(owner)

    def owner(self, job: str) -> int | None:
        rows = self._run("SELECT pid FROM jobs WHERE id = ?", (job,))
        return int(rows[0][0]) if rows else None

    # --- events -----------------------------------------------------------------------------------

    def append(self, job: str, seq: int, kind: str, data: bytes) -> None:
        self._run("INSERT INTO events (job, seq, kind, data) VALUES (?, ?, ?, ?)", (job, seq, kind, data))

    def events_after(self, job: str, seq: int) -> list[StoredEvent]:
        rows = self._run(
            "SELECT seq, kind, data FROM events WHERE job = ? AND seq > ? ORDER BY seq", (job, seq)
        )
        return [StoredEvent(int(s), str(k), bytes(d)) for s, k, d in rows]

    # --- listeners --------------------------------------------------------------------------------

    def add_listener(self, token: str, job: str) -> None:
        self._run("INSERT INTO listeners (token, job, pid) VALUES (?, ?, ?)", (token, job, self.pid))

    def remove_listener(self, token: str) -> None:
        self._run("DELETE FROM listeners WHERE token = ?", (token,))

    def listener_job(self, token: str) -> str | None:
        rows = self._run("SELECT job FROM listeners WHERE token = ?", (token,))
        return str(rows[0][0]) if rows else None

    def listeners(self, job: str) -> int:
        """Listeners of `job` in live workers. A worker killed mid-stream (OOM, a crash) removed
        none of its rows: counted, they would keep its trainings running with nobody watching."""
        rows = self._run("SELECT pid, COUNT(*) FROM listeners WHERE job = ? GROUP BY pid", (job,))
        dead = [int(pid) for pid, _ in rows if int(pid) != self.pid and not _alive(int(pid))]
        if dead:
            marks = ",".join("?" * len(dead))
            self._run(f"DELETE FROM listeners WHERE pid IN ({marks})", tuple(dead))
        return sum(int(count) for pid, count in rows if int(pid) not in dead)

    def detach(self, token: str) -> None:
        """The listener cancelled while others listen on: it stops reading, wherever it is."""
        self._run("UPDATE listeners SET detached = 1 WHERE token = ?", (token,))

    def detached(self, token: str) -> bool:
        rows = self._run("SELECT detached FROM listeners WHERE token = ?", (token,))
        return not rows or bool(rows[0][0])

    # --- cancels that reach a worker other than the owner -----------------------------------------

    def request_cancel(self, token: str, job: str) -> None:
        self._run("INSERT OR REPLACE INTO cancels (token, job, outcome) VALUES (?, ?, NULL)", (token, job))

    def pending_cancels(self, jobs: list[str]) -> list[tuple[str, str]]:
        """(token, job) of the unanswered cancels of these jobs."""
        if not jobs:
            return []
        marks = ",".join("?" * len(jobs))
        rows = self._run(
            f"SELECT token, job FROM cancels WHERE outcome IS NULL AND job IN ({marks})", tuple(jobs)
        )
        return [(str(t), str(j)) for t, j in rows]

    def answer_cancel(self, token: str, outcome: str) -> None:
        self._run("UPDATE cancels SET outcome = ? WHERE token = ?", (outcome, token))

    def cancel_outcome(self, token: str) -> str | None:
        rows = self._run("SELECT outcome FROM cancels WHERE token = ?", (token,))
        if not rows or rows[0][0] is None:
            return None
        self._run("DELETE FROM cancels WHERE token = ?", (token,))
        return str(rows[0][0])

    # --- several questions at once (the scheduler's registry answers each in one message) ---------

    def follow(self, job: str, seq: int, token: str) -> tuple[list[StoredEvent], bool, bool]:
        """(events after `seq`, whether listener `token` is detached, whether `job` has an owner)."""
        # first: once it is gone, every event is stored. A dead owner (a worker killed mid-training)
        # owns nothing: its listeners elsewhere end with "lost" instead of waiting forever.
        owner = self.owner(job)
        owned = owner is not None and _alive(owner)
        return self.events_after(job, seq), self.detached(token), owned

    def poll(self, jobs: list[str]) -> tuple[list[tuple[str, str]], dict[str, int]]:
        """The unanswered cancels of these jobs, and each job's listeners."""
        return self.pending_cancels(jobs), {job: self.listeners(job) for job in jobs}


class SharedRegistry(Protocol):
    """What TrainJobs asks of a registry: this file's (the workers of one server), or the one on a
    shared Dask scheduler (app/api/train_scheduler.py: every server and worker using it)."""

    def claim(self, job: str, share: str) -> object | None: ...
    def release(self, job: str) -> None: ...
    def owned_elsewhere(self, job: str) -> bool: ...
    def owner(self, job: str) -> object | None: ...
    def append(self, job: str, seq: int, kind: str, data: bytes) -> None: ...
    def add_listener(self, token: str, job: str) -> None: ...
    def remove_listener(self, token: str) -> None: ...
    def listener_job(self, token: str) -> str | None: ...
    def listeners(self, job: str) -> int: ...
    def request_cancel(self, token: str, job: str) -> None: ...
    def answer_cancel(self, token: str, outcome: str) -> None: ...
    def cancel_outcome(self, token: str) -> str | None: ...
    def follow(self, job: str, seq: int, token: str) -> tuple[list[StoredEvent], bool, bool]: ...
    def poll(self, jobs: list[str]) -> tuple[list[tuple[str, str]], dict[str, int]]: ...
    def close(self) -> None: ...
