"""The trainings of every server sharing one Dask scheduler (INITSCOPE_DASK_SCHEDULER): the
registry of app/api/train_registry.py, kept on the scheduler instead of in a local file.

With several web workers or containers pointed at one scheduler, a training's stream, a second
viewer and a cancel may each reach another server, and a sweep's training point (on a Dask worker)
may ask for a link that /train trains. Each of them is a client of the scheduler, and the
registry's state lives there: which client runs which training (its owner), the training's events,
every listener of every client, and cancels awaiting the owner's answer. Each operation is one
function run on the scheduler's event loop (`Client.run_on_scheduler`), so it is atomic: two
clients claiming the same link at once get one owner. A client that disconnects (a server or a
worker that died) owns nothing and listens to nothing any more: its claims are taken over, its
listeners no longer count.

The scheduler needs nothing of initscope installed: the functions it runs are sent by value (this
module imports only the standard library at its top), the operations once per scheduler (kept on
it), then with each call only the small function that runs them.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .train_registry import EVENTS_KEPT_SECONDS, StoredEvent

if TYPE_CHECKING:
    from distributed import Client

STATE = "_initscope_trainings"  # the scheduler object's attribute holding the state
# One operation's longest wait for the scheduler's answer: a scheduler that does not answer (paused,
# overloaded, a peer that accepts and never speaks) is then a TimeoutError, reported as
# unreachable, and the thread that asked is free again.
CALL_SECONDS = 10.0


# --- what runs on the scheduler (its event loop: one operation at a time) -----------------------


@dataclass
class _State:
    jobs: dict[str, tuple[str, str]] = field(default_factory=dict)  # job -> (owner, share)
    events: dict[str, list[tuple[int, str, bytes]]] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)  # job -> when its owner released it
    listeners: dict[str, list[Any]] = field(default_factory=dict)  # token -> [job, client, detached]
    cancels: dict[str, list[Any]] = field(default_factory=dict)  # token -> [job, outcome, since]
    # job -> trainings started (claims), kept as long as its events: how often a link was computed
    claims: dict[str, int] = field(default_factory=dict)


def _owner(state: _State, clients: Any, job: str) -> str | None:
    entry = state.jobs.get(job)
    if entry is None:
        return None
    if entry[0] not in clients:  # its client is gone: the training with it
        del state.jobs[job]
        state.ended[job] = time.time()  # its events go with the next release's pruning
        return None
    return entry[0]


def _claim(state: _State, clients: Any, me: str, job: str, share: str) -> str | None:
    owner = _owner(state, clients, job)
    if owner is not None and owner != me:
        return owner
    state.jobs[job] = (me, share)
    state.events[job] = []
    state.claims[job] = state.claims.get(job, 0) + 1
    state.ended.pop(job, None)
    return None


def _release(state: _State, clients: Any, me: str, job: str) -> None:
    now = time.time()
    if job in state.jobs and state.jobs[job][0] == me:
        del state.jobs[job]
    state.ended[job] = now
    for old in [j for j, t in state.ended.items() if t < now - EVENTS_KEPT_SECONDS]:
        del state.ended[old]
        state.events.pop(old, None)
        state.claims.pop(old, None)
    # listeners and cancels of clients that have gone (a crashed server never removed them)
    for token in [t for t, row in state.listeners.items() if row[1] not in clients]:
        del state.listeners[token]
    # cancels never read back (their asker gave up); a fresh answer waits for its asker to read it
    for token in [t for t, row in state.cancels.items() if row[2] < now - EVENTS_KEPT_SECONDS]:
        del state.cancels[token]


def _append(state: _State, clients: Any, me: str, job: str, seq: int, kind: str, data: bytes) -> None:
    state.events.setdefault(job, []).append((seq, kind, data))


def _events_after(state: _State, job: str, seq: int) -> list[tuple[int, str, bytes]]:
    return [e for e in state.events.get(job, ()) if e[0] > seq]


def _follow(
    state: _State, clients: Any, me: str, job: str, seq: int, token: str
) -> tuple[list[tuple[int, str, bytes]], bool, bool]:
    """A remote listener's one look: its new events, whether it is detached, whether an owner runs."""
    row = state.listeners.get(token)
    detached = row is None or bool(row[2])
    return _events_after(state, job, seq), detached, _owner(state, clients, job) is not None


