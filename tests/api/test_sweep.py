"""The sweep API on its embedded LocalCluster: plan, run, stream, cancel, the 503 beyond
max_sweeps, exports, the catalog's entries, and the cluster's processes gone at shutdown."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import load_settings
from app.sweeps import cluster
from app.sweeps.link import expand, parse_sweep
from app.sweeps.metrics import METRIC_NAMES, TRAIN_METRIC_NAMES
from app.sweeps.point import compute_point
from app.sweeps.presets import SWEEP_PRESETS
from tests import event_loop
from tests.sweeps.loopback import silent_scheduler

ROOT = Path(__file__).resolve().parents[2]
SMALL = "depth=6&width=40&samples=200&run=tanh,xavier&bias=normal&axis.gain=0.5:3:lin:4&axis.bias_std=0,0.5"
TWO_RUNS = "depth=4&width=30&samples=100&run=relu,he_normal&run=tanh,xavier&axis.seed=1,2,3"
SLOW = "depth=30&width=200&samples=1000&run=tanh,xavier&axis.gain=0.8:2:lin:40"
TRAIN = (
    "of=train&data=synthetic&samples=200&width=16&iterations=30&record_every=10&run=relu,he_normal"
    "&axis.lr=0.01,0.1,1"
)


def _alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    settings = replace(load_settings({}), max_sweeps=1)
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
        pids = list(app.state.sweeps.client().run(os.getpid).values())
    # the lifespan closed the client and its LocalCluster: its workers are gone
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


def _events(api: TestClient, query: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    with api.stream("GET", f"/api/v1/sweep/stream?{query}") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                assert kind is not None
                events.append((kind, orjson.loads(line.removeprefix("data: "))))
    return events


def test_get_plans_without_running(api: TestClient) -> None:
    body = api.get(f"/api/v1/sweep?{SMALL}").json()
    points = expand(parse_sweep(SMALL), 100)
    assert body["sweep"] == parse_sweep(SMALL).query
    assert body["size"] == 8
    assert [p["link"] for p in body["points"]] == [p.link for p, _ in points]
    assert body["points"][1]["values"] == {"gain": 0.5, "bias_std": 0.5}
    assert body["total_macs"] > 0
    assert [m["name"] for m in body["metrics"]] == list(METRIC_NAMES)


@pytest.mark.parametrize(
    ("query", "loc", "words"),
    [
        ("run=tanh,xavier&axis.gain=1:2:lin:1", ["query", "axis", "gain"], "2 to 1000"),
        ("run=tanh,xavier", ["query", "axis"], "at least one axis"),
        ("run=tanh,xavier&axis.gain=0.5,1,2&axis.seed=0:999:lin:1000", ["query", "sweep"],
         "INITSCOPE_MAX_SWEEP_POINTS"),
        ("run=tanh,xavier&axis.depth=10,300", ["query", "runs", 0, "depth"], "at depth=300"),
        ("of=train&iterations=10&run=relu,he_normal&axis.lr=0.1,20", ["query", "axis", "lr"],
         "over the field's maximum of 10"),
        ("of=train&iterations=1000000&run=relu,he_normal&axis.lr=0.1,1", ["query", "iterations"],
         "at lr=0.1: the training needs"),
    ],
)  # fmt: skip
def test_bad_sweeps_are_422s_naming_the_key(api: TestClient, query: str, loc: list[Any], words: str) -> None:
    for response in (
        api.get(f"/api/v1/sweep?{query}"),
        api.get(f"/api/v1/sweep/stream?{query}"),
        api.post("/api/v1/sweep", json={"sweep": query}),
    ):
        assert response.status_code == 422
        detail = response.json()["detail"][0]
        assert detail["loc"][1:] == loc[1:]
        assert words in detail["msg"]


def test_a_sweep_preset_is_planned_by_name_and_an_unknown_one_is_a_422_naming_it(api: TestClient) -> None:
    for preset in SWEEP_PRESETS.values():
        plan = api.get(f"/api/v1/sweep?preset={preset.name}")
        assert plan.status_code == 200 and plan.json()["sweep"] == parse_sweep(preset.query).query
    smaller = api.get("/api/v1/sweep?preset=tanh-phase&samples=100&axis.gain=1,2").json()
    assert smaller["size"] == 22 and "samples=100" in smaller["sweep"]
    for response in (
        api.get("/api/v1/sweep?preset=no-such"),
        api.post("/api/v1/sweep", json={"sweep": "preset=no-such"}),
    ):
        assert response.status_code == 422
        detail = response.json()["detail"][0]
        assert detail["loc"][-1] == "preset" and "'no-such'" in detail["msg"]
    assert "preset=" in api.get("/api/v1/catalog").json()["sweeps"]["preset"]


def test_post_answers_every_point_as_computed_alone_and_as_the_simulate_answer(api: TestClient) -> None:
    body = api.post("/api/v1/sweep", json={"sweep": TWO_RUNS}).json()
    assert body["complete"] and len(body["points"]) == 3
    for point in body["points"]:
        assert point["error"] is None
        assert point["runs"] == compute_point(point["link"])
        # the single request of the same link says the same numbers
        answer = api.get(f"/api/v1/simulate?{point['link']}").json()
        for run, metrics in zip(answer["runs"], point["runs"], strict=True):
            assert metrics["act_std"] == [layer["post"]["std"] for layer in run["layers"]]
            assert metrics["grad_std"] == [layer["grad"]["std"] for layer in run["layers"]]
            assert metrics["chi_star"] == run["chi"]


def test_stream_sends_each_point_then_done_and_a_rerun_comes_from_the_cache(api: TestClient) -> None:
    events = _events(api, SMALL)
    kinds = [kind for kind, _ in events]
    assert kinds == ["start"] + ["point"] * 8 + ["done"]
    start, done = events[0][1], events[-1][1]
    assert start["size"] == 8 and start["sweep"] == parse_sweep(SMALL).query and start["id"]
    assert done == {"completed": 8, "failed": 0, "cancelled": False}
    points = [data for kind, data in events if kind == "point"]
    assert sorted(p["index"] for p in points) == list(range(8))
    again = _events(api, SMALL)
    assert all(data["cached"] for kind, data in again if kind == "point")
    by_index = {p["index"]: p["runs"] for p in points}
    assert {d["index"]: d["runs"] for k, d in again if k == "point"} == by_index


def test_cancel_by_id_stops_the_stream_and_one_sweep_at_a_time_is_the_limit(api: TestClient) -> None:
    with api.stream("GET", f"/api/v1/sweep/stream?{SLOW}") as response:
        lines = response.iter_lines()
        assert next(lines) == "event: start"
        start = orjson.loads(next(lines).removeprefix("data: "))
        # max_sweeps=1: a second sweep now is refused at once, with when to try again
        busy = api.post("/api/v1/sweep", json={"sweep": SMALL})
        assert busy.status_code == 503
        assert int(busy.headers["Retry-After"]) > 0
        assert busy.json()["detail"][0]["type"] == "overloaded"
        assert api.delete(f"/api/v1/sweep/{start['id']}").status_code == 204
        rest = "\n".join(lines)
    done = orjson.loads(rest.split("event: done\ndata: ")[1].split("\n")[0])
    assert done["cancelled"] is True and done["completed"] < 40
    assert api.delete(f"/api/v1/sweep/{start['id']}").status_code == 404  # it is over
    assert api.post("/api/v1/sweep", json={"sweep": SMALL}).status_code == 200  # its place is free


def test_a_training_sweep_streams_points_equal_to_the_train_api_and_exports_them(api: TestClient) -> None:
    events = _events(api, TRAIN)
    start = events[0][1]
    assert start["kind"] == "train" and start["sweep"] == parse_sweep(TRAIN).query
    assert [m["name"] for m in start["metrics"]] == list(TRAIN_METRIC_NAMES)
    assert events[-1] == ("done", {"completed": 3, "failed": 0, "cancelled": False})
    points = sorted((data for kind, data in events if kind == "point"), key=lambda p: p["index"])
    for point in points:
        records = api.get(f"/api/v1/train?{point['link']}").json()["runs"][0]["records"]
        (metrics,) = point["runs"]
        assert metrics["test_accuracy"] == records["test_accuracy"][-1]
        assert metrics["final_loss"] == records["train_loss"][-1]
    response = api.get(f"/api/v1/sweep/export.csv?{TRAIN}")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["index", "link", "lr", "run", "error", *TRAIN_METRIC_NAMES]
    assert [float(r["test_accuracy"]) for r in rows] == [p["runs"][0]["test_accuracy"] for p in points]
    assert [r["link"] for r in rows] == [p["link"] for p in points]


def test_exports_hold_every_point_and_run(api: TestClient) -> None:
    document = api.get(f"/api/v1/sweep/export.json?{TWO_RUNS}").json()
    assert document == api.post("/api/v1/sweep", json={"sweep": TWO_RUNS}).json()
    response = api.get(f"/api/v1/sweep/export.csv?{TWO_RUNS}")
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="sweep.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3 * 2  # points x runs
    first = document["points"][0]
    row = rows[0]
    assert row["link"] == first["link"] and row["seed"] == "1" and row["run"] == "1"
    assert float(row["std_ratio"]) == first["runs"][0]["std_ratio"]
    assert [float(x) for x in row["act_std"].split()] == first["runs"][0]["act_std"]
    assert row["saturated_fraction"] == ""  # relu: null
    assert api.get(f"/api/v1/sweep/export.xml?{TWO_RUNS}").status_code == 404


def test_catalog_names_the_metrics_presets_and_limits(api: TestClient) -> None:
    sweeps = api.get("/api/v1/catalog").json()["sweeps"]
    assert [m["name"] for m in sweeps["metrics"]] == list(METRIC_NAMES)
    assert {p["name"] for p in sweeps["presets"]} >= {
        "tanh-phase",
        "init-scales-16",
        "relu-init-lr",
        "batchnorm-scales",
    }
    assert {x["setting"] for x in sweeps["limits"]} == {
        "INITSCOPE_MAX_SWEEPS",
        "INITSCOPE_MAX_SWEEP_POINTS",
        "INITSCOPE_MAX_SWEEP_MACS",
    }
    for preset in sweeps["presets"]:
        plan = api.get(f"/api/v1/sweep?{preset['sweep']}").json()
        assert plan["sweep"] == preset["sweep"]  # canonical
        assert preset["metric"] in [m["name"] for m in plan["metrics"]]  # its kind's metrics
    assert [m["name"] for m in sweeps["training_metrics"]] == list(TRAIN_METRIC_NAMES)
    assert api.get(f"/api/v1/sweep?{sweeps['training_example']}").json()["kind"] == "train"


def test_a_server_that_never_sweeps_never_imports_dask() -> None:
    code = "import sys, app.main; print('distributed' in sys.modules, 'dask' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_a_scheduler_that_never_speaks_is_a_503_and_holds_no_later_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A peer that accepts and never answers: Dask's Client waited on it forever (its timeout covers
    the TCP connect only), holding the lock every later sweep takes to get the client."""
    monkeypatch.setattr("app.sweeps.cluster.CONNECT_SECONDS", 1)
    port = 8997  # this file's port range, where nothing else listens
    app = create_app(replace(load_settings({}), dask_scheduler=f"tcp://127.0.0.1:{port}"))
    with silent_scheduler(port) as accepted, TestClient(app) as client:
        answers: list[Any] = []
        asks = [
            threading.Thread(
                target=lambda: answers.append(client.post("/api/v1/sweep", json={"sweep": TWO_RUNS}))
            )
            for _ in range(2)
        ]
        for ask in asks:
            ask.start()
        for ask in asks:
            ask.join(60)
            assert not ask.is_alive(), "a sweep still waits on the silent scheduler"
        assert accepted, "the server never connected"
        for response in answers:
            assert response.status_code == 503 and response.headers["Retry-After"]
            assert "did not answer within 1 s" in response.json()["detail"][0]["msg"]
        assert app.state.sweeps.running == {}


