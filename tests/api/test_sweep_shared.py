"""Two servers sharing one Dask scheduler (INITSCOPE_DASK_SCHEDULER), as two web workers or two
containers would: a sweep streamed from one is cancelled through the other, and an id that runs
nowhere is a 404 on both; a training point cancelled so stops on its worker. The scheduler and
its workers are real processes on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace

import orjson
import pytest
from distributed import Client
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import load_settings
from tests.sweeps.loopback import running_cluster

SCHEDULER_PORT = 8961  # this session's port range
SLOW = "depth=30&width=200&samples=1000&run=tanh,xavier&axis.gain=0.8:2:lin:40"


# A training of a million tiny steps runs for a minute or more: far longer than a cancel takes.
LONG_TRAINING = (
    "of=train&data=synthetic&samples=100&width=4&iterations=1000000&record_every=1000000"
    "&run=relu,he_normal&axis.batch_seed=3"
)


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[TestClient, TestClient, Client]]:
    with running_cluster(SCHEDULER_PORT) as (loopback, client), ExitStack() as stack:
        settings = replace(load_settings({}), dask_scheduler=loopback.address, max_sweep_macs=10**13)
        settings = replace(settings, limits=replace(settings.limits, max_train_macs=10**13))
        first = stack.enter_context(TestClient(create_app(settings)))
        second = stack.enter_context(TestClient(create_app(settings)))
        yield first, second, client


@pytest.fixture(scope="module")
def servers(shared: tuple[TestClient, TestClient, Client]) -> tuple[TestClient, TestClient]:
    return shared[0], shared[1]


def _executing(client: Client) -> int:
    """Tasks running on the cluster's workers now."""
    counts = client.run(lambda dask_worker: len(dask_worker.state.executing))
    return sum(counts.values())


def test_a_running_training_stops_when_its_sweep_is_cancelled_through_another_server(
    shared: tuple[TestClient, TestClient, Client],
) -> None:
    first, second, client = shared
    with first.stream("GET", f"/api/v1/sweep/stream?{LONG_TRAINING}") as response:
        lines = response.iter_lines()
        assert next(lines) == "event: start"
        start = orjson.loads(next(lines).removeprefix("data: "))
        deadline = time.monotonic() + 60
        while _executing(client) == 0:  # the training has started on a worker
            assert time.monotonic() < deadline, "the training never started"
            time.sleep(0.05)
        assert second.delete(f"/api/v1/sweep/{start['id']}").status_code == 204
        rest = "\n".join(lines)
    done = orjson.loads(rest.split("event: done\ndata: ")[1].split("\n")[0])
    assert done == {"completed": 0, "failed": 0, "cancelled": True}
    # the worker stopped training at its next step: it is idle long before a million steps
    deadline = time.monotonic() + 30
    while _executing(client) > 0:
        assert time.monotonic() < deadline, "the training went on after its sweep was cancelled"
        time.sleep(0.05)


def test_a_sweep_is_cancelled_through_another_server(servers: tuple[TestClient, TestClient]) -> None:
    first, second = servers
    with first.stream("GET", f"/api/v1/sweep/stream?{SLOW}") as response:
        lines = response.iter_lines()
        assert next(lines) == "event: start"
        start = orjson.loads(next(lines).removeprefix("data: "))
        assert second.delete(f"/api/v1/sweep/{start['id']}").status_code == 204
        rest = "\n".join(lines)
    done = orjson.loads(rest.split("event: done\ndata: ")[1].split("\n")[0])
    assert done["cancelled"] is True and done["completed"] < 40
    # over: neither server finds it any more
    assert second.delete(f"/api/v1/sweep/{start['id']}").status_code == 404
    assert first.delete(f"/api/v1/sweep/{start['id']}").status_code == 404


def test_an_unknown_id_is_a_404_on_every_server(servers: tuple[TestClient, TestClient]) -> None:
    for server in servers:
        assert server.delete("/api/v1/sweep/AAAAAAAAAAAAAAAA").status_code == 404
        assert server.delete("/api/v1/sweep/not-an-id").status_code == 404
