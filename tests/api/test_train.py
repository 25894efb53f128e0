"""The training API: streamed progress, the cached result, limits, the job cap and cancelling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from app import train_codec
from app.api.train_jobs import Job, Listener, TrainJobs
from app.main import create_app
from app.settings import Settings
from app.train_presets import TRAIN_PRESETS
from tests.live import serve

SHORT = "depth=2&width=30&iterations=120&record_every=20&run=relu,he_normal&run=relu,normal,std:0.01"
LONG = "depth=1&width=8&batch=8&iterations=1000000&record_every=50&run=relu,he_normal"


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    kind = ""
    for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield kind, orjson.loads(line.removeprefix("data: "))


@pytest.fixture
def fresh() -> Iterator[TestClient]:
    """A server of its own, with nothing cached: a training that must run (and not answer from
    the session's cache, as it would when the test repeats)."""
    with TestClient(create_app(Settings())) as test_client:
        yield test_client


def test_train_stream_sends_start_progress_and_done_then_caches(fresh: TestClient) -> None:
    client = fresh
    with client.stream("GET", f"/api/v1/train/stream?{SHORT}") as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/event-stream"
        )
        events = list(_events(response.iter_lines()))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and set(kinds[1:-1]) == {"progress"}
    assert len(kinds) >= 3  # progress arrives while it trains
    start, done = events[0][1], events[-1][1]
    assert start["share"] == SHORT and start["iterations"] == 120 and len(start["id"]) == 16
    assert start["labels"] == ["relu, He", "relu, N(0, 0.01²)"]
    steps = [data["steps"] for kind, data in events if kind == "progress"]
    assert steps == sorted(steps) and steps[0] < 120
    assert done["steps"] == 120 and [run["status"] for run in done["runs"]] == ["done", "done"]
    run = done["runs"][0]
    assert len(run["loss"]) == len(run["loss_smoothed"]) == 120 and run["loss_stride"] == 1
    assert run["records"]["step"] == [0, 20, 40, 60, 80, 100, 120]
    assert len(run["records"]["dead_fraction"][0]) == 2 and len(run["records"]["update_ratio"][1]) == 3
    assert [c["step"] for c in run["captures"]] == [0, 30, 60, 120]
    layer = run["captures"][-1]["layers"][0]
    assert sum(layer["post"]["counts"]) == layer["post"]["count"] and layer["grad"]["std"] > 0
    # the finished training is cached: the same link answers at once, the same bytes
    again = client.get(f"/api/v1/train?{SHORT}")
    assert again.headers["x-cache"] == "hit" and again.json() == done


def test_train_results_are_deterministic_across_servers() -> None:
    bodies = []
    for _ in range(2):
        with TestClient(create_app(Settings())) as client:
            response = client.get(f"/api/v1/train?{SHORT}")
            assert response.headers["x-cache"] == "miss"
            bodies.append(response.content)
    assert bodies[0] == bodies[1]


