"""GET /api/v1/units: one layer unit by unit; the engine's numbers, deterministic bytes, 422s naming
`layer` or the field, cost bounded before work through the runner's admission, never a 500."""

from __future__ import annotations

import asyncio
import gzip
import math
from functools import partial
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import codec
from app.api.runner import Answer, OverloadedError, Runner, Work
from app.api.units import split_layer
from app.api.units_payload import units_answer
from app.engine.measure.unit_profile import experiment_units
from app.engine.network.config import ExperimentConfig
from app.engine.params import ConfigError
from app.main import create_app
from app.presets import PRESETS
from app.settings import load_settings
from tests.event_loop import run as run_async

ZERO = PRESETS["ng-zero-init"].query
E2 = PRESETS["saito-sigmoid-std001"].query  # run=sigmoid,normal,std:0.01
SMALL = "depth=3&width=20&samples=50&run=relu,he_normal"


def _config(query: str) -> ExperimentConfig:
    return codec.to_experiment(codec.decode(query))


def _numbers(node: Any) -> list[float]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _numbers(v)]
    if isinstance(node, list):
        return [x for v in node for x in _numbers(v)]
    return [node] if isinstance(node, float) else []


def test_units_zero_init_every_unit_identical(client: TestClient) -> None:
    response = client.get(f"/api/v1/units?{ZERO}&layer=2")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert (body["share"], body["layer"], body["depth"]) == (ZERO, 2, 5)
    assert body["matrix_limits"] == {"units": 64, "samples": 64}
    zeros, constant = (run["profile"] for run in body["runs"])
    assert [run["label"] for run in body["runs"]] == ["tanh → sigmoid, W = 0", "tanh → sigmoid, W = 0.5"]
    for p in (zeros, constant):
        assert (p["layer"], p["activation"], p["units"], p["samples"]) == (2, "tanh", 100, 1000)
        assert p["between"] == 0.0 and p["distinct_units"] == 1
        assert len(p["mean"]) == len(p["std"]) == 100 and len(set(p["mean"])) == 1
        rows = p["matrix"]["values"]
        assert (p["matrix"]["units"], p["matrix"]["samples"]) == (64, 64) == (len(rows), len(rows[0]))
        assert all(row == rows[0] for row in rows)
    assert zeros["within"] == 0.0 and set(zeros["mean"]) == {0.0} and zeros["dead_units"] == 100
    assert constant["within"] > 0.1 and constant["dead_units"] == 0


def test_units_small_weights_differ_a_little(client: TestClient) -> None:
    """E2's claim: in layer 4 a unit's output varies 3.9e-7 across inputs, against 0.013 between units."""
    (run,) = client.get(f"/api/v1/units?{E2}&layer=4").json()["runs"]
    p = run["profile"]
    assert p["between"] == pytest.approx(0.0132, rel=0.01) and p["within"] == pytest.approx(3.85e-7, rel=0.01)
    assert p["distinct_units"] >= 98


def test_units_answer_the_engines_numbers(client: TestClient) -> None:
    query = "run=tanh,xavier&run=relu,he_normal,width:30"
    body = client.get(f"/api/v1/units?{query}&layer=3").json()
    result = experiment_units(_config(query), 3)
    for got, run in zip(body["runs"], result.runs, strict=True):
        p = run.profile
        assert p is not None and got["label"] == run.label and got["depth"] == run.depth
        assert got["profile"]["mean"] == p.mean.tolist() and got["profile"]["std"] == p.std.tolist()
        assert (got["profile"]["between"], got["profile"]["within"]) == (p.spread.between, p.spread.within)
        # float32 values, written as the shortest text that reads back the same float32
        np.testing.assert_array_equal(np.asarray(got["profile"]["matrix"]["values"], np.float32), p.values)
    assert body["runs"][1]["profile"]["units"] == 30
    assert body["runs"][1]["profile"]["matrix"]["units"] == 30


def test_units_layer_defaults_to_1_and_presets_read(client: TestClient) -> None:
    plain = client.get(f"/api/v1/units?{ZERO}")
    assert plain.json()["layer"] == 1
    assert client.get(f"/api/v1/units?{ZERO}&layer=1").content == plain.content
    assert client.get("/api/v1/units?layer=1&preset=ng-zero-init").content == plain.content


def test_units_shorter_run_has_no_profile(client: TestClient) -> None:
    body = client.get("/api/v1/units?run=relu,he_normal&run=tanh,xavier,depth:8&layer=7").json()
    assert body["depth"] == 8
    assert [run["profile"] is None for run in body["runs"]] == [True, False]


