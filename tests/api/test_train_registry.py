"""The trainings' registry that a server's workers share: claims, events, listeners, cancels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.api.train_registry import Registry, StoredEvent


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_registry_claim_is_once_per_live_owner(tmp_path: Path) -> None:
    mine, theirs = Registry(tmp_path), Registry(tmp_path)
    assert mine.claim("job", "depth=2") is None  # claimed
    assert mine.owner("job") == mine.pid and not mine.owned_elsewhere("job")
    # another worker (here, a pid that has exited) cannot claim it while its owner lives...
    dead = _dead_pid()
    theirs.pid = dead
    assert theirs.owned_elsewhere("job") and theirs.claim("job", "depth=2") == mine.pid
    # ...nor after it has ended; and a dead owner's claim is taken over
    mine.release("job")
    assert theirs.claim("job", "depth=2") is None and mine.owner("job") == dead
    assert not mine.owned_elsewhere("job")
    assert mine.claim("job", "depth=2") is None and mine.owner("job") == mine.pid


def test_registry_events_are_read_in_order_and_kept_after_the_end(tmp_path: Path) -> None:
    owner, viewer = Registry(tmp_path), Registry(tmp_path)
    owner.claim("job", "depth=2")
    for seq, kind in enumerate(["progress", "progress", "done"], start=1):
        owner.append("job", seq, kind, f"{seq}".encode())
    assert [e.seq for e in viewer.events_after("job", 0)] == [1, 2, 3]
    assert [(e.kind, e.data) for e in viewer.events_after("job", 2)] == [("done", b"3")]
    owner.release("job")
    assert viewer.owner("job") is None and len(viewer.events_after("job", 0)) == 3  # late readers finish
    owner.claim("job", "depth=2")  # the same link trained again starts a new log
    assert viewer.events_after("job", 0) == []


def test_registry_listeners_are_counted_over_workers(tmp_path: Path) -> None:
    a, b = Registry(tmp_path), Registry(tmp_path)
    a.add_listener("t1", "job")
    b.add_listener("t2", "job")
    b.add_listener("t3", "other")
    assert a.listeners("job") == 2 and a.listener_job("t2") == "job"
    assert not b.detached("t1")
    a.remove_listener("t1")
    assert b.listeners("job") == 1 and b.detached("t1")  # a removed listener reads as detached


def test_registry_listeners_of_a_dead_worker_do_not_count(tmp_path: Path) -> None:
    """A worker killed mid-stream removes none of its listeners: they must not keep its trainings
    (run by another worker) going with nobody watching."""
    live, killed = Registry(tmp_path), Registry(tmp_path)
    killed.pid = _dead_pid()
    killed.add_listener("gone", "job")
    live.add_listener("here", "job")
    assert live.listeners("job") == 1
    live.remove_listener("here")
    assert live.listeners("job") == 0 and killed.listener_job("gone") is None  # its row is cleared


def test_registry_cancel_is_a_request_the_owner_answers(tmp_path: Path) -> None:
    owner, other = Registry(tmp_path), Registry(tmp_path)
    other.request_cancel("t1", "job")
    assert owner.pending_cancels(["elsewhere"]) == []
    assert owner.pending_cancels(["job"]) == [("t1", "job")]
    assert other.cancel_outcome("t1") is None  # not answered yet
    owner.answer_cancel("t1", "stopped")
    assert owner.pending_cancels(["job"]) == []
    assert other.cancel_outcome("t1") == "stopped" and other.cancel_outcome("t1") is None  # read once


def test_a_follower_sees_a_dead_owners_job_as_unowned(tmp_path: Path) -> None:
    owner, viewer = Registry(tmp_path), Registry(tmp_path)
    owner.claim("job", "depth=2")
    owner.append("job", 1, "progress", b"1")
    viewer.add_listener("t", "job")
    assert viewer.follow("job", 0, "t") == ([StoredEvent(1, "progress", b"1")], False, True)
    # a worker that was killed mid-training, without releasing its job
    dead = Registry(tmp_path)
    dead.pid = _dead_pid()
    assert dead.claim("other", "depth=3") is None
    dead.append("other", 1, "progress", b"1")
    viewer.add_listener("u", "other")
    # its follower reads what was stored, then sees no owner (and ends with "lost")
    assert viewer.follow("other", 0, "u") == ([StoredEvent(1, "progress", b"1")], False, False)
