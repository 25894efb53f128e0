"""/train across servers that share one Dask scheduler (INITSCOPE_DASK_SCHEDULER), as two
containers would: two real `initscope serve` processes, a real scheduler and two workers on
loopback. A training started through one server is watched and cancelled (with its starter's
token) through the other; the same link asked for by /train and by a sweep is trained once,
whichever asks first, and stops when neither wants it any more."""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from distributed import Client

from app import train_codec
from app.api.train_jobs import job_id
from app.api.train_payload import train_dict
from app.engine.training.trainer import train_runs
from tests.live import serve
from tests.sweeps.loopback import running_cluster

SCHEDULER_PORT = 18930  # and its two workers on the next two ports
# 200,000 tiny steps (records every 500, so progress flows): a minute or more, far longer than
# anything below waits; each ends by being cancelled.
LONG = "data=synthetic&samples=100&width=4&iterations=200000&record_every=500&run=relu,he_normal"
ENVIRON = {
    "INITSCOPE_MAX_TRAIN_MACS": str(10**13),
    "INITSCOPE_MAX_SWEEP_MACS": str(10**13),
}
WAIT = 60.0


class Events:
    """A Server-Sent Events stream, read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()

    def next(self) -> tuple[str, Any]:
        kind = data = None
        for line in self.lines:
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = orjson.loads(line.removeprefix("data: "))
            elif not line and kind is not None:
                return kind, data
        raise StopIteration

    def rest(self) -> list[tuple[str, Any]]:
        out = []
        while True:
            try:
                out.append(self.next())
            except StopIteration:
                return out


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, Client]]:
    with running_cluster(SCHEDULER_PORT) as (loopback, client):
        yield loopback.address, client


@pytest.fixture(scope="module")
def servers(cluster: tuple[str, Client]) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    environ = {**ENVIRON, "INITSCOPE_DASK_SCHEDULER": cluster[0]}
    with (
        serve(environ) as (first_url, _),
        serve(environ) as (second_url, _),
        httpx.Client(base_url=first_url, timeout=WAIT) as first,
        httpx.Client(base_url=second_url, timeout=WAIT) as second,
    ):
        yield first, second


def _job(client: Client, job: str) -> dict[str, Any]:
    """The scheduler's record of a training: its owner, listeners and how often it was claimed."""

    def look(dask_scheduler: Any) -> dict[str, Any]:
        state = getattr(dask_scheduler, "_initscope_trainings", None)
        if state is None:
            return {"owner": None, "listeners": 0, "claims": 0, "workers": []}
        owner = state.jobs.get(job, (None, None))[0]
        listening = [row for row in state.listeners.values() if row[0] == job]
        workers = [w.name for w in dask_scheduler.workers.values()]
        return {
            "owner": owner,
            "listeners": len(listening),
            "claims": state.claims.get(job, 0),
            "workers": workers,
        }

    result: dict[str, Any] = client.run_on_scheduler(look)
    return result


def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _trainings_running(http: httpx.Client) -> int:
    return len(http.get("/api/v1/status").json()["trainings"]["running"])


def _executing(client: Client) -> int:
    counts = client.run(lambda dask_worker: len(dask_worker.state.executing))
    return int(sum(counts.values()))