def test_units_is_deterministic(client: TestClient) -> None:
    query = f"seed=3&{E2}&layer=2"
    first = client.get(f"/api/v1/units?{query}")
    assert client.get(f"/api/v1/units?{query}").content == first.content
    assert client.get("/api/v1/units?layer=2&run=sigmoid,normal,std:0.01&seed=3").content == first.content
    with TestClient(create_app()) as fresh:  # another process's cache, the same bytes
        assert fresh.get(f"/api/v1/units?{query}").content == first.content
    zipped = client.get(f"/api/v1/units?{query}", headers={"Accept-Encoding": "gzip"})
    assert zipped.content == first.content  # httpx decodes it; the bytes under it are gzip's


def test_units_json_has_only_finite_numbers(client: TestClient) -> None:
    # 60 linear layers with std 10 overflow float32: NaN and inf become null, never NaN in JSON
    response = client.get("/api/v1/units?depth=60&width=64&samples=64&run=linear,normal,std:10&layer=60")
    assert response.status_code == 200
    p = response.json()["runs"][0]["profile"]
    assert p["distinct_units"] is None and None in p["mean"]
    assert all(math.isfinite(x) for x in _numbers(response.json()))


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ("0", "layer: must be between 1 and 5, the experiment's depth; got 0"),
        ("6", "layer: must be between 1 and 5, the experiment's depth; got 6"),
        ("-1", "layer: must be a whole number from 1 to the experiment's depth, got '-1'"),
        ("x", "layer: must be a whole number from 1 to the experiment's depth, got 'x'"),
        ("", "layer: must be a whole number from 1 to the experiment's depth, got ''"),
        ("2.0", "layer: must be a whole number from 1 to the experiment's depth, got '2.0'"),
        ("1e3", "layer: must be a whole number from 1 to the experiment's depth, got '1e3'"),
        ("9" * 40, "layer: must be a whole number from 1 to the experiment's depth, got '" + "9" * 40 + "'"),
        ("%D9%A3", "layer: must be a whole number from 1 to the experiment's depth, got '٣'"),  # Arabic 3
    ],
)
def test_units_bad_layer_is_a_422_naming_it(client: TestClient, layer: str, message: str) -> None:
    response = client.get(f"/api/v1/units?{ZERO}&layer={layer}")
    assert response.status_code == 422
    assert response.json() == {"detail": [{"loc": ["query", "layer"], "msg": message, "type": "value_error"}]}


def test_units_layer_twice_and_bad_links_name_their_field(client: TestClient) -> None:
    twice = client.get(f"/api/v1/units?{ZERO}&layer=1&%6Cayer=2").json()["detail"][0]
    assert twice["loc"] == ["query", "layer"] and twice["msg"] == "layer: is given twice"
    for query, loc in (
        ("layer=1", ["query", "runs"]),
        ("run=relu,nope&layer=1", ["query", "runs", 0, "init"]),
        ("run=relu,he_normal&depth=0", ["query", "depth"]),
        ("run=relu,he_normal&layers=2", ["query", "layers"]),
    ):
        response = client.get(f"/api/v1/units?{query}")
        assert response.status_code == 422, query
        assert response.json()["detail"][0]["loc"] == loc, query


@pytest.mark.parametrize(
    ("query", "limit"),
    [
        ("depth=201&run=relu,xavier", "max_depth"),
        ("&".join(["run=relu,xavier"] * 9), "max_runs"),
        ("samples=20000&width=4096&depth=100&run=relu,xavier", "max_macs"),
    ],
)
def test_units_over_budget_is_refused_before_work(client: TestClient, query: str, limit: str) -> None:
    before = client.get("/api/v1/status").json()["cache"]["misses"]
    response = client.get(f"/api/v1/units?{query}&layer=1")
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["type"] == "budget_exceeded" and detail["limit"] == limit
    assert client.get("/api/v1/status").json()["cache"]["misses"] == before  # nothing ran


def test_units_limits_come_from_environment() -> None:
    app = create_app(load_settings({"INITSCOPE_MAX_DEPTH": "3"}))
    with TestClient(app) as small:
        assert small.get("/api/v1/units?depth=3&run=relu,xavier&layer=3").status_code == 200
        refused = small.get("/api/v1/units?depth=4&run=relu,xavier&layer=1")
        assert refused.status_code == 422 and "limit of 3" in refused.json()["detail"][0]["msg"]


