"""A sweep's training point on a shared scheduler (app/api/train_point.py), on a real loopback
cluster: its metrics are those of the link trained alone, and two tasks of the same link (two
clients that key it differently, say) train it once: the second follows the first's training."""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from distributed import Client

from app import train_codec
from app.api.train_jobs import job_id
from app.api.train_point import compute_shared_training_point
from app.sweeps.point import compute_training_point
from tests.sweeps.loopback import running_cluster

SCHEDULER_PORT = 18934  # and its two workers on the next two ports
# a few thousand small steps: seconds, so the second task finds the first still training
LINK = "data=synthetic&samples=100&width=8&iterations=4000&record_every=500&run=relu,he_normal&batch_seed=5"


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with running_cluster(SCHEDULER_PORT) as (_, client):
        yield client


def _record(client: Client, job: str) -> dict[str, Any]:
    def look(dask_scheduler: Any) -> dict[str, Any]:
        state = getattr(dask_scheduler, "_initscope_trainings", None)
        if state is None:
            return {"owned": False, "listeners": 0, "claims": 0}
        listening = [row for row in state.listeners.values() if row[0] == job]
        return {"owned": job in state.jobs, "listeners": len(listening), "claims": state.claims.get(job, 0)}

    result: dict[str, Any] = client.run_on_scheduler(look)
    return result


def test_two_tasks_of_one_link_train_it_once_with_the_metrics_of_the_link_alone(client: Client) -> None:
    share = train_codec.encode(train_codec.decode(LINK))
    job = job_id(share)
    first = client.submit(compute_shared_training_point, share, key="test-point-first", pure=False)
    deadline = time.monotonic() + 60
    while not _record(client, job)["owned"]:
        assert time.monotonic() < deadline and not first.done(), "the first task never claimed the link"
        time.sleep(0.02)
    second = client.submit(compute_shared_training_point, share, key="test-point-second", pure=False)
    while _record(client, job)["listeners"] == 0 and not first.done():  # the second follows it
        time.sleep(0.02)
    assert not first.done(), "the training ended before the second task came (too fast a machine?)"
    alone = compute_training_point(share)
    assert first.result() == alone and second.result() == alone
    record = _record(client, job)
    assert record == {"owned": False, "listeners": 0, "claims": 1}  # trained once, released