def test_the_scheduler_check_works_where_an_event_loop_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connecting from a thread that runs an event loop (the tests' main thread after a browser
    test: Playwright keeps one running) failed with asyncio.run's RuntimeError."""
    monkeypatch.setattr("app.sweeps.cluster.CONNECT_SECONDS", 1)

    async def connect_inside_a_loop() -> None:
        cluster.connect("tcp://127.0.0.1:8996")

    with silent_scheduler(8996), pytest.raises(TimeoutError, match="did not answer within 1 s"):
        event_loop.run(connect_inside_a_loop())


def test_an_unreachable_scheduler_is_a_503_not_a_500(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.sweeps.cluster.CONNECT_SECONDS", 1)
    nobody = "tcp://127.0.0.1:8998"  # this session's port range, where nothing listens
    app = create_app(replace(load_settings({}), dask_scheduler=nobody))
    with TestClient(app) as client:
        response = client.post("/api/v1/sweep", json={"sweep": TWO_RUNS})
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert "cannot be reached" in response.json()["detail"][0]["msg"]
        with client.stream("GET", f"/api/v1/sweep/stream?{TWO_RUNS}") as stream:
            text = "\n".join(stream.iter_lines())
        assert "event: error" in text and "cannot be reached" in text
        # its place is free again
        assert app.state.sweeps.running == {}
        # trainings, shared through the same scheduler, say so too
        training = client.get("/api/v1/train?data=synthetic&samples=50&iterations=5&run=relu,he_normal")
        assert training.status_code == 503 and training.headers["Retry-After"]
        assert "cannot be reached" in training.json()["detail"][0]["msg"]
        cancel = client.delete("/api/v1/train/0123456789abcdef", params={"token": "t"})
        assert cancel.status_code == 503
