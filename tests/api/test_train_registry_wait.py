"""The event loop never waits on the trainings' registry: a real server whose Dask scheduler (the
registry of INITSCOPE_DASK_SCHEDULER) does not answer keeps answering /healthz and cached
experiments while a /train request waits on it, and that request ends in a 503 naming the
scheduler, with Retry-After, instead of hanging.

Two ways a scheduler fails to answer: a peer that accepts the connection and never speaks (the
first registry call's connect waits on it), and a real scheduler, connected, then paused
(SIGSTOP: every later operation waits on it). Each wait below is bounded; none measures time."""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from app import train_codec
from app.api.train_jobs import RegistryTimeoutError, TrainJobs, job_id
from app.api.train_registry import Registry
from tests.live import serve
from tests.sweeps.loopback import running_cluster, silent_scheduler

SILENT_PORT = 18950  # a listening socket that never answers
SCHEDULER_PORT = 18951  # a real scheduler, paused mid-way (its worker on the next port)
CACHED = "/api/v1/simulate?depth=3&width=8&samples=16&run=relu,he_normal"
TRAIN = "/api/v1/train?data=synthetic&samples=50&width=4&iterations=5&run=relu,he_normal"
ENVIRON = {"INITSCOPE_MAX_TRAIN_MACS": str(10**13)}
# Far less than a registry wait (cluster.CONNECT_SECONDS, train_scheduler.CALL_SECONDS: 10 s each):
# a loop blocked on the registry answers none of these in time.
PROBE_SECONDS = 4.0
WAIT = 60.0


class Request(threading.Thread):
    """One request in its own thread, so that the test can ask others while it waits."""

    def __init__(self, method: str, url: str, **params: str) -> None:
        super().__init__(daemon=True)
        self.method, self.url, self.params = method, url, params
        self.response: httpx.Response | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.response = httpx.request(self.method, self.url, params=self.params or None, timeout=WAIT)
        except BaseException as err:  # shown by the assertion that reads it
            self.error = err

    def answer(self) -> httpx.Response:
        self.join(WAIT)
        assert not self.is_alive(), "the request still waits: the server hangs on the scheduler"
        assert self.response is not None, self.error
        return self.response


def _server_answers_meanwhile(url: str, waiting: list[Request]) -> None:
    """/healthz and a cached experiment are answered while every request of `waiting` waits."""
    health = httpx.get(f"{url}/healthz", timeout=PROBE_SECONDS)
    assert health.status_code == 200
    cached = httpx.get(url + CACHED, timeout=PROBE_SECONDS)
    assert cached.status_code == 200 and cached.headers["X-Cache"] == "hit"
    # ... and these answers came while the requests still waited (else they prove nothing)
    assert all(r.is_alive() for r in waiting)


def _unreachable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    message = response.json()["detail"][0]["msg"]
    assert "Dask scheduler cannot be reached" in message, message


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_scheduler_that_never_answers_freezes_neither_healthz_nor_cached_answers() -> None:
    with (
        silent_scheduler(SILENT_PORT) as accepted,
        serve({**ENVIRON, "INITSCOPE_DASK_SCHEDULER": f"tcp://127.0.0.1:{SILENT_PORT}"}) as (url, _),
    ):
        assert httpx.get(url + CACHED, timeout=WAIT).status_code == 200  # now cached
        training = Request("GET", url + TRAIN)
        training.start()
        # the server is connecting to the scheduler for it: the registry's first call
        _wait_for(lambda: accepted, "the server never connected to the scheduler")
        # a cancel asks the registry too (it waits in line behind that connect)
        cancel = Request("DELETE", f"{url}/api/v1/train/0123456789abcdef", token="t")
        cancel.start()
        time.sleep(0.5)  # let it reach the registry (the probes hold either way)
        _server_answers_meanwhile(url, [training, cancel])
        _unreachable(training.answer())
        _unreachable(cancel.answer())


def test_a_paused_scheduler_freezes_neither_healthz_nor_cached_answers() -> None:
    with running_cluster(SCHEDULER_PORT, workers=1) as (cluster_, _):
        scheduler = cluster_.processes[0]
        with serve({**ENVIRON, "INITSCOPE_DASK_SCHEDULER": cluster_.address}) as (url, _):
            assert httpx.get(url + CACHED, timeout=WAIT).status_code == 200  # now cached
            # connected: a training through the registry, to its end
            first = httpx.get(url + TRAIN, timeout=WAIT)
            assert first.status_code == 200 and first.json()["runs"][0]["status"] == "done"
            os.kill(scheduler.pid, signal.SIGSTOP)
            try:
                training = Request("GET", url + TRAIN.replace("samples=50", "samples=51"))
                training.start()
                time.sleep(0.5)  # let it reach the registry (the probes hold either way)
                _server_answers_meanwhile(url, [training])
                _unreachable(training.answer())
            finally:
                os.kill(scheduler.pid, signal.SIGCONT)
            # resumed: the registry answers again, and so does /train
            again = httpx.get(url + TRAIN.replace("samples=50", "samples=52"), timeout=WAIT)
            assert again.status_code == 200, again.text


# --- in one process: what a request that stopped waiting leaves behind ---------------------------

LONG_TRAINING = "data=synthetic&samples=100&width=4&iterations=1000000&record_every=500&run=relu,he_normal"


class SlowRegistry(Registry):
    """A real registry (the workers' SQLite file) whose claims wait until let go, as a hung
    scheduler's would; or whose claims land and then fail, as one whose answer is lost."""

    def __init__(self, folder: Path, lose_answers: bool = False) -> None:
        super().__init__(folder)
        self.go = threading.Event()
        self.lose_answers = lose_answers

    def claim(self, job: str, share: str) -> int | None:
        if self.lose_answers:
            super().claim(job, share)
            raise TimeoutError("the answer was lost")
        self.go.wait(WAIT)
        return super().claim(job, share)


def test_a_training_started_after_its_request_gave_up_is_left_and_stops(tmp_path: Path) -> None:
    registry = SlowRegistry(tmp_path)
    jobs = TrainJobs(max_jobs=2, cache_bytes=1 << 20, registry=registry)
    jobs.registry_wait = 0.2
    training = train_codec.decode(LONG_TRAINING)
    share = train_codec.encode(training)
    try:
        with pytest.raises(RegistryTimeoutError, match=r"no answer within 0\.2 s"):
            asyncio.run(jobs.listen(training, share))
        registry.go.set()  # the claim goes through: the job starts, for a request that is gone
        _wait_for(lambda: jobs.started == 1, "the claim never went through")
        # ... and is left at once: no listener anywhere, so it stops and its place is free
        _wait_for(lambda: not jobs.running, "a training no one waits for kept running")
        assert registry.listeners(job_id(share)) == 0 and registry.owner(job_id(share)) is None
        assert jobs.cancelled == 1
    finally:
        jobs.shutdown()
        registry.close()


def test_a_claim_whose_answer_is_lost_is_released(tmp_path: Path) -> None:
    registry = SlowRegistry(tmp_path, lose_answers=True)
    jobs = TrainJobs(max_jobs=2, cache_bytes=1 << 20, registry=registry)
    training = train_codec.decode(LONG_TRAINING)
    share = train_codec.encode(training)
    try:
        with pytest.raises(TimeoutError, match="the answer was lost"):
            asyncio.run(jobs.listen(training, share))
        # else its followers on other workers would wait on a training that no one runs
        assert registry.owner(job_id(share)) is None and not jobs.running
    finally:
        jobs.shutdown()
        registry.close()