def _listeners(state: _State, clients: Any, job: str) -> int:
    return sum(1 for row in state.listeners.values() if row[0] == job and row[1] in clients)


def _poll(
    state: _State, clients: Any, me: str, jobs: list[str]
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """The owner's one look: the cancels awaiting its answer, and each job's listeners."""
    wanted = set(jobs)
    pending = [(t, row[0]) for t, row in state.cancels.items() if row[1] is None and row[0] in wanted]
    return pending, {job: _listeners(state, clients, job) for job in jobs}


def _op(name: str, me: str, args: tuple[Any, ...], dask_scheduler: Any = None) -> Any:
    """Run operation `name` for client `me` on the scheduler's state (made on first use)."""
    state = getattr(dask_scheduler, STATE, None)
    if state is None:
        state = _State()
        setattr(dask_scheduler, STATE, state)
    clients = dask_scheduler.clients
    if name == "claim":
        return _claim(state, clients, me, *args)
    if name == "release":
        return _release(state, clients, me, *args)
    if name == "owner":
        return _owner(state, clients, *args)
    if name == "append":
        return _append(state, clients, me, *args)
    if name == "events_after":
        return _events_after(state, *args)
    if name == "follow":
        return _follow(state, clients, me, *args)
    if name == "poll":
        return _poll(state, clients, me, *args)
    if name == "add_listener":
        token, job = args
        state.listeners[token] = [job, me, False]
        return None
    if name == "remove_listener":
        state.listeners.pop(args[0], None)
        return None
    if name == "listener_job":
        row = state.listeners.get(args[0])
        return None if row is None else row[0]
    if name == "listeners":
        return _listeners(state, clients, *args)
    if name == "detach":
        row = state.listeners.get(args[0])
        if row is not None:
            row[2] = True
        return None
    if name == "request_cancel":
        token, job = args
        state.cancels[token] = [job, None, time.time()]
        return None
    if name == "answer_cancel":
        token, outcome = args
        if token in state.cancels:
            state.cancels[token][1] = outcome
        return None
    if name == "cancel_outcome":
        row = state.cancels.get(args[0])
        if row is None or row[1] is None:
            return None
        del state.cancels[args[0]]
        return row[1]
    raise ValueError(f"no registry operation {name!r}")


# Sent once per scheduler (by value, ~14 kB) and kept there, under a name that says which version
# of this module made it; each operation then sends only `_installed_op` (a few hundred bytes).
INSTALLED = "_initscope_trainings_op_" + hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
NOT_INSTALLED = "\x00initscope: the registry's operations are not installed on this scheduler"


def _install(attribute: str, dask_scheduler: Any = None) -> None:
    setattr(dask_scheduler, attribute, _op)


def _installed_op(
    attribute: str, name: str, me: str, args: tuple[Any, ...], dask_scheduler: Any = None
) -> Any:
    """Operation `name` by the installed `_op`; NOT_INSTALLED (the client installs it and asks
    again) on a scheduler that has none: a new one, or one restarted since."""
    op = getattr(dask_scheduler, attribute, None)
    if op is None:
        return NOT_INSTALLED
    return op(name, me, args, dask_scheduler)


def _register_by_value() -> None:
    """Send `_op` and what it calls by value: the scheduler need not import initscope."""
    import sys

    import cloudpickle  # type: ignore[import-untyped]

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


# --- the client's side ----------------------------------------------------------------------------


class SchedulerRegistry:
    """The registry of app/api/train_registry.py's Registry, on a Dask scheduler: the same
    operations, for TrainJobs and for a sweep's training point on a worker. `client` gives the
    Dask client (called on first use, which may connect); this client's id is its identity."""

    def __init__(self, client: Callable[[], Client]) -> None:
        self._client_factory = client
        self._client: Client | None = None
        self._lock = threading.Lock()

    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                _register_by_value()
                self._client = self._client_factory()
            return self._client

    @property
    def me(self) -> str:
        return str(self.client().id)

    def _call(self, name: str, *args: Any) -> Any:
        client = self.client()
        me = str(client.id)
        result = client.run_on_scheduler(  # type: ignore[no-untyped-call]
            _installed_op, INSTALLED, name, me, args, callback_timeout=CALL_SECONDS
        )
        if isinstance(result, str) and result == NOT_INSTALLED:
            client.run_on_scheduler(_install, INSTALLED, callback_timeout=CALL_SECONDS)  # type: ignore[no-untyped-call]
            result = client.run_on_scheduler(  # type: ignore[no-untyped-call]
                _installed_op, INSTALLED, name, me, args, callback_timeout=CALL_SECONDS
            )
        return result

    def close(self) -> None:
        pass  # the client is its maker's to close

    # --- jobs ---------------------------------------------------------------------------------

    def claim(self, job: str, share: str) -> str | None:
        """Record this client as the owner of `job`; None if it is, or the owner that runs it."""
        owner: str | None = self._call("claim", job, share)
        return owner

    def release(self, job: str) -> None:
        self._call("release", job)

    def owned_elsewhere(self, job: str) -> bool:
        owner = self.owner(job)
        return owner is not None and owner != self.me

    def owner(self, job: str) -> str | None:
        """The client that runs `job`, while it is connected."""
        owner: str | None = self._call("owner", job)
        return owner

    # --- events -------------------------------------------------------------------------------

    def append(self, job: str, seq: int, kind: str, data: bytes) -> None:
        self._call("append", job, seq, kind, data)

    def events_after(self, job: str, seq: int) -> list[StoredEvent]:
        return [StoredEvent(s, k, d) for s, k, d in self._call("events_after", job, seq)]

    def follow(self, job: str, seq: int, token: str) -> tuple[list[StoredEvent], bool, bool]:
        """(events after `seq`, whether the listener `token` is detached, whether `job` has a
        live owner): a remote listener's look, in one message."""
        events, detached, owned = self._call("follow", job, seq, token)
        return [StoredEvent(s, k, d) for s, k, d in events], bool(detached), bool(owned)

    # --- listeners ----------------------------------------------------------------------------

    def add_listener(self, token: str, job: str) -> None:
        self._call("add_listener", token, job)

    def remove_listener(self, token: str) -> None:
        self._call("remove_listener", token)

    def listener_job(self, token: str) -> str | None:
        job: str | None = self._call("listener_job", token)
        return job

    def listeners(self, job: str) -> int:
        return int(self._call("listeners", job))

    def detach(self, token: str) -> None:
        self._call("detach", token)

    def detached(self, token: str) -> bool:
        return self.follow("", 0, token)[1]

    # --- cancels that reach a client other than the owner -------------------------------------

    def request_cancel(self, token: str, job: str) -> None:
        self._call("request_cancel", token, job)

    def pending_cancels(self, jobs: list[str]) -> list[tuple[str, str]]:
        return self.poll(jobs)[0]

    def poll(self, jobs: list[str]) -> tuple[list[tuple[str, str]], dict[str, int]]:
        """(token, job) of the unanswered cancels of these jobs, and each job's listeners."""
        if not jobs:
            return [], {}
        pending, counts = self._call("poll", jobs)
        return [(str(t), str(j)) for t, j in pending], {str(j): int(n) for j, n in counts.items()}

    def answer_cancel(self, token: str, outcome: str) -> None:
        self._call("answer_cancel", token, outcome)

    def cancel_outcome(self, token: str) -> str | None:
        outcome: str | None = self._call("cancel_outcome", token)
        return outcome