@pytest.mark.parametrize(
    ("query", "field", "kind"),
    [
        ("iterations=abc&run=relu,he_normal", "iterations", "value_error"),
        ("opt=lbfgs&run=relu,he_normal", "opt", "value_error"),
        ("iterations=1000000&run=relu,he_normal", "iterations", "budget_exceeded"),
        ("loss=hinge&run=relu,he_normal", "loss", "value_error"),
        ("loss=bce&digits=3-12&run=tanh,xavier", "digits", "value_error"),
        ("digits=3-8&run=tanh,xavier", "digits", "value_error"),
        # a binary classifier's cost is counted before it starts, as any training's
        (
            "loss=bce&digits=3-8&width=2000-2000&iterations=100000&run=tanh,xavier",
            "iterations",
            "budget_exceeded",
        ),
        # tiny layers, many steps: the per-step overhead, not the products, would take hours
        (
            "data=synthetic&input_dim=1&samples=4&depth=200&width=1&batch=1&record_every=1000"
            "&iterations=1000000&run=relu,he_normal",
            "iterations",
            "budget_exceeded",
        ),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/train", "/api/v1/train/stream"])
def test_train_bad_links_are_422_naming_the_field(
    client: TestClient, path: str, query: str, field: str, kind: str
) -> None:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"][1] == field and detail["type"] == kind
    if kind == "budget_exceeded":
        assert detail["setting"] == "INITSCOPE_MAX_TRAIN_MACS"


def _wait(condition: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_train_job_cap_503_then_cancel_frees_the_place() -> None:
    limits = Settings().limits
    settings = Settings(limits=type(limits)(**{**limits.describe(), "max_train_macs": 10**15}), max_jobs=1)
    app = create_app(settings)
    with TestClient(app) as client, client.stream("GET", f"/api/v1/train/stream?{LONG}") as running:
        lines = running.iter_lines()
        events = _events(lines)
        kind, start = next(events)
        assert kind == "start"
        assert next(events)[0] == "progress"
        busy = client.get(f"/api/v1/train/stream?{SHORT}")
        assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1
        assert busy.json()["detail"][0]["type"] == "overloaded"
        assert client.delete(f"/api/v1/train/{start['id']}?token={start['token']}").status_code == 204
        last = [data for kind, data in events if kind == "done"][-1]
        assert last["runs"][0]["status"] == "cancelled" and last["steps"] < 1_000_000
        _wait(lambda: not app.state.train_jobs.running)
        assert client.get(f"/api/v1/train?{SHORT}").status_code == 200  # the server serves again
        assert client.get("/healthz").status_code == 200
        gone = client.delete(f"/api/v1/train/{start['id']}?token={start['token']}")
        assert gone.status_code == 404  # no longer running
        # a cancelled training is not cached: asking again trains again
        assert app.state.train_jobs.cached(start["share"]) is None


def test_train_closing_the_stream_cancels_the_job() -> None:
    limits = Settings().limits
    settings = Settings(limits=type(limits)(**{**limits.describe(), "max_train_macs": 10**15}))
    app = create_app(settings)
    with TestClient(app) as client:
        with client.stream("GET", f"/api/v1/train/stream?{LONG}") as response:
            events = _events(response.iter_lines())
            assert next(events)[0] == "start" and next(events)[0] == "progress"
        jobs = app.state.train_jobs
        _wait(lambda: not jobs.running)
        assert jobs.cancelled == 1


def test_train_presets_listed_with_their_links(client: TestClient) -> None:
    listed = client.get("/api/v1/train/presets").json()
    assert [p["name"] for p in listed] == list(TRAIN_PRESETS)
    assert all(p["share"] == TRAIN_PRESETS[p["name"]].query for p in listed)


def test_train_fields_give_the_defaults_a_link_trains_with(client: TestClient) -> None:
    """The training form shows these in its blank fields: they must be what a link without the
    key trains with (the codec's defaults), for every optimizer's parameters too."""
    fields = {f["name"]: f for f in client.get("/api/v1/train/fields").json()}
    assert set(fields) == {
        "data",
        "captures",
        "loss",
        "digits",
        *train_codec.TRAIN_KEYS,
        *train_codec.OPT_KEYS,
    }
    assert (fields["loss"]["choices"], fields["loss"]["default"], fields["digits"]["default"]) == (
        ["softmax", "bce"],
        "softmax",
        "0-1",
    )
    [config] = train_codec.decode("run=relu,he_normal").runs
    assert (fields["iterations"]["default"], fields["batch"]["default"]) == (2000, 128)
    assert (fields["opt"]["default"], fields["lr"]["default"]) == ("sgd", 0.01)
    given = {
        "data": config.data,
        "batch": config.batch_size,
        "iterations": config.iterations,
        "batch_seed": config.batch_seed,
        "record_every": config.record_every,
        "probe": config.probe_size,
        "opt": config.optimizer,
        **dict(config.optimizer_params),
    }
    assert {name: fields[name]["default"] for name in given} == given
    assert fields["momentum"]["default"] is None  # SGD takes no momentum
    for name in fields["opt"]["choices"]:
        [run] = train_codec.decode(f"opt={name}&run=relu,he_normal").runs
        for param, value in run.optimizer_params:
            assert fields[param]["defaults"][name] == value
    assert fields["lr"]["defaults"]["adam"] == 0.001 and fields["opt"]["labels"]["adam"] == "Adam"
    # the bounds are the codec's: one past the maximum is refused
    too_many = client.get(f"/api/v1/train?iterations={fields['iterations']['max'] + 1}&run=relu,he_normal")
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"][1] == "iterations"


def _merged(progress: list[dict[str, Any]]) -> dict[str, Any]:
    """The progress so far, from its increments (what static/js/train-progress.js does)."""
    runs = [dict(run, records=dict(run["records"])) for run in progress[0]["runs"]]
    for increment in progress[1:]:
        for run, new in zip(runs, increment["runs"], strict=True):
            for key in ("loss", "loss_smoothed", "captures"):
                run[key] = run[key] + new[key]
            run["records"] = {k: run["records"][k] + v for k, v in new["records"].items()}
            run["status"], run["steps"] = new["status"], new["steps"]
    return {**progress[-1], "runs": runs}


def test_train_progress_is_sent_as_increments_thinned_and_paced(fresh: TestClient) -> None:
    client = fresh
    # each progress event carries only what is new: its loss points (every 20th step here, for
    # 20,000 iterations), records and captures; together they are the result so far
    query = "data=synthetic&width=20&batch=16&iterations=20000&captures=0-100-19000&run=relu,he_normal"
    with client.stream("GET", f"/api/v1/train/stream?{query}") as response:
        body = b"".join(response.iter_bytes())
    events = list(_events(iter(body.decode().splitlines())))
    progress = [data for kind, data in events if kind == "progress"]
    assert len(progress) >= 2 and all(p["increment"] for p in progress)
    assert all(run["loss_stride"] == 20 for p in progress for run in p["runs"])
    done = events[-1][1]["runs"][0]
    assert len(done["loss"]) == 20000 and done["loss_stride"] == 1
    so_far = _merged(progress)["runs"][0]
    points = len(so_far["loss"])
    assert 0 < points <= 1000
    assert so_far["loss"] == done["loss"][::20][:points]
    assert so_far["loss_smoothed"] == done["loss_smoothed"][::20][:points]
    recorded = len(so_far["records"]["step"])
    assert so_far["records"] == {k: v[:recorded] for k, v in done["records"].items()}
    assert so_far["captures"] == done["captures"][: len(so_far["captures"])]
    # the stream is about the result's size, not the result's size times the events
    assert len(body) < 2 * len(orjson.dumps(events[-1][1])) + 200_000


def test_train_jobs_end_after_their_listeners_loop_has_closed() -> None:
    # A server (or a test client) may close its event loop while a training ends: the job must
    # still end, free its place and keep its result (it once raised "Event loop is closed").
    jobs = TrainJobs(max_jobs=1, cache_bytes=1 << 24)
    training = train_codec.decode(SHORT)
    share = train_codec.encode(training)
    loop = asyncio.new_event_loop()

    job = loop.run_until_complete(_join(jobs, training))
    loop.close()
    assert job.thread is not None
    job.thread.join(60)
    assert not job.thread.is_alive() and not jobs.running
    assert jobs.cached(share) is not None and job.log[-1].kind == "done"


def test_train_shutdown_stops_and_joins_running_jobs() -> None:
    jobs = TrainJobs(max_jobs=2, cache_bytes=1 << 24)
    loop = asyncio.new_event_loop()
    started = []
    for query in (LONG, LONG.replace("width=8", "width=9")):
        training = train_codec.decode(query)
        started.append(loop.run_until_complete(_join(jobs, training)))
    jobs.shutdown(timeout=30)
    loop.close()
    assert not jobs.running
    for job in started:
        assert job.thread is not None and not job.thread.is_alive()
        last = orjson.loads(job.log[-1].data)
        assert last["runs"][0]["status"] == "cancelled" and last["steps"] < 1_000_000


async def _join(jobs: TrainJobs, training: train_codec.Training) -> Job:
    listener = await jobs.listen(training, train_codec.encode(training))
    assert isinstance(listener, Listener)  # no other worker: the job runs here
    return listener.job


def test_train_closing_the_test_client_stops_its_trainings() -> None:
    app = create_app(_unbounded())
    with TestClient(app) as client:
        jobs = app.state.train_jobs
        assert client.portal is not None
        job = client.portal.call(_join, jobs, train_codec.decode(LONG))
        assert jobs.running
    assert job.thread is not None and not job.thread.is_alive() and not jobs.running


def test_train_cancel_needs_the_token_of_a_listener() -> None:
    app = create_app(_unbounded())
    with TestClient(app) as client:
        with (
            client.stream("GET", f"/api/v1/train/stream?{LONG}") as first,
            client.stream("GET", f"/api/v1/train/stream?{LONG}") as second,
        ):
            a, b = _events(first.iter_lines()), _events(second.iter_lines())
            start_a, start_b = next(a)[1], next(b)[1]
            assert start_a["id"] == start_b["id"] and start_a["token"] != start_b["token"]
            url = f"/api/v1/train/{start_a['id']}"
            missing = client.delete(url)
            assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["query", "token"]
            assert client.delete(f"{url}?token=guess").status_code == 403
            # the first listener cancels: its stream ends, the training goes on for the second
            assert client.delete(f"{url}?token={start_a['token']}").status_code == 204
            assert all(kind == "progress" for kind, _ in a)  # ended, with no "done"
            assert next(b)[0] == "progress"
            assert app.state.train_jobs.running
            # the second, alone now, cancels: the training stops
            assert client.delete(f"{url}?token={start_b['token']}").status_code == 204
            last = [data for kind, data in b if kind == "done"][-1]
            assert last["runs"][0]["status"] == "cancelled"
        _wait(lambda: not app.state.train_jobs.running)


def test_train_status_lists_running_trainings() -> None:
    app = create_app(_unbounded())
    with TestClient(app) as client, client.stream("GET", f"/api/v1/train/stream?{LONG}") as response:
        events = _events(response.iter_lines())
        start = next(events)[1]
        assert next(events)[0] == "progress"
        trainings = client.get("/api/v1/status").json()["trainings"]
        [running] = trainings["running"]
        assert running["id"] == start["id"] and running["share"] == start["share"]
        assert running["listeners"] == 1 and 0 < running["steps"] < 1_000_000
        assert trainings["max_jobs"] == 2 and trainings["started"] == 1


def _unbounded() -> Settings:
    limits = Settings().limits
    return Settings(limits=type(limits)(**{**limits.describe(), "max_train_macs": 10**15}))


def test_train_a_crashing_job_answers_its_listener_and_frees_its_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.api import train_jobs

    def crash(*args: object, **kwargs: object) -> None:
        raise MemoryError("injected")

    monkeypatch.setattr(train_jobs, "train_runs", crash)
    app = create_app(Settings(max_jobs=1))
    with TestClient(app) as client:
        with client.stream("GET", f"/api/v1/train/stream?{SHORT}") as response:
            events = list(_events(response.iter_lines()))
        assert [kind for kind, _ in events] == ["start", "error"]
        assert events[1][1]["detail"][0]["msg"] == "the training failed: MemoryError"  # no trace, no path
        _wait(lambda: not app.state.train_jobs.running)
        assert app.state.train_jobs.cached(events[0][1]["share"]) is None
        monkeypatch.undo()
        assert client.get(f"/api/v1/train?{SHORT}").status_code == 200  # its place is free again


@pytest.mark.parametrize(
    ("query", "field", "limit"),
    [
        ("width=5000&run=relu,he_normal", "runs[0].width", "max_width"),
        ("bins=500&run=relu,he_normal", "runs[0].bins", "max_bins"),
        ("depth=1&width=4" + "&run=relu,he_normal" * 9, "runs", "max_runs"),
    ],
)
def test_train_networks_keep_the_experiment_limits(
    client: TestClient, query: str, field: str, limit: str
) -> None:
    detail = client.get(f"/api/v1/train?{query}").json()["detail"][0]
    assert (detail["msg"].split(":")[0], detail["limit"]) == (field, limit)


UNBOUNDED_ENV = {"INITSCOPE_MAX_TRAIN_MACS": str(10**15), "INITSCOPE_MAX_JOBS": "1"}


def _running(url: str) -> list[dict[str, Any]]:
    trainings: list[dict[str, Any]] = httpx.get(f"{url}/api/v1/status").json()["trainings"]["running"]
    return trainings


def test_train_an_abandoned_plain_get_frees_its_place_on_a_real_server() -> None:
    with serve(UNBOUNDED_ENV) as (url, _):
        with pytest.raises(httpx.ReadTimeout):  # the client gives up waiting and hangs up
            httpx.get(f"{url}/api/v1/train?{LONG}", timeout=httpx.Timeout(5, read=1.5))
        _wait(lambda: not _running(url), seconds=30)
        assert httpx.get(f"{url}/api/v1/train?{SHORT}", timeout=60).status_code == 200


def test_train_sigterm_stops_a_streaming_training_and_exits() -> None:
    with (
        serve({**UNBOUNDED_ENV, "INITSCOPE_SHUTDOWN_SECONDS": "1"}) as (url, proc),
        httpx.stream("GET", f"{url}/api/v1/train/stream?{LONG}", timeout=30) as response,
    ):
        events = _events(response.iter_lines())  # kept: dropping it would close the connection
        assert next(events)[0] == "start"
        _wait(lambda: bool(_running(url)))
        proc.terminate()
        # a stop asked for: 0 once the training stopped (it would have waited for a million steps)
        assert proc.wait(timeout=30) == 0


TWO_WORKERS = ("--workers", "2", "--no-access-log")


def _done_status(events: Iterator[tuple[str, dict[str, Any]]]) -> str:
    last = [data for kind, data in events if kind != "progress"][-1]
    status: str = last["runs"][0]["status"]
    return status


def test_train_cancel_reaches_its_training_from_either_worker() -> None:
    # With two workers, a DELETE lands on either; it used to miss the training 5 times in 12.
    with serve(UNBOUNDED_ENV, TWO_WORKERS) as (url, _):
        cancelled = 0
        for seed in range(20):
            query = f"{LONG}&batch_seed={seed}"
            with httpx.stream("GET", f"{url}/api/v1/train/stream?{query}", timeout=30) as response:
                events = _events(response.iter_lines())
                start = next(events)[1]
                delete = httpx.delete(f"{url}/api/v1/train/{start['id']}?token={start['token']}", timeout=30)
                assert delete.status_code == 204, delete.text
                if _done_status(events) == "cancelled":
                    cancelled += 1
        assert cancelled == 20


def test_train_watchers_on_either_worker_share_one_training() -> None:
    with serve(UNBOUNDED_ENV, TWO_WORKERS) as (url, _):
        for seed in range(6):  # each viewer's connection may reach either worker
            query = f"{LONG}&batch_seed={seed}"
            with (
                httpx.stream("GET", f"{url}/api/v1/train/stream?{query}", timeout=30) as first,
                httpx.stream("GET", f"{url}/api/v1/train/stream?{query}", timeout=30) as second,
            ):
                a, b = _events(first.iter_lines()), _events(second.iter_lines())
                start_a, start_b = next(a)[1], next(b)[1]
                assert start_a["id"] == start_b["id"]
                assert next(a)[0] == "progress" and next(b)[0] == "progress"
                cancel = f"{url}/api/v1/train/{start_a['id']}?token="
                assert httpx.delete(cancel + "guess", timeout=30).status_code == 403
                # the first viewer cancels: its stream ends, the training goes on for the second
                assert httpx.delete(cancel + start_a["token"], timeout=30).status_code == 204
                assert all(kind == "progress" for kind, _ in a)
                steps = [data["steps"] for kind, data in (next(b), next(b)) if kind == "progress"]
                assert len(steps) == 2 and steps[0] < steps[1]
                # the second, alone now, cancels: the training stops and says so
                assert httpx.delete(cancel + start_b["token"], timeout=30).status_code == 204
                assert _done_status(b) == "cancelled"


def test_train_listeners_that_never_read_keep_only_their_place() -> None:
    # A listener was a queue that took every event: one that never read grew without bound. Now
    # the job keeps one log and a listener its place in it; a late read catches up at once.
    jobs = TrainJobs(max_jobs=1, cache_bytes=1 << 24)
    training = train_codec.decode(SHORT)
    loop = asyncio.new_event_loop()

    async def listen_many() -> list[Listener]:
        listeners = [await jobs.listen(training, train_codec.encode(training)) for _ in range(20)]
        assert all(isinstance(x, Listener) for x in listeners)
        return listeners  # type: ignore[return-value]

    listeners = loop.run_until_complete(listen_many())
    job = listeners[0].job
    assert all(x.job is job for x in listeners)
    assert job.thread is not None
    job.thread.join(60)
    loop.close()
    assert len(job.log) >= 2 and job.log[-1].kind == "done"
    for listener in listeners:
        assert listener.cursor == 0 and not any(isinstance(v, list) for v in vars(listener).values())
        assert job.take(listener) == job.log  # everything it missed, in one read


BINARY = "depth=2&width=20&loss=bce&digits=3-8&iterations=60&record_every=20&captures=0-60&run=tanh,xavier"


def test_train_binary_classifier_captures_its_sigmoid_output(client: TestClient) -> None:
    body = client.get(f"/api/v1/train?{BINARY}").json()
    [run] = body["runs"]
    assert body["share"] == BINARY
    assert (run["config"]["loss"], run["config"]["digits"]) == ("bce", [3, 8])
    for capture in run["captures"]:
        *hidden, output = capture["layers"]
        assert [layer["layer"] for layer in hidden] == [1, 2] and "output" not in hidden[0]
        assert output["output"] is True and (output["layer"], output["units"]) == (3, 1)
        post = output["post"]
        assert post["edges"][0] == 0 and post["edges"][-1] == 1  # σ(s): the histogram spans (0, 1)
        assert 0 < post["min"] <= post["max"] < 1
    assert run["records"]["test_accuracy"][-1] > 0.8  # two digits: chance is 0.5
    assert client.get(f"/api/v1/train?{BINARY}").content == client.get(f"/api/v1/train?{BINARY}").content


def test_train_softmax_documents_have_no_output_or_loss_keys(client: TestClient) -> None:
    # links without `loss` answer what they always did: no key of the binary classifier in them
    body = client.get("/api/v1/train?width=20&iterations=20&record_every=10&run=relu,he_normal").json()
    [run] = body["runs"]
    assert "loss" not in run["config"] and "digits" not in run["config"]
    assert all("output" not in layer for capture in run["captures"] for layer in capture["layers"])
