"""The trainings' registry on a real Dask scheduler (a `dask scheduler` process on loopback): two
clients share it (one owner per link), and its operations are sent to the scheduler once, not
with every call."""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import distributed.client
import pytest
from distributed import Client

from app.api.train_registry import StoredEvent
from app.api.train_scheduler import INSTALLED, SchedulerRegistry
from app.sweeps import cluster
from tests.sweeps.loopback import LoopbackCluster

SCHEDULER_PORT = 18953


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A scheduler alone (registry calls need no worker)."""
    loopback = LoopbackCluster(SCHEDULER_PORT)
    try:
        loopback.start_scheduler()
        deadline = time.monotonic() + 60
        while True:  # until it listens
            try:
                cluster.close(cluster.connect(loopback.address))
                break
            except OSError:
                assert time.monotonic() < deadline, "the scheduler never listened"
                time.sleep(0.3)
        yield loopback.address
    finally:
        assert loopback.stop() == [], "the scheduler outlived the test"


@pytest.fixture
def clients(scheduler: str) -> Iterator[list[Client]]:
    made = [cluster.connect(scheduler) for _ in range(2)]
    try:
        yield made
    finally:
        for client in made:
            cluster.close(client)


def _installed(client: Client) -> list[str]:
    def names(dask_scheduler: Any = None) -> list[str]:
        return sorted(k for k in vars(dask_scheduler) if k.startswith("_initscope_trainings_op_"))

    result: list[str] = client.run_on_scheduler(names)
    return result


def _forget(client: Client) -> None:
    """As a restarted scheduler would: the installed operations are gone."""

    def forget(dask_scheduler: Any = None) -> None:
        for name in [k for k in vars(dask_scheduler) if k.startswith("_initscope_trainings_op_")]:
            delattr(dask_scheduler, name)

    client.run_on_scheduler(forget)


def test_two_clients_share_one_registry_with_one_owner_per_link(clients: list[Client]) -> None:
    first, second = (SchedulerRegistry(lambda c=c: c) for c in clients)  # type: ignore[misc]
    job = f"claim-{time.monotonic_ns()}"
    assert first.claim(job, "share") is None
    assert second.claim(job, "share") == first.me  # taken: one owner
    assert second.owned_elsewhere(job) and not first.owned_elsewhere(job)
    first.append(job, 1, "progress", b"{}")
    second.add_listener("token-b", job)
    assert second.follow(job, 0, "token-b") == (
        [StoredEvent(1, "progress", b"{}")],
        False,
        True,
    )
    assert first.poll([job]) == ([], {job: 1})
    first.release(job)
    assert second.owner(job) is None and second.claim(job, "share") is None


def test_the_operations_go_to_the_scheduler_once_then_a_small_function_per_call(
    clients: list[Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    _forget(clients[0])
    sent: list[int] = []  # the pickled size of each function sent to the scheduler
    dumps = vars(distributed.client)["dumps"]  # what run_on_scheduler pickles its function with

    def counting(value: Any, *args: Any, **kwargs: Any) -> Any:
        out = dumps(value, *args, **kwargs)
        if callable(value):
            sent.append(len(out))
        return out

    monkeypatch.setattr(distributed.client, "dumps", counting)
    first, second = (SchedulerRegistry(lambda c=c: c) for c in clients)  # type: ignore[misc]
    job = f"sent-{time.monotonic_ns()}"
    assert first.claim(job, "share") is None
    for seq in range(1, 11):
        first.append(job, seq, "progress", b"{}")
    assert len(second.follow(job, 0, "nobody")[0]) == 10
    assert _installed(clients[0]) == [INSTALLED]
    monkeypatch.setattr(distributed.client, "dumps", dumps)
    # 12 operations (and the listing above): the operations (~14 kB) went once, with the first
    # call (which found none installed and was asked again); every other call sent ~1 kB
    large = [n for n in sent if n > 4000]
    assert len(large) == 1 and large[0] > 10_000, sent
    assert len([n for n in sent if n <= 2000]) >= 13, sent
    # a scheduler that lost them (restarted) gets them again, and the state it keeps is intact
    _forget(clients[0])
    assert len(first.follow(job, 5, "nobody")[0]) == 5
    assert _installed(clients[0]) == [INSTALLED]
    first.release(job)