def test_units_cached_and_never_taken_for_a_simulate_answer() -> None:
    with TestClient(create_app()) as client:
        first = client.get(f"/api/v1/units?{SMALL}&layer=2")
        again = client.get(f"/api/v1/units?{SMALL}&layer=2")
        assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
        assert client.get(f"/api/v1/units?{SMALL}").headers["x-cache"] == "miss"  # layer 1: other work
        simulate = client.get(f"/api/v1/simulate?{SMALL}").json()
        assert "experiment" in simulate and simulate["runs"][0]["layers"]  # the experiment's answer
        assert client.get(f"/api/v1/units?{SMALL}").json()["layer"] == 1
        status = client.get("/api/v1/status").json()["work"]
        assert status["pending_macs"] == 0 and status["running_or_waiting"] == 0


def test_units_work_shares_the_runners_budget_and_engine_processes() -> None:
    """The units work is admitted like an experiment: its multiply-adds count in the same pending
    budget, a flood beyond it is refused with Retry-After, and it runs in an engine process, whose
    bytes are those computed here."""
    runner = Runner(1 << 20, 1, 100)
    try:

        async def flood() -> list[tuple[Answer, bool] | BaseException]:
            jobs = [
                runner.answer(
                    _config(f"{SMALL}&seed={seed}"), 60, None, Work("units/2", partial(units_answer, layer=2))
                )
                for seed in range(3)
            ]
            jobs.append(runner.answer(_config(SMALL), 60))  # /simulate's work, the same budget
            return await asyncio.gather(*jobs, return_exceptions=True)

        results = run_async(flood())
        assert isinstance(results[0], tuple)
        assert all(isinstance(r, OverloadedError) for r in results[1:])
        answer, cached = results[0]
        assert not cached and answer == units_answer(_config(f"{SMALL}&seed=0"), 2)
        assert answer.gzip is not None and gzip.decompress(answer.gzip) == answer.json
        assert runner.status()["work"]["pending_macs"] == 0 and runner.status()["work"]["rejected"] == 3
    finally:
        runner.close()


def test_units_engine_error_reaches_the_client_as_a_422() -> None:
    """A ConfigError raised in the engine process (the layer checked there too) is the same 422."""
    runner = Runner(1 << 20, 1, 10**12)
    try:
        with pytest.raises(ConfigError) as err:
            run_async(runner.answer(_config(SMALL), 1, None, Work("units/9", partial(units_answer, layer=9))))
        assert err.value.field == "layer"
    finally:
        runner.close()


def test_units_in_the_openapi_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    get = schema["paths"]["/api/v1/units"]["get"]
    params = {p["name"]: p for p in get["parameters"]}
    assert params["layer"]["schema"] == {"type": "integer", "minimum": 1, "default": 1}
    assert {"run", "depth", "width", "seed"} <= set(params)
    assert get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("UnitsResponse")
    assert set(get["responses"]) == {"200", "422", "503"}


def test_split_layer_keeps_the_rest_of_the_query_as_typed() -> None:
    assert split_layer("?run=relu%2Che_normal&layer=3&depth=2") == ("run=relu%2Che_normal&depth=2", 3)
    assert split_layer("run=relu,he_normal") == ("run=relu,he_normal", 1)
    with pytest.raises(ConfigError, match="whole number"):
        split_layer("layer=+4")


# ---- fuzz: odd layers and links never give a 500 -------------------------------------------------

LAYER_TEXT = st.one_of(
    st.integers(-5, 12).map(str),
    st.text(max_size=12),
    st.sampled_from(["", "01", "1.5", "+1", " 1", "1 ", "0x1", "١", "9" * 30, "%00", "NaN"]),
)
LINKS = st.sampled_from(
    [
        ZERO,
        E2,
        SMALL,
        "run=relu,he_normal&run=tanh,xavier,depth:2",
        "preset=dead-relu",
        "run=relu",
        "",
        "run=",
    ]
)


@given(link=LINKS, layer=LAYER_TEXT, twice=st.booleans())
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
def test_units_fuzz_never_fails(client: TestClient, link: str, layer: str, twice: bool) -> None:
    query = f"{link}&layer={quote(layer)}" + (f"&layer={quote(layer)}" if twice else "")
    response = client.get(f"/api/v1/units?{query}")
    assert response.status_code in (200, 422), (query, response.text)
    if response.status_code == 422:
        detail = response.json()["detail"]
        assert detail and all(d["loc"][0] == "query" and d["msg"] for d in detail)
    else:
        body = response.json()
        assert 1 <= body["layer"] <= body["depth"] and all(math.isfinite(x) for x in _numbers(body))
