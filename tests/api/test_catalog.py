"""GET /api/v1/catalog and /api/v1/presets: forms and scripts are built from this data."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.engine.layers.activations import ACTIVATIONS
from app.engine.layers.initializers import BIASES, INITIALIZERS
from app.engine.network.config import FIELDS
from app.engine.network.inputs import INPUTS
from app.presets import PRESETS
from app.train_presets import TRAIN_PRESETS


def test_catalog_lists_every_registry_entry_with_params_and_formula(client: TestClient) -> None:
    body = client.get("/api/v1/catalog").json()
    for key, registry in (
        ("activations", ACTIVATIONS),
        ("initializers", INITIALIZERS),
        ("biases", BIASES),
        ("inputs", INPUTS),
    ):
        assert [entry["name"] for entry in body[key]] == list(registry)
        assert all(entry["formula"] for entry in body[key])
    leaky = next(a for a in body["activations"] if a["name"] == "leaky_relu")
    assert leaky["params"] == [
        {
            "name": "alpha",
            "type": "float",
            "default": 0.01,
            "doc": leaky["params"][0]["doc"],
            "min": 0.0,
            "max": 1.0,
        }
    ]
    sigmoid = next(a for a in body["activations"] if a["name"] == "sigmoid")
    assert sigmoid["bounds"] == [0.0, 1.0] and sigmoid["gain"] == 1.0
    assert [f["name"] for f in body["fields"]] == list(FIELDS)
    assert [p["name"] for p in body["presets"]] == list(PRESETS)
    assert {x["name"] for x in body["limits"]} >= {"max_depth", "max_macs", "max_runs"}
    assert all(x["setting"].startswith("INITSCOPE_MAX_") for x in body["limits"])


def test_catalog_preset_experiment_posts_to_the_same_result(client: TestClient) -> None:
    preset = client.get("/api/v1/presets/nielsen-scaled").json()
    posted = client.post("/api/v1/simulate", json=preset["experiment"])
    assert posted.status_code == 200
    assert posted.json()["share"] == preset["share"] == PRESETS["nielsen-scaled"].query
    assert posted.content == client.get(f"/api/v1/simulate?{preset['share']}").content


def test_catalog_presets_list_matches_registry(client: TestClient) -> None:
    assert [p["name"] for p in client.get("/api/v1/presets").json()] == list(PRESETS)


def test_catalog_unknown_preset_is_404_listing_names(client: TestClient) -> None:
    response = client.get("/api/v1/presets/nope")
    assert response.status_code == 404
    assert "saito-compare" in response.json()["detail"]


def test_catalog_he_gain_and_truncated_normal_cut_are_explained(client: TestClient) -> None:
    """he_* multiplies sqrt(2) by gain, so torch's kaiming_*(nonlinearity='tanh') is gain (5/3)/√2
    here; truncated_normal cuts at ±2 std (TensorFlow), not at torch's absolute ±2."""
    inits = {i["name"]: i for i in client.get("/api/v1/catalog").json()["initializers"]}
    for name in ("he_normal", "he_uniform"):
        note = inits[name]["note"]
        assert "√2" in note and "gain" in note and "(5/3)/√2" in note and "'tanh'" in note, note
    note = inits["truncated_normal"]["note"]
    assert "±2 std" in note and "TensorFlow" in note and "trunc_normal_" in note, note


def test_catalog_presets_carry_their_claim_with_its_view(client: TestClient) -> None:
    listed = {p["name"]: p for p in client.get("/api/v1/catalog").json()["presets"]}
    for name, preset in PRESETS.items():
        body = client.get(f"/api/v1/presets/{name}").json()
        assert body == listed[name]
        claim = body["claim"]
        assert set(claim) == {"text", "source", "view", "look_at", "verdict", "reason", "units_layer"}
        rows = {} if preset.claim.view.layers == "auto" else {"layers": preset.claim.view.layers}
        assert claim["view"] == {"view": preset.claim.view.view, "kind": preset.claim.view.kind, **rows}
        assert claim["verdict"] in ("holds", "holds in part", "contradicted")
        assert (claim["reason"], claim["text"]) == (preset.claim.reason, preset.claim.text)
        # the older keys stay: `shows` is what to look at, `source` the claim's
        assert (body["shows"], body["source"]) == (claim["look_at"], claim["source"])
    assert listed["saito-sigmoid-std001"]["claim"]["view"] == {"view": "distribution", "kind": "grad"}
    assert listed["ng-zero-init"]["claim"]["units_layer"] == 2
    # a claim about one kind of a layer network's rows opens those rows
    assert listed["post-vs-pre-norm"]["claim"]["view"]["layers"] == "rows-dense projection"


def test_catalog_train_presets_carry_their_claim_with_its_chart(client: TestClient) -> None:
    listed = client.get("/api/v1/train/presets").json()
    assert listed == client.get("/api/v1/catalog").json()["train_presets"]
    assert [p["name"] for p in listed] == list(TRAIN_PRESETS)
    for body in listed:
        preset = TRAIN_PRESETS[body["name"]]
        claim = body["claim"]
        assert claim["view"] == {"page": "train", "chart": preset.claim.view.chart}
        assert (claim["verdict"], claim["reason"], claim["text"]) == (
            preset.claim.verdict,
            preset.claim.reason,
            preset.claim.text,
        )
        assert (body["shows"], body["source"]) == (claim["look_at"], claim["source"])
        assert body["share"] == preset.query
    verdicts = {p["name"]: p["claim"]["verdict"] for p in listed}
    assert verdicts["relu-speed"] == "holds in part"  # faster than sigmoid, not than tanh


def test_catalog_openapi_documents_the_claim(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/presets", "/api/v1/presets/{name}", "/api/v1/train/presets"):
        assert '"holds in part"' in paths[path]["get"]["description"]