def test_a_training_is_watched_and_cancelled_through_another_server(
    servers: tuple[httpx.Client, httpx.Client], cluster: tuple[str, Client]
) -> None:
    first, second = servers
    link = LONG + "&batch_seed=11"
    with first.stream("GET", f"/api/v1/train/stream?{link}") as started:
        starter = Events(started)
        kind, start = starter.next()
        assert kind == "start" and starter.next()[0] == "progress"
        # the other server follows the same job: its progress, not a second training
        with second.stream("GET", f"/api/v1/train/stream?{link}") as watched:
            watcher = Events(watched)
            kind, watch_start = watcher.next()
            assert kind == "start" and watch_start["id"] == start["id"]
            assert watch_start["token"] != start["token"]
            kind, progress = watcher.next()
            assert kind == "progress" and progress["share"] == start["share"]
            assert _trainings_running(first) == 1 and _trainings_running(second) == 0
            assert _job(cluster[1], start["id"])["claims"] == 1
            # cancel needs a listener's token, on every server
            denied = second.delete(f"/api/v1/train/{start['id']}", params={"token": "not-a-token"})
            assert denied.status_code == 403
            # the starter's token, through the other server: the starter's stream ends, the
            # training goes on for the watcher
            cancel = second.delete(f"/api/v1/train/{start['id']}", params={"token": start["token"]})
            assert cancel.status_code == 204
            # (what it had been sent before the cancel came, then its end, without a last word)
            assert {k for k, _ in starter.rest()} <= {"progress"}
            assert watcher.next()[0] == "progress" and watcher.next()[0] == "progress"
            # the watcher's token, through the starter's server: no one follows it, it stops
            cancel = first.delete(f"/api/v1/train/{start['id']}", params={"token": watch_start["token"]})
            assert cancel.status_code == 204
            events = watcher.rest()
    kind, done = events[-1]
    assert kind == "done" and {run["status"] for run in done["runs"]} == {"cancelled"}
    assert done["steps"] < 1_000_000
    _until(lambda: _trainings_running(first) == 0, "the training went on after its cancel")
    for server in servers:  # over: neither finds it
        gone = server.delete(f"/api/v1/train/{start['id']}", params={"token": start["token"]})
        assert gone.status_code == 404


def test_a_training_whose_server_hangs_up_stops_unless_the_other_watches(
    servers: tuple[httpx.Client, httpx.Client],
) -> None:
    first, second = servers
    link = LONG + "&batch_seed=12"
    with first.stream("GET", f"/api/v1/train/stream?{link}") as started:
        starter = Events(started)
        assert starter.next()[0] == "start" and starter.next()[0] == "progress"
        with second.stream("GET", f"/api/v1/train/stream?{link}") as watched:
            watcher = Events(watched)
            assert watcher.next()[0] == "start" and watcher.next()[0] == "progress"
            # the starter hangs up...
            started.close()
            # ...and the training goes on for the other server's watcher
            assert watcher.next()[0] == "progress" and _trainings_running(first) == 1
    # now no one follows it: it stops (abandoned)
    _until(lambda: _trainings_running(first) == 0, "an abandoned training went on")


def test_train_then_sweep_of_the_same_link_trains_it_once(
    servers: tuple[httpx.Client, httpx.Client], cluster: tuple[str, Client]
) -> None:
    first, second = servers
    client = cluster[1]
    link = LONG + "&batch_seed=13"
    with first.stream("GET", f"/api/v1/train/stream?{link}") as started:
        starter = Events(started)
        kind, start = starter.next()
        assert kind == "start" and starter.next()[0] == "progress"
        sweep = f"/api/v1/sweep/stream?of=train&{LONG}&axis.batch_seed=13"
        with second.stream("GET", sweep) as swept:
            sweeping = Events(swept)
            kind, sweep_start = sweeping.next()
            assert kind == "start" and sweep_start["size"] == 1
            # the sweep's point follows /train's training (one more listener), trains nothing
            _until(lambda: _job(client, start["id"])["listeners"] == 2, "the point never followed")
            record = _job(client, start["id"])
            assert record["claims"] == 1 and record["owner"] is not None
            assert _trainings_running(first) == 1
            # the sweep is cancelled: the training goes on for /train's listener
            assert first.delete(f"/api/v1/sweep/{sweep_start['id']}").status_code == 204
            assert sweeping.rest()[-1] == ("done", {"completed": 0, "failed": 0, "cancelled": True})
        _until(lambda: _job(client, start["id"])["listeners"] == 1, "the point kept following")
        assert starter.next()[0] == "progress" and _trainings_running(first) == 1
        cancel = second.delete(f"/api/v1/train/{start['id']}", params={"token": start["token"]})
        assert cancel.status_code == 204
        kind, done = starter.rest()[-1]
    assert kind == "done" and {run["status"] for run in done["runs"]} == {"cancelled"}
    assert _job(client, start["id"])["claims"] == 1


