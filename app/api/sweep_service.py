"""The server's sweeps: one Dask client per server process, a place for each running sweep, a cache.

The client is made on the first sweep (a LocalCluster sized to the machine takes a second or two
to start, which a server that never sweeps should not pay), of the scheduler at
INITSCOPE_DASK_SCHEDULER when it is set, and closed at shutdown. At most `max_sweeps` sweeps run
at once: one more is refused with a Retry-After. Finished points are cached by link, so a page
that reconnects, or an export after a stream, runs only what is new.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..settings import Settings
from ..sweeps.cost import Plan, SweepLimits, plan
from ..sweeps.link import parse_sweep
from ..sweeps.runner import PointCache, PointResult, SweepRun
from ..sweeps.shared import SharedSweep, cancel_shared
from .runner import OverloadedError
from .train_point import compute_shared_training_point

if TYPE_CHECKING:
    from distributed import Client

RETRY_AFTER = 5  # seconds: sweeps take seconds to minutes; a refused one tries again soon
# Seconds a request may wait for the cluster's client (a LocalCluster's start, a scheduler's answer)
CONNECT_TIMEOUT = 60
ID_BYTES = 12
ID_LENGTH = 16  # token_urlsafe(12): 16 characters
UNCLAIMED_SECONDS = 30  # an admitted sweep whose results were never asked for frees its place


def plan_query(query: str, settings: Settings) -> Plan:
    """The sweep link's plan, within the settings' limits (ConfigError naming what is wrong)."""
    limits = SweepLimits(settings.max_sweep_points, settings.max_sweep_macs)
    return plan(parse_sweep(query), limits, settings.limits)


@dataclass
class Running:
    """A sweep's place: taken when its request is admitted, its run set once it starts."""

    since: float
    run: SweepRun | None = None
    cancelled: bool = False


class SweepService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache = PointCache()
        self.running: dict[str, Running] = {}
        self._client: Client | None = None
        self._client_lock = threading.Lock()

    def client(self) -> Client:
        """The Dask client, made on first use (blocking: call it in a thread)."""
        with self._client_lock:
            if self._client is None:
                from ..sweeps import cluster  # Dask's import (~1 s) is paid by the first sweep

                self._client = cluster.connect(self.settings.dask_scheduler or None)
            return self._client

    def close(self) -> None:
        """Cancel every sweep and close the client (and its LocalCluster's processes)."""
        for sweep_id in list(self.running):
            self._cancel_here(sweep_id)
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            from ..sweeps import cluster

            cluster.close(client)

    def admit(self) -> str:
        """A place for one more sweep (its id), or OverloadedError. The place is the sweep's until
        `results` ends; one that never started (its response never sent) is let go after a while."""
        now = time.monotonic()
        for sweep_id, running in list(self.running.items()):
            if running.run is None and now - running.since > UNCLAIMED_SECONDS:
                self.running.pop(sweep_id, None)
        if len(self.running) >= self.settings.max_sweeps:
            raise OverloadedError(RETRY_AFTER)
        sweep_id = secrets.token_urlsafe(ID_BYTES)
        self.running[sweep_id] = Running(now)
        return sweep_id

    async def cancel(self, sweep_id: str) -> bool:
        """Cancel a sweep of this process, or, with a shared scheduler, of any server using it."""
        if self._cancel_here(sweep_id):
            return True
        if not self.settings.dask_scheduler or not _well_formed(sweep_id):
            return False
        client = await asyncio.wait_for(asyncio.to_thread(self.client), CONNECT_TIMEOUT)
        return await asyncio.to_thread(cancel_shared, client, sweep_id)

    def _cancel_here(self, sweep_id: str) -> bool:
        running = self.running.get(sweep_id)
        if running is None:
            return False
        running.cancelled = True
        if running.run is not None:
            running.run.cancel()
        return True

    async def results(self, sweep_id: str, planned: Plan) -> AsyncIterator[PointResult]:
        """The plan's points as they complete (cached ones first); cancelled when the caller stops
        iterating (a client that hangs up) or `cancel(sweep_id)` is called."""
        running = self.running.setdefault(sweep_id, Running(time.monotonic()))
        try:
            client = await asyncio.wait_for(asyncio.to_thread(self.client), CONNECT_TIMEOUT)
        except BaseException:
            self.running.pop(sweep_id, None)
            raise
        compute = None  # the kind's own (app/sweeps/point.py)
        if self.settings.dask_scheduler and planned.sweep.kind == "train":
            compute = compute_shared_training_point  # one training for /train and sweeps alike
        run = running.run = SweepRun(client, planned.points, self.cache, compute, planned.sweep.kind)
        if running.cancelled:
            run.cancel()
        # with a shared scheduler, the sweep is announced there: another server can cancel it
        shared = SharedSweep(client, sweep_id) if self.settings.dask_scheduler else None
        if shared is not None:
            await asyncio.to_thread(shared.start, run.cancel)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[PointResult | BaseException | None] = asyncio.Queue()

        def work() -> None:  # the client's calls block: in a thread, handing results to the loop
            try:
                for result in run:
                    loop.call_soon_threadsafe(queue.put_nowait, result)
            except BaseException as err:
                loop.call_soon_threadsafe(queue.put_nowait, err)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        thread = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            run.cancel()
            self.running.pop(sweep_id, None)
            await asyncio.shield(thread)
            if shared is not None:
                await asyncio.shield(asyncio.to_thread(shared.end))


def _well_formed(sweep_id: str) -> bool:
    """An id as admit() makes them (URL-safe base64 of 12 bytes): anything else names no sweep,
    and is not sent to the scheduler as part of a name."""
    return len(sweep_id) == ID_LENGTH and all(c.isalnum() or c in "-_" for c in sweep_id)
