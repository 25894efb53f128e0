"""Sweeps on real Dask clusters: the embedded LocalCluster, and a multi-process cluster on loopback
that this module starts itself (`dask scheduler` and `dask worker` processes).

On both: every point's metrics equal the same link computed alone in this process; a cached point
costs no task; cancel stops the sweep; and on the real cluster, killing a worker mid-sweep still
completes it with the same results. Every cluster is torn down, and its processes are checked gone.
"""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from distributed import Client

from app.sweeps import cluster
from app.sweeps.cost import SweepLimits, plan
from app.sweeps.engine import Limits
from app.sweeps.link import parse_sweep
from app.sweeps.point import compute_point
from app.sweeps.runner import PointCache, SweepRun, point_key
from tests.sweeps.counting import counted_compute
from tests.sweeps.loopback import POINT_LOG, LoopbackCluster, running_cluster, wait_gone

SCHEDULER_PORT = 8951  # this session's port range
SMALL = "depth=6&width=40&samples=200&run=tanh,xavier&bias=normal&axis.gain=0.5:3:lin:4&axis.bias_std=0,0.5"
# Points that take a while each (~0.1-0.3 s), so a sweep is still running when a worker is killed.
SLOW = "depth=30&width=200&samples=1000&run=tanh,xavier&axis.gain=0.8:2:lin:16"


def _points(query: str):
    return plan(parse_sweep(query), SweepLimits(), Limits()).points


@pytest.fixture(scope="module")
def local_client() -> Iterator[Client]:
    client = cluster.connect(workers=2)
    pids = list(client.run(os.getpid).values())
    try:
        yield client
    finally:
        cluster.close(client)
        assert wait_gone(pids) == [], "the local cluster's worker processes outlived it"


def _wait_workers(client: Client, n: int, seconds: float = 60.0) -> None:
    client.wait_for_workers(n, timeout=seconds)


@pytest.fixture(scope="module")
def loopback() -> Iterator[tuple[LoopbackCluster, Client]]:
    with running_cluster(SCHEDULER_PORT) as started:
        yield started


@pytest.fixture(params=["local", "loopback"])
def any_client(request: pytest.FixtureRequest) -> Client:
    if request.param == "local":
        local: Client = request.getfixturevalue("local_client")
        return local
    loopback: tuple[LoopbackCluster, Client] = request.getfixturevalue("loopback")
    return loopback[1]


def test_results_equal_each_link_computed_alone(any_client: Client) -> None:
    points = _points(SMALL)
    results = list(SweepRun(any_client, points, PointCache()))
    assert sorted(r.point.index for r in results) == list(range(len(points)))
    assert not any(r.cached for r in results)
    for result in results:
        assert result.error is None
        assert result.metrics == compute_point(result.point.link)


def test_a_rerun_and_an_overlapping_sweep_cost_only_new_points(any_client: Client) -> None:
    cache = PointCache()
    first = list(SweepRun(any_client, _points(SMALL), cache))
    again = list(SweepRun(any_client, _points(SMALL), cache))
    assert all(r.cached for r in again)
    assert {r.point.link: r.metrics for r in again} == {r.point.link: r.metrics for r in first}
    wider = _points(SMALL.replace("0.5:3:lin:4", "0.5:4:lin:5"))  # shares gain 0.5 with SMALL
    overlap = list(SweepRun(any_client, wider, cache))
    old_links = {r.point.link for r in first}
    for r in overlap:
        assert r.cached == (r.point.link in old_links)
    assert any(r.cached for r in overlap) and not all(r.cached for r in overlap)


def test_cancel_stops_the_sweep_and_releases_its_points(any_client: Client) -> None:
    points = _points(SLOW)
    run = SweepRun(any_client, points, PointCache())
    seen = []
    for result in run:
        seen.append(result)
        if len(seen) == 1:
            threading.Thread(target=run.cancel).start()
    assert run.cancelled
    assert 1 <= len(seen) < len(points)
    # the scheduler holds none of this sweep's tasks any more
    deadline = time.monotonic() + 10
    keys = {point_key(p.link) for p in points}
    while time.monotonic() < deadline and keys & set(any_client.who_has()):
        time.sleep(0.1)
    assert not keys & set(any_client.who_has())


def test_two_clients_of_one_scheduler_compute_a_link_once(loopback: tuple[LoopbackCluster, Client]) -> None:
    """Two servers (two clients) sweeping the same links at once: each point runs once."""
    cluster_, _ = loopback
    POINT_LOG.unlink(missing_ok=True)
    points = _points(SLOW.replace("0.8:2:lin:16", "0.8:2:lin:8"))
    clients = [cluster.connect(cluster_.address) for _ in range(2)]
    try:
        runs = [SweepRun(c, points, PointCache(), compute=counted_compute) for c in clients]
        results: list[list[object]] = [[], []]
        threads = [threading.Thread(target=lambda k=k: results[k].extend(runs[k])) for k in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for c in clients:
            cluster.close(c)
    assert [len(r) for r in results] == [len(points), len(points)]
    computed = POINT_LOG.read_text().splitlines()
    POINT_LOG.unlink()
    assert sorted(computed) == sorted(p.link for p in points)  # each link once, not twice


def test_killing_a_worker_mid_sweep_still_completes_it(loopback: tuple[LoopbackCluster, Client]) -> None:
    cluster_, client = loopback
    victim = cluster_.start_worker(SCHEDULER_PORT + 3)
    _wait_workers(client, 3)
    victim_address = next(
        address for address, info in client.scheduler_info()["workers"].items()
        if address.endswith(f":{SCHEDULER_PORT + 3}")
    )  # fmt: skip
    points = _points(SLOW)
    results = []
    killed_while_busy = False
    for result in SweepRun(client, points, PointCache()):
        results.append(result)
        if len(results) == 1:
            killed_while_busy = bool(client.processing([victim_address])[victim_address])
            os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    assert killed_while_busy, "the killed worker had no task: the test showed nothing"
    assert sorted(r.point.index for r in results) == list(range(len(points)))
    for result in results:
        assert result.error is None
        assert result.metrics == compute_point(result.point.link)
