"""GET /api/v1/diagnostics: the engine's numbers as deterministic bytes, options read from the
link, 422s naming the key and its limits, the cost bounded before work, documented in OpenAPI."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import codec
from app.api.diagnostics_payload import diagnostics_answer, diagnostics_dict
from app.diagnostics_codec import options_query, split_options
from app.diagnostics_presets import DIAGNOSTICS_PRESETS
from app.engine.network.diagnostics import DEFAULT_C0, make_options, run_diagnostics
from app.engine.params import ConfigError
from app.main import create_app
from app.settings import load_settings

SMALL = "bias=normal&bias_std=0.3&depth=3&width=40&samples=20&run=tanh,xavier,gain:2&run=relu,he_normal"


def test_diagnostics_answer_is_the_engines_result(client: TestClient) -> None:
    response = client.get(f"/api/v1/diagnostics?{SMALL}&c0=0.2,0.9&pairs=4&jacobian=1")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    config = codec.to_experiment(codec.decode(SMALL))
    options = make_options([0.2, 0.9], 4, 1)
    assert response.content == diagnostics_answer(config, options).json
    body = response.json()
    assert body["share"] == SMALL and body["query"] == f"{SMALL}&c0=0.2,0.9&pairs=4&jacobian=1"
    assert body["options"] == {"c0": [0.2, 0.9], "pairs": 4, "jacobian": 1}
    expected = diagnostics_dict(run_diagnostics(config, options))
    tanh = body["runs"][0]
    assert tanh["label"] == expected["runs"][0]["label"] and tanh["depth"] == 3
    corr = tanh["correlation"]
    assert corr["c0"] == [0.2, 0.9] and len(corr["layers"]) == 3
    first = corr["layers"][0]
    assert first["layer"] == 1 and len(first["measured"]) == len(first["sd"]) == len(first["predicted"]) == 2
    fp = corr["fixed_point"]
    assert fp["chi1"] > 1 and 0 < fp["c_star"] < 1 and fp["xi_c"] > 0  # sigma_w 2, sigma_b 0.3: chaotic
    jac = tanh["jacobian"]
    assert (jac["method"], jac["directions"], jac["samples"]) == ("exact", 100, 1)
    spectrum = jac["layers"][-1]["spectrum"]
    assert sum(spectrum["counts"]) + spectrum["zeros"] == spectrum["count"] == 40
    assert len(spectrum["log10_edges"]) == len(spectrum["counts"]) + 1 == 31  # the run's bins


def test_diagnostics_same_link_same_bytes_and_cached(client: TestClient) -> None:
    url = f"/api/v1/diagnostics?{SMALL}&pairs=2&jacobian=0"
    first, second = client.get(url), client.get(url)
    assert first.content == second.content and second.headers["x-cache"] == "hit"
    assert json.loads(first.content)["runs"][0]["jacobian"] is None


def test_diagnostics_defaults_left_out_of_the_query(client: TestClient) -> None:
    body = client.get(f"/api/v1/diagnostics?{SMALL}&pairs=8&jacobian=2&c0=0.1,0.5,0.9,0.99").json()
    assert body["query"] == body["share"] == SMALL
    assert body["options"] == {"c0": list(DEFAULT_C0), "pairs": 8, "jacobian": 2}


def test_diagnostics_is_not_simulate(client: TestClient) -> None:
    """The same share link's /simulate answer is untouched by the diagnostics' cache entries."""
    simulate = client.get(f"/api/v1/simulate?{SMALL}").content
    client.get(f"/api/v1/diagnostics?{SMALL}&pairs=1&jacobian=0")
    assert client.get(f"/api/v1/simulate?{SMALL}").content == simulate
    assert b"correlation" not in simulate


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ("c0=2", "c0", "from -1 to 1"),
        ("c0=abc", "c0", "from -1 to 1"),
        ("c0=nan", "c0", "from -1 to 1"),
        ("c0=", "c0", "from -1 to 1"),
        ("c0=0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", "c0", "1 to 8"),
        ("c0=0.1&c0=0.2", "c0", "twice"),
        ("pairs=0", "pairs", "1 to 64"),
        ("pairs=65", "pairs", "1 to 64"),
        ("pairs=99999999999999", "pairs", "up to 64"),
        ("pairs=-1", "pairs", "up to 64"),
        ("jacobian=9", "jacobian", "0 to 8"),
        ("jacobian=1.5", "jacobian", "up to 8"),
        ("seeds=0", "seeds", "1 to 16"),
        ("seeds=17", "seeds", "1 to 16"),
        ("seeds=x", "seeds", "up to 16"),
        ("input_dim=1", "runs.0.input_dim", "at least 2"),
        ("depth=0", "depth", "depth"),
    ],
)
def test_diagnostics_refuses_naming_the_key(client: TestClient, extra: str, field: str, words: str) -> None:
    response = client.get(f"/api/v1/diagnostics?run=tanh,xavier&{extra}")
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert ".".join(str(p) for p in detail["loc"][1:]) == field
    assert words in detail["msg"]


def test_diagnostics_budget_refused_before_work() -> None:
    app = create_app(load_settings({"INITSCOPE_MAX_MACS": "300000000"}))
    with TestClient(app) as client:
        link = "depth=20&width=1000&input_dim=1000&samples=10&run=tanh,xavier"
        assert client.get(f"/api/v1/simulate?{link}&grad=0").status_code == 200
        response = client.get(f"/api/v1/diagnostics?{link}&jacobian=0")
        assert response.status_code == 422
        detail = response.json()["detail"][0]
        assert detail["type"] == "budget_exceeded" and detail["limit"] == "max_macs"
        assert "diagnostics need" in detail["msg"] and "INITSCOPE_MAX_MACS" in detail["msg"]
        assert app.state.runner.status()["cache"]["misses"] == 1  # the simulate only: no work started


def test_split_options_round_trip() -> None:
    share, options = split_options(f"{SMALL}&c0=-0.5,%200.25&pairs=3")
    assert share == SMALL and options == make_options([-0.5, 0.25], 3, 2)
    assert options_query(options) == "c0=-0.5,0.25&pairs=3"
    assert split_options(f"?{SMALL}&") == (SMALL, make_options())


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(key=st.sampled_from(["c0", "pairs", "jacobian", "seeds"]), value=st.text(max_size=12))
def test_split_options_any_text_is_read_or_refused_naming_the_key(key: str, value: str) -> None:
    from urllib.parse import quote

    field = None
    try:
        split_options(f"run=tanh,xavier&{key}={quote(value)}")
    except ConfigError as err:
        field = err.field
    assert field in (None, key)


def test_diagnostics_openapi_documents_the_keys(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"]["/api/v1/diagnostics"]["get"]
    names = [p["name"] for p in op["parameters"]]
    assert names[:4] == ["c0", "pairs", "seeds", "jacobian"] and "run" in names
    assert "random_subspace" in op["description"] and "interlacing" in op["description"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("DiagnosticsResponse")


def test_diagnostics_presets_answer_over_http(client: TestClient) -> None:
    preset = DIAGNOSTICS_PRESETS["pennington-relu"]
    body = client.get(f"/api/v1/diagnostics?{preset.query}").content
    assert (
        hashlib.sha256(body).hexdigest()
        == hashlib.sha256(diagnostics_answer(preset.experiment, preset.options).json).hexdigest()
    )


def test_diagnostics_preset_key_names_a_diagnostics_preset(client: TestClient) -> None:
    """`preset=<name>` opens a diagnostics preset as its query does, other keys replacing its own,
    as the share link's presets do; an experiment preset's name still goes to the share codec."""
    preset = DIAGNOSTICS_PRESETS["pennington-relu"]
    assert client.get("/api/v1/diagnostics?preset=pennington-relu").content == (
        client.get(f"/api/v1/diagnostics?{preset.query}").content
    )
    deeper = client.get("/api/v1/diagnostics?preset=pennington-relu&depth=8&jacobian=1").json()
    alone = client.get(f"/api/v1/diagnostics?{preset.query.replace('depth=64', 'depth=8')}&jacobian=1").json()
    assert deeper == alone
    assert deeper["share"].startswith("depth=8&")
    one_run = client.get("/api/v1/diagnostics?preset=pennington-relu&run=tanh,xavier&depth=4").json()
    assert one_run["share"].endswith("&run=tanh,xavier") and len(one_run["runs"]) == 1
    assert client.get("/api/v1/diagnostics?preset=saito-compare&jacobian=0").status_code == 200
    refused = client.get("/api/v1/diagnostics?preset=no-such-preset")
    assert refused.status_code == 422 and "preset" in refused.text


def test_diagnostics_in_the_catalog(client: TestClient) -> None:
    entry = client.get("/api/v1/catalog").json()["diagnostics"]
    assert entry["endpoint"] == "/api/v1/diagnostics" and entry["page"] == "/diagnostics"
    assert [k["name"] for k in entry["keys"]] == ["c0", "pairs", "jacobian", "seeds"]
    assert entry["jacobian"] == {"exact_max_width": 1024, "random_directions": 256, "spectrum_layers": 8}
    names = [p["name"] for p in entry["presets"]]
    assert names == list(DIAGNOSTICS_PRESETS)
    assert client.get("/api/v1/diagnostics/presets").json() == entry["presets"]
    for p in entry["presets"]:
        claim = DIAGNOSTICS_PRESETS[p["name"]].claim
        assert p["query"] == DIAGNOSTICS_PRESETS[p["name"]].query
        assert p["claim"]["view"] == {"page": "diagnostics", "section": claim.view.section}
        assert p["claim"]["verdict"] == claim.verdict and p["claim"]["reason"] == claim.reason


def test_diagnostics_seeds_give_the_mean_and_band_of_the_draws(client: TestClient) -> None:
    """seeds=3: each measured value is the mean of the three draws' (seed, seed + 1, seed + 2, the
    inputs fixed), low and high their extremes; seeds absent keeps one draw's answer."""
    body = client.get(f"/api/v1/diagnostics?{SMALL}&c0=0.5&pairs=2&seeds=3").json()
    assert body["options"]["seeds"] == 3 and body["query"].endswith("&seeds=3")
    config = codec.to_experiment(codec.decode(SMALL))
    one = client.get(f"/api/v1/diagnostics?{SMALL}&c0=0.5&pairs=2").json()
    assert "seeds" not in one["options"] and "low" not in one["runs"][0]["correlation"]["layers"][0]
    draws = []
    for k in range(3):
        runs = [replace(run, seed=run.seed + k) for run in config.runs]
        # the same pairs and samples: only the weights differ (checked by the first draw's equality)
        draws.append(run_diagnostics(replace(config, runs=tuple(runs)), make_options([0.5], 2, 2)))
    assert (
        body["runs"][0]["correlation"]["layers"][0]["measured"][0]
        != draws[1].runs[0].correlation[0].measured[0]
    )
    first = one["runs"][0]["correlation"]["layers"]
    for run_index, run in enumerate(body["runs"]):
        for j, layer in enumerate(run["correlation"]["layers"]):
            (low,), (high,), (mean,) = layer["low"], layer["high"], layer["measured"]
            assert low <= mean <= high and low < high
            if run_index == 0:
                assert min(first[j]["measured"][0], low) == low
        jac = run["jacobian"]["layers"]
        assert all(layer["low"] <= layer["mean_sq"] <= layer["high"] for layer in jac)
        assert jac[-1]["spectrum"]["count"] == 3 * 2 * 40  # pooled: 3 draws x 2 samples x 40 values


