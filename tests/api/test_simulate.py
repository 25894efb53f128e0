"""POST and GET /api/v1/simulate: same answers, canonical share, clear 422s, no NaN in JSON."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.schemas import SAITO_COMPARE
from app.engine.measure.stats import PERCENTILES
from app.main import create_app
from app.settings import load_settings

RUNS = "run=sigmoid,normal&run=sigmoid,xavier&run=relu,he_normal"
SHARE = f"range=0,1&{RUNS}"


def _walk_numbers(node: Any) -> list[float]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _walk_numbers(v)]
    if isinstance(node, list):
        return [x for v in node for x in _walk_numbers(v)]
    return [node] if isinstance(node, float) else []


def test_simulate_get_and_post_return_the_same_bytes(client: TestClient) -> None:
    got = client.get(f"/api/v1/simulate?{SHARE}")
    posted = client.post("/api/v1/simulate", json=SAITO_COMPARE)
    assert got.status_code == posted.status_code == 200
    assert got.content == posted.content
    body = got.json()
    assert body["share"] == SHARE
    assert client.post("/api/v1/simulate", json=body["experiment"]).content == got.content


def test_simulate_response_shape(client: TestClient) -> None:
    body = client.get(f"/api/v1/simulate?{SHARE}").json()
    assert [run["label"] for run in body["runs"]] == ["sigmoid, N(0, 1)", "sigmoid, Xavier", "relu, He"]
    for run in body["runs"]:
        assert run["config"]["depth"] == 5 and run["config"]["bins"] == 30
        assert [layer["layer"] for layer in run["layers"]] == [1, 2, 3, 4, 5]
        for layer in run["layers"]:
            for kind in ("pre", "post"):
                t = layer[kind]
                assert len(t["edges"]) == 31 and len(t["counts"]) == 30
                assert sum(t["counts"]) + t["below"] + t["above"] == t["count"] == 100_000
                assert list(t["percentiles"]) == [f"{q:g}" for q in PERCENTILES]
                assert t["min"] <= t["percentiles"]["50"] <= t["max"]
            assert 0 <= layer["dead_units"] <= layer["units"] == 100
            assert 1 <= layer["distinct_units"] <= 100
            assert set(layer["theory"]) == {"q", "z_std", "mean", "std", "chi", "gradient_scale"}
        assert run["phase"] in ("ordered", "critical", "chaotic") and run["chi"] == run["theory"]["chi"]
    assert all(math.isfinite(x) for x in _walk_numbers(body))


def test_simulate_is_deterministic(client: TestClient) -> None:
    first = client.get(f"/api/v1/simulate?seed=3&{SHARE}").content
    assert client.get(f"/api/v1/simulate?seed=3&{SHARE}").content == first
    assert client.get(f"/api/v1/simulate?seed=4&{SHARE}").content != first


def test_simulate_overflowing_network_reports_counts_not_nan(client: TestClient) -> None:
    # 60 linear layers of std 10 overflow float32: JSON must still hold only finite numbers.
    response = client.get("/api/v1/simulate?depth=60&width=64&samples=64&run=linear,normal,std:10")
    assert response.status_code == 200
    assert "NaN" not in response.text and "Infinity" not in response.text
    last = response.json()["runs"][0]["layers"][-1]["post"]
    assert last["nan_count"] + last["inf_count"] == 64 * 64
    assert last["mean"] is None and sum(last["counts"]) == 0


@pytest.mark.parametrize(
    ("query", "loc", "words"),
    [
        ("run=sigmoid,normal,std:-1", ["query", "runs", 0, "std"], "between 0 and 100"),
        ("run=sigmoid,normal,std:nan", ["query", "runs", 0, "std"], "finite"),
        ("run=foo,xavier", ["query", "runs", 0, "activation"], "one of sigmoid"),
        ("run=relu,bar", ["query", "runs", 0, "init"], "one of zeros"),
        ("depth=abc&run=relu,xavier", ["query", "depth"], "number"),
        ("depth=0&run=relu,xavier", ["query", "depth"], "between 1 and"),
        ("seed=-1&run=relu,xavier", ["query", "seed"], "between 0 and"),
        ("", ["query", "runs"], "at least one run"),
        ("run=relu", ["query", "runs", 0, "init"], "required"),
        ("input=uniform&input_low=1&input_high=0&run=relu,xavier", ["query", "input_high"], "greater"),
        ("bogus=1&run=relu,xavier", ["query", "bogus"], "unknown setting"),
        ("run=maxout,xavier,pieces:99", ["query", "runs", 0, "pieces"], "between 2 and 8"),
        ("run=relu,xavier,label:" + "x" * 81, ["query", "runs", 0, "label"], "80"),
    ],
)
def test_simulate_get_bad_input_names_the_field(
    client: TestClient, query: str, loc: list[Any], words: str
) -> None:
    response = client.get(f"/api/v1/simulate?{query}")
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == loc
    assert words in detail["msg"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"runs": []}, ["body", "runs"]),
        ({"runs": [{"activation": "relu", "init": "xavier", "std": "nan"}]}, ["body", "runs", 0, "std"]),
        ({"runs": [{"activation": "nope", "init": "xavier"}]}, ["body", "runs", 0, "activation"]),
        ({"runs": [{"activation": "relu", "init": "xavier", "typo": 1}]}, ["body", "runs", 0, "typo"]),
        ({"depth": "deep", "runs": [{"activation": "relu", "init": "xavier"}]}, ["body", "depth"]),
        ({"depth": True, "runs": [{"activation": "relu", "init": "xavier"}]}, ["body", "depth"]),
        ({"range": [1, 0], "runs": [{"activation": "relu", "init": "xavier"}]}, ["body", "range"]),
        ({"runs": [{"activation": "relu"}]}, ["body", "runs", 0, "init"]),
    ],
)
def test_simulate_post_bad_input_names_the_field(
    client: TestClient, body: dict[str, Any], loc: list[Any]
) -> None:
    response = client.post("/api/v1/simulate", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][: len(loc)] == loc


def test_simulate_post_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/simulate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("query", "limit"),
    [
        ("depth=201&run=relu,xavier", "max_depth"),
        ("width=5000&run=relu,xavier", "max_width"),
        ("samples=20001&run=relu,xavier", "max_samples"),
        ("input_dim=5000&run=relu,xavier", "max_input_dim"),
        ("bins=201&run=relu,xavier", "max_bins"),
        ("&".join(["run=relu,xavier"] * 9), "max_runs"),
        ("samples=20000&width=4096&depth=100&run=relu,xavier", "max_macs"),
    ],
)
def test_simulate_over_budget_is_refused_before_work(client: TestClient, query: str, limit: str) -> None:
    response = client.get(f"/api/v1/simulate?{query}")
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["type"] == "budget_exceeded" and detail["limit"] == limit
    assert f"INITSCOPE_{limit.upper()}" in detail["msg"]


def test_simulate_limits_come_from_environment() -> None:
    app = create_app(load_settings({"INITSCOPE_MAX_DEPTH": "3"}))
    with TestClient(app) as small:
        assert small.get("/api/v1/simulate?depth=3&run=relu,xavier").status_code == 200
        refused = small.get("/api/v1/simulate?depth=4&run=relu,xavier")
        assert refused.status_code == 422 and "limit of 3" in refused.json()["detail"][0]["msg"]
        limits = {x["name"]: x["value"] for x in small.get("/api/v1/catalog").json()["limits"]}
        assert limits["max_depth"] == 3


def test_simulate_error_bodies_leak_no_internals(client: TestClient) -> None:
    for response in (
        client.get("/api/v1/simulate?run=relu,xavier&depth=%00"),
        client.post("/api/v1/simulate", json={"runs": [{"activation": {"x": 1}, "init": "xavier"}]}),
    ):
        assert response.status_code == 422
        text = json.dumps(response.json())
        assert "Traceback" not in text and "/app/" not in text and ".py" not in text


def test_simulate_gradients_and_theory_by_default_switchable(client: TestClient) -> None:
    plain = client.get("/api/v1/simulate?depth=3&grad=0&theory=0&run=tanh,xavier").json()
    assert plain["share"] == "depth=3&grad=0&theory=0&run=tanh,xavier"
    assert plain["experiment"]["grad"] is False and plain["experiment"]["theory"] is False
    run = plain["runs"][0]
    assert run["theory"] is run["chi"] is run["phase"] is None
    assert all(layer["grad"] is layer["theory"] is layer["weight_grad"] is None for layer in run["layers"])
    assert client.post("/api/v1/simulate", json=plain["experiment"]).json()["share"] == plain["share"]
    body = client.get("/api/v1/simulate?depth=3&grad=1&run=tanh,xavier&run=relu,he_normal").json()
    assert body["share"] == "depth=3&run=tanh,xavier&run=relu,he_normal"
    assert body["runs"][0]["phase"] and body["runs"][0]["layers"][0]["theory"]["q"] > 0
    for run in body["runs"]:
        for layer in run["layers"]:
            grad = layer["grad"]
            assert sum(grad["counts"]) == grad["count"] == 100_000
            assert layer["weight_grad"]["norm"] > 0 and layer["weight_grad"]["grad_data_ratio"] > 0
    # gradient histograms share each layer's range across runs, like z
    assert body["runs"][0]["layers"][1]["grad"]["edges"] == body["runs"][1]["layers"][1]["grad"]["edges"]
    posted = client.post("/api/v1/simulate", json=body["experiment"])
    assert posted.json()["share"] == body["share"]


# ---- odd inputs: a result or a 422 naming the field, never a 500 -------------------------------


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        # float32 has nothing between 0 and 1.4e-45: these ranges cannot hold 30 bins
        ("run=relu,he_normal&range=0,5e-324&depth=2&width=10&samples=10", "range", "too narrow for 30 bins"),
        ("run=relu,zeros&z_range=-1e-310,1e-310", "z_range", "float32 values there are 1.4e-45 apart"),
        ("range=0,5e-324&run=relu,zeros", "range", "at least 4.2e-44 wide"),
        ("bins=200&range=1,1.00001&run=relu,zeros", "range", "too narrow for 200 bins"),
    ],
)
def test_simulate_range_float32_cannot_bin_is_422(
    client: TestClient, query: str, field: str, words: str
) -> None:
    response = client.get(f"/api/v1/simulate?{query}")
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["query", field]
    assert detail["msg"].startswith(f"{field}: ") and words in detail["msg"]


def test_simulate_vanished_gradient_answers_with_zeros(client: TestClient) -> None:
    """An ordinary experiment whose gradient vanishes below float64's smallest subnormal by the
    first layers: those values are 0, reported as such."""
    response = client.get("/api/v1/simulate?run=tanh,xavier,gain:0.01&depth=200")
    assert response.status_code == 200
    assert "NaN" not in response.text and "Infinity" not in response.text
    layers = response.json()["runs"][0]["layers"]
    first = layers[0]["grad"]
    assert first["mean"] == first["std"] == first["min"] == first["max"] == 0.0
    assert first["zero_fraction"] == 1.0 and sum(first["counts"]) == first["count"] == 100_000
    assert layers[-1]["grad"]["std"] > 0.1
    for layer in layers:
        assert sum(layer["grad"]["counts"]) == layer["grad"]["count"]


def test_simulate_range_wider_than_float64_answers(client: TestClient) -> None:
    response = client.get("/api/v1/simulate?depth=2&width=10&samples=10&range=-1e308,1e308&run=tanh,xavier")
    assert response.status_code == 200
    post = response.json()["runs"][0]["layers"][0]["post"]
    assert post["edges"][0] == -1e308 and post["edges"][-1] == 1e308
    assert sum(post["counts"]) == post["count"] == 100
    assert post["counts"][14] + post["counts"][15] == 100  # tanh's values: the two middle bins


@pytest.mark.parametrize(
    ("text", "loc"),
    [
        ('{"runs": [{"activation": "relu", "init": "normal", "std": NaN}]}', ["runs", 0, "std"]),
        ('{"depth": Infinity, "runs": [{"activation": "relu", "init": "xavier"}]}', ["depth"]),
        ('{"range": [-Infinity, 1], "runs": [{"activation": "relu", "init": "xavier"}]}', ["range"]),
        ('{"runs": NaN}', ["runs"]),
        ('{"runs": [{"activation": "relu", "init": "xavier", "typo": NaN}]}', ["runs", 0, "typo"]),
        ('{"runs": [{"activation": "relu", "init": "xavier", "label": "\\ud800"}]}', ["runs", 0, "label"]),
        ('{"runs": [{"activation": "\\ud800", "init": "xavier"}]}', ["runs", 0, "activation"]),
        # a key that is no text: Pydantic names the object that holds it
        ('{"runs": [{"activation": "relu", "init": "xavier", "\\udfff": [NaN]}]}', ["runs", 0]),
    ],
)
def test_simulate_post_non_json_values_are_422(client: TestClient, text: str, loc: list[Any]) -> None:
    """Python's JSON reader takes NaN, Infinity and lone surrogates; the 422 that names them must
    still be JSON (which has neither) and UTF-8."""
    response = client.post("/api/v1/simulate", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", *loc]
    assert detail["msg"] and "NaN" not in response.text and "Infinity" not in response.text


def _post_json(client: TestClient, body: dict[str, Any]) -> Any:
    """POST a body as Python's JSON writes it (NaN as NaN, as some clients send it)."""
    text = json.dumps(body)
    return client.post("/api/v1/simulate", content=text, headers={"content-type": "application/json"})


