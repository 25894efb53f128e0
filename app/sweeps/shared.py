"""Sweeps seen by every client of one scheduler: a running sweep is announced there (a Dask
Variable) with a cancel flag (a Dask Event), so that a server process other than the one running
it (another web worker, another container) can cancel it by its id."""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client

RUNNING_PREFIX = "initscope-sweep-running-"
CANCEL_PREFIX = "initscope-sweep-cancel-"
LOOKUP_SECONDS = 0.5  # how long a cancel waits for the scheduler to say whether the sweep runs


class SharedSweep:
    """One running sweep's entry on the scheduler. `start(on_cancel)` announces it and calls
    `on_cancel` (in a thread) when any client sets its flag; `end()` takes it off."""

    def __init__(self, client: Client, sweep_id: str) -> None:
        from distributed import Event, Variable

        self.running = Variable(RUNNING_PREFIX + sweep_id, client)
        self.flag = Event(CANCEL_PREFIX + sweep_id, client)
        self._ended = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self, on_cancel: Callable[[], None]) -> None:
        self.running.set(1)

        def watch() -> None:
            self.flag.wait()  # set by a cancel, here or elsewhere, or by end()
            if not self._ended.is_set():
                on_cancel()

        self._watcher = threading.Thread(target=watch, name="sweep-cancel-watch", daemon=True)
        self._watcher.start()

    def end(self) -> None:
        self._ended.set()
        self.running.set(0)  # set waits for the scheduler; delete is sent without waiting
        self.running.delete()
        self.flag.set()  # wakes the watcher, which then does nothing
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        self.flag.clear()


def cancel_shared(client: Client, sweep_id: str) -> bool:
    """Set the cancel flag of sweep `sweep_id` if it runs on this scheduler; whether it does."""
    from distributed import Event, Variable

    try:
        if Variable(RUNNING_PREFIX + sweep_id, client).get(timeout=LOOKUP_SECONDS) != 1:
            return False  # it has ended
    except TimeoutError:
        return False
    Event(CANCEL_PREFIX + sweep_id, client).set()
    return True
