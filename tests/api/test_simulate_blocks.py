"""Norms and residual blocks through the API: links and JSON bodies, rows typed in the answer,
errors naming the field, and the cost bound."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app import codec

LINKS = [
    "depth=3&run=relu,he_normal,norm:batch",
    "depth=3&run=sigmoid,normal,norm:layer,norm_at:after&run=sigmoid,normal",
    "depth=4&run=tanh,xavier,block:residual,branch:2,norm:rms,norm_at:post,branch_scale:0.5",
    "depth=4&run=relu,he_normal,block:residual,res_init:rezero&run=relu,he_normal,block:residual,res_init:fixup",
]


@pytest.mark.parametrize("link", LINKS)
def test_links_are_canonical_and_round_trip(link: str) -> None:
    config = codec.to_experiment(codec.decode(link))
    assert codec.encode(config) == link
    assert codec.to_experiment(codec.from_json(codec.as_json(codec.to_values(config)))) == config


def test_defaults_and_unread_fields_leave_the_link() -> None:
    config = codec.to_experiment(
        codec.decode("block=plain&norm=none&run=relu,he_normal&run=relu,he_normal,block:residual,branch:1")
    )
    assert codec.encode(config) == "run=relu,he_normal&run=relu,he_normal,block:residual"
    shared = codec.to_experiment(codec.decode("norm=layer&run=relu,he_normal&run=tanh,xavier"))
    assert codec.encode(shared) == "run=relu,he_normal,norm:layer&run=tanh,xavier,norm:layer"


@pytest.mark.parametrize("link", LINKS)
def test_link_and_body_give_the_same_answer_with_typed_rows(client: TestClient, link: str) -> None:
    got = client.get(f"/api/v1/simulate?{link}")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["share"] == link
    posted = client.post("/api/v1/simulate", json=body["experiment"])
    assert posted.content == got.content
    types = ("dense", "activation", "batch_norm", "layer_norm", "rms_norm", "residual")
    for run in body["runs"]:
        layered = "norm" in run["config"] or "block" in run["config"]
        for row in run["layers"]:
            if not layered:  # a plain run beside layer networks keeps the plain rows' shape
                assert "layer_type" not in row and row["grad"] is not None
                continue
            assert row["layer_type"] in types and row["name"] and row["grad"] is not None
        if not layered:
            assert run["theory"]["phase"] in ("ordered", "critical", "chaotic")


def test_plain_answers_carry_no_layer_type(client: TestClient) -> None:
    body = client.get("/api/v1/simulate?depth=2&run=relu,he_normal").json()
    assert "layer_type" not in body["runs"][0]["layers"][0]


@pytest.mark.parametrize(
    ("link", "field", "words"),
    [
        ("run=relu,he_normal,norm:group", "runs[0].norm", "one of none, batch, layer, rms"),
        ("run=relu,he_normal,norm:layer,norm_at:pre", "runs[0].norm_at", "before or after"),
        ("run=relu,he_normal,block:residual,branch:3", "runs[0].branch", "between 1 and 2"),
        ("run=relu,he_normal,block:residual,width:10-20", "runs[0].width", "one width"),
        ("run=relu,he_normal,res_init:depth", "runs[0].res_init", "residual blocks"),
        ("run=relu,he_normal,block:residual,branch_scale:-1", "runs[0].branch_scale", "between 0 and 100"),
    ],
)
def test_bad_fields_are_a_422_naming_the_field(client: TestClient, link: str, field: str, words: str) -> None:
    got = client.get(f"/api/v1/simulate?{link}")
    assert got.status_code == 422
    assert field in got.text and words in got.text


def test_the_budget_counts_the_dense_layers_of_every_branch(client: TestClient) -> None:
    # 20 layers of 512 with the backward pass: 1.6e10 multiply-adds, under the default 2e10; 20
    # residual blocks of two layers each hold 40 such products: 3.2e10, over it
    shape = "depth=20&width=512&input_dim=100&samples=1000"
    cost = client.get(f"/api/v1/simulate?{shape}&run=relu,he_normal,block:residual,branch:2")
    assert cost.status_code == 422
    assert cost.json()["detail"][0]["limit"] == "max_macs"
    assert (
        client.get(f"/api/v1/simulate?{shape}&grad=0&theory=0&run=relu,he_normal,norm:batch").status_code
        == 200
    )


def test_the_report_places_no_layer_network_on_a_phase_diagram(client: TestClient) -> None:
    from app.report import phase_diagrams

    link = "run=relu,he_normal&run=relu,he_normal,norm:layer&run=tanh,xavier,block:residual"
    document = client.get(f"/api/v1/simulate?{link}").json()
    diagrams = phase_diagrams(document)
    assert [(d["activation"], d["marked"]) for d in diagrams] == [("relu", [0])]
    report = client.get(f"/api/v1/export/report?{link}")
    assert report.status_code == 200 and "text/html" in report.headers["content-type"]
    for run in document["runs"][1:]:
        assert run["theory"]["phase"] is None and run["theory"]["sigma_w2"] == []