RUN = {"activation": "relu", "init": "normal"}


@pytest.mark.parametrize(
    ("query", "body", "loc", "msg"),
    [
        ("run=relu,normal,std:-1", {"runs": [{**RUN, "std": -1}]}, ["runs", 0, "std"],
         "runs[0].std: must be between 0 and 100"),
        ("run=relu,normal,std:nan", {"runs": [{**RUN, "std": math.nan}]}, ["runs", 0, "std"],
         "runs[0].std: must be a finite number"),
        ("std=1e308&run=relu,normal", {"std": 1e308, "runs": [RUN]}, ["std"],
         "std: must be between 0 and 100"),
        ("depth=0&run=relu,normal", {"depth": 0, "runs": [RUN]}, ["depth"],
         "depth: must be between 1 and 10000"),
        ("run=relu,normal,seed:-1", {"runs": [{**RUN, "seed": -1}]}, ["runs", 0, "seed"],
         "runs[0].seed: must be between 0 and 4294967295"),
        ("width=10-0&run=relu,normal", {"width": [10, 0], "runs": [RUN]}, ["width"],
         "width: must be between 1 and 1000000"),
        ("run=maxout,xavier,pieces:99", {"runs": [{"activation": "maxout", "init": "xavier", "pieces": 99}]},
         ["runs", 0, "pieces"], "runs[0].pieces: must be between 2 and 8"),
        ("range=1,0&run=relu,normal", {"range": [1, 0], "runs": [RUN]}, ["range"],
         "range: must be two finite numbers with low < high"),
        ("z_range=0,inf&run=relu,normal", {"z_range": [0, math.inf], "runs": [RUN]}, ["z_range"],
         "z_range: must be two finite numbers with low < high"),
        ("run=relu,normal,label:" + "x" * 81, {"runs": [{**RUN, "label": "x" * 81}]}, ["runs", 0, "label"],
         "runs[0].label: must be at most 80 characters"),
        ("loss=l1&run=relu,normal", {"loss": "l1", "runs": [RUN]}, ["loss"],
         "loss: must be one of normal, mse"),
        ("run=foo,normal", {"runs": [{**RUN, "activation": "foo"}]}, ["runs", 0, "activation"],
         "runs[0].activation: unknown activation 'foo'; one of sigmoid, tanh, relu"),
    ],
)  # fmt: skip
def test_simulate_same_message_over_get_and_post(
    client: TestClient, query: str, body: dict[str, Any], loc: list[Any], msg: str
) -> None:
    """A bad value is described in the same words whether it comes in a link or a JSON body: the
    engine checks both against the same limits."""
    got = client.get(f"/api/v1/simulate?{query}")
    posted = _post_json(client, body)
    assert got.status_code == posted.status_code == 422
    by_link, by_body = got.json()["detail"][0], posted.json()["detail"][0]
    assert by_link["loc"] == ["query", *loc] and by_body["loc"] == ["body", *loc]
    assert by_link["msg"] == by_body["msg"]
    assert by_link["msg"].startswith(msg)


