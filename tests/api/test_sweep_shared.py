"""Two servers sharing one Dask scheduler (INITSCOPE_DASK_SCHEDULER), as two web workers or two
containers would: a sweep streamed from one is cancelled through the other, and an id that runs
nowhere is a 404 on both. The scheduler and its workers are real processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace

import orjson
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import load_settings
from tests.sweeps.loopback import running_cluster

SCHEDULER_PORT = 8961  # this session's port range
SLOW = "depth=30&width=200&samples=1000&run=tanh,xavier&axis.gain=0.8:2:lin:40"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[TestClient, TestClient]]:
    with running_cluster(SCHEDULER_PORT) as (loopback, _), ExitStack() as stack:
        settings = replace(load_settings({}), dask_scheduler=loopback.address)
        first = stack.enter_context(TestClient(create_app(settings)))
        second = stack.enter_context(TestClient(create_app(settings)))
        yield first, second


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