@pytest.mark.parametrize(("extra", "rows"), [("norm=layer", 2 * 5), ("block=residual&branch=2", 1 + 5 * 4)])
def test_diagnostics_measure_layer_networks_row_by_row(client: TestClient, extra: str, rows: int) -> None:
    """Norms and residual blocks are measured through their own pass, one entry per row, beside
    their C-map and Jacobian predictions (block_theory)."""
    response = client.get(f"/api/v1/diagnostics?depth=5&width=30&run=tanh,xavier&{extra}&jacobian=1")
    assert response.status_code == 200
    run = response.json()["runs"][0]
    assert len(run["correlation"]["layers"]) == len(run["jacobian"]["layers"]) == rows
    assert all(isinstance(p, float) for layer in run["correlation"]["layers"] for p in layer["predicted"])
    assert all(layer["predicted_mean_sq"] > 0 for layer in run["jacobian"]["layers"])
    assert all(m is not None for layer in run["correlation"]["layers"] for m in layer["measured"])
    # each row named as /simulate names it, so the pages can say which row a point is
    simulated = client.get(f"/api/v1/simulate?depth=5&width=30&run=tanh,xavier&{extra}").json()
    named = [(row["layer_type"], row["name"]) for row in simulated["runs"][0]["layers"]]
    for kind in ("correlation", "jacobian"):
        assert [(row["layer_type"], row["name"]) for row in run[kind]["layers"]] == named


def test_diagnostics_of_a_plain_stack_name_no_rows(client: TestClient) -> None:
    run = client.get("/api/v1/diagnostics?depth=3&width=20&run=tanh,xavier&jacobian=1").json()["runs"][0]
    assert not any("name" in row or "layer_type" in row for row in run["correlation"]["layers"])