def test_sweep_then_train_of_the_same_link_trains_it_once(
    servers: tuple[httpx.Client, httpx.Client], cluster: tuple[str, Client]
) -> None:
    first, second = servers
    client = cluster[1]
    link = LONG + "&batch_seed=14"
    sweep = f"/api/v1/sweep/stream?of=train&{LONG}&axis.batch_seed=14"
    with second.stream("GET", sweep) as swept:
        sweeping = Events(swept)
        kind, sweep_start = sweeping.next()
        assert kind == "start"
        key = job_id(train_codec.encode(train_codec.decode(link)))
        _until(lambda: _job(client, key)["owner"] is not None, "the point never claimed its training")
        # /train on the other server follows the point's training on its Dask worker
        with first.stream("GET", f"/api/v1/train/stream?{link}") as started:
            starter = Events(started)
            kind, start = starter.next()
            assert kind == "start"
            kind, progress = starter.next()
            assert kind == "progress" and progress["share"] == start["share"]
            assert _trainings_running(first) == 0 and _trainings_running(second) == 0
            record = _job(client, start["id"])
            assert record["claims"] == 1 and record["listeners"] == 1
            # the sweep lets go of its point: the worker trains on, for /train's listener
            assert first.delete(f"/api/v1/sweep/{sweep_start['id']}").status_code == 204
            assert sweeping.rest()[-1][0] == "done"
            assert starter.next()[0] == "progress" and starter.next()[0] == "progress"
            assert _executing(client) == 1
            # /train's listener cancels (its token, through the sweep's server): no one is left
            cancel = second.delete(f"/api/v1/train/{start['id']}", params={"token": start["token"]})
            assert cancel.status_code == 204
            kind, done = starter.rest()[-1]
    assert kind == "done" and {run["status"] for run in done["runs"]} == {"cancelled"}
    _until(lambda: _executing(client) == 0, "the worker trained on after every listener left")
    assert _job(client, start["id"])["claims"] == 1


def test_a_training_a_sweep_ran_answers_train_with_the_bytes_of_train_alone_then_from_cache(
    servers: tuple[httpx.Client, httpx.Client], cluster: tuple[str, Client]
) -> None:
    first, second = servers
    client = cluster[1]
    # a few thousand small steps: seconds, long enough for /train to come while the point trains
    base = "data=synthetic&samples=100&width=8&iterations=4000&record_every=500&run=relu,he_normal"
    link = base + "&batch_seed=15"
    training = train_codec.decode(link)
    share = train_codec.encode(training)
    key = job_id(share)
    with second.stream("GET", f"/api/v1/sweep/stream?of=train&{base}&axis.batch_seed=15") as swept:
        sweeping = Events(swept)
        assert sweeping.next()[0] == "start"
        _until(lambda: _job(client, key)["owner"] is not None, "the point never claimed its training")
        answer = first.get(f"/api/v1/train?{link}")  # follows the point's training to its end
        assert sweeping.rest()[-1] == ("done", {"completed": 1, "failed": 0, "cancelled": False})
    assert answer.status_code == 200 and answer.headers["x-cache"] == "miss"
    assert _trainings_running(first) == 0 and _job(client, key)["claims"] == 1  # trained once
    alone = orjson.dumps(train_dict(train_runs(list(training.runs)), share, key))
    assert answer.content == alone  # byte for byte what /train computes alone
    again = first.get(f"/api/v1/train?{link}")
    assert again.headers["x-cache"] == "hit" and again.content == alone