# ---- presets in links ----------------------------------------------------------------------------


def test_simulate_get_preset_is_its_link(client: TestClient) -> None:
    by_name = client.get("/api/v1/simulate?preset=saito-compare")
    assert by_name.status_code == 200
    assert by_name.json()["share"] == SHARE  # the canonical link never holds preset=
    assert by_name.content == client.get(f"/api/v1/simulate?{SHARE}").content


@pytest.mark.parametrize(
    ("query", "share"),
    [
        ("preset=saito-compare&depth=8", f"depth=8&{SHARE}"),
        ("depth=8&preset=saito-compare", f"depth=8&{SHARE}"),
        ("preset=saito-compare&range=0,2", f"range=0,2&{RUNS}"),
        ("preset=saito-compare&run=tanh,xavier", "range=0,1&run=tanh,xavier"),
        ("preset=deep-relu-compare&grad=1&depth=3&run=relu,he_normal",
         "depth=3&width=512&samples=500&run=relu,he_normal"),
    ],
)  # fmt: skip
def test_simulate_get_preset_with_overrides(client: TestClient, query: str, share: str) -> None:
    response = client.get(f"/api/v1/simulate?{query}")
    assert response.status_code == 200
    assert response.json()["share"] == share


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("preset=nope", "unknown preset 'nope'; presets are saito-compare, saito-sigmoid-std1"),
        ("preset=saito-compare&preset=dead-relu", "is given twice"),
        ("preset=", "unknown preset ''"),
    ],
)
def test_simulate_get_bad_preset_names_it(client: TestClient, query: str, words: str) -> None:
    response = client.get(f"/api/v1/simulate?{query}")
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["query", "preset"] and words in detail["msg"]


def test_simulate_unused_parameter_out_of_its_bounds_is_422(client: TestClient) -> None:
    # the schema bounds input_low to [-100, 100] whether or not the input uses it
    response = client.get("/api/v1/simulate?input_low=-1.7976931348623157e%2B308&run=relu,he_normal")
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "input_low: must be between -100 and 100"
    fine = client.get("/api/v1/simulate?input_low=-5&run=relu,he_normal&depth=1&samples=10")
    assert fine.status_code == 200 and "input_low" not in fine.json()["share"]  # dropped: unused
