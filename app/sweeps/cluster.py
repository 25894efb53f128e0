"""The Dask client a sweep runs on: a real scheduler's when an address is given, else an embedded
LocalCluster sized to the machine (one single-threaded worker process per core: the engine pins
BLAS to one thread, so a point uses one core)."""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import dask
from distributed import Client, LocalCluster
from distributed.comm.core import connect as open_comm

# Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, to hand freed memory back to
# the system. Setting it turns off glibc's adaptive mmap threshold, so every large array the engine
# allocates is mapped and unmapped afresh: measured, ~10,000 page faults and +25% CPU per point of
# the tanh phase diagram (worker 96 + 20 ms against 82 ms in one process). Unset, a point costs the
# same CPU in a worker as alone.
CONNECT_SECONDS = 10  # a scheduler that does not answer within this is reported unreachable
NO_TRIM = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def local_cluster(workers: int | None = None) -> LocalCluster:
    with dask.config.set(NO_TRIM):
        return _local_cluster(workers)


def _local_cluster(workers: int | None) -> LocalCluster:
    return LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,  # no web server of Dask's own beside the app's
        host="127.0.0.1",  # nobody else may send it work
        # The scheduler serves /health and /metrics over HTTP even without a dashboard, by default
        # on port 8787 of every interface: a second cluster on the machine then warned (an error
        # under the tests' warning filters) and took another. Loopback, a free port.
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    )


def connect(address: str | None = None, workers: int | None = None) -> Client:
    """A client of the scheduler at `address` (tcp://host:port), or of a new local cluster, which
    closes with the client."""
    if address:
        _answers(address)
        return Client(address, set_as_default=False, timeout=CONNECT_SECONDS)
    cluster = local_cluster(workers)
    client = Client(cluster, set_as_default=False)
    client._initscope_owns_cluster = True  # type: ignore[attr-defined]
    return client


def _answers(address: str) -> None:
    """TimeoutError or OSError unless the scheduler at `address` answers within CONNECT_SECONDS.
    Client's own timeout covers the TCP connect, not a peer that accepts and never speaks (a port
    forwarded to nothing, a wrong service): its constructor then waited forever, holding every
    later sweep behind it. So the scheduler is asked who it is first, under one deadline."""

    async def identity() -> None:
        comm = await open_comm(address, timeout=CONNECT_SECONDS)
        try:
            await comm.write({"op": "identity", "reply": True})
            await comm.read()
        finally:
            comm.abort()

    try:
        # in a thread of its own: the caller's thread may run an event loop (asyncio.run refuses to
        # start there), and Client's own runs in a thread of Dask's
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, asyncio.wait_for(identity(), CONNECT_SECONDS)).result()
    except TimeoutError:
        raise TimeoutError(
            f"{address} accepted the connection but did not answer within {CONNECT_SECONDS} s"
        ) from None


def close(client: Client) -> None:
    """Close the client, and the local cluster it was made with."""
    cluster = client.cluster if getattr(client, "_initscope_owns_cluster", False) else None
    client.close()
    if cluster is not None:
        cluster.close()
