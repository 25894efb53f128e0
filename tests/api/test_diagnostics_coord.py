"""GET /api/v1/coord-check: the engine's coordinate check as JSON, 422s naming the field, the budget
checked before work, cached by its canonical query."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.api.diagnostics_coord import coord_dict
from app.engine.training.coord_check import coord_check, make_coord_config
from app.main import create_app
from app.settings import load_settings

SMALL = "widths=16,32,64&depth=2&steps=2"


def test_coord_check_answer_is_the_engines(client: TestClient) -> None:
    response = client.get(f"/api/v1/coord-check?{SMALL}")
    assert response.status_code == 200
    body = response.json()
    expected = coord_dict(coord_check(make_coord_config([16, 32, 64], 2, steps=2)))
    assert body == json.loads(json.dumps(expected))
    assert body["query"] == "widths=16,32,64&depth=2&activation=relu&optimizer=adam&lr=0.001&steps=2&seed=0"
    assert body["layers"] == ["hidden 1", "hidden 2", "output"] and body["steps"] == [0, 1, 2]
    sp, mup = body["curves"]
    assert (sp["parametrization"], mup["parametrization"]) == ("sp", "mup")
    assert len(sp["values"]) == 3 and len(sp["values"][0]) == 3 and len(sp["values"][0][0]) == 3
    assert sp["ratios"][1][2] == pytest.approx(sp["values"][1][2][-1] / sp["values"][1][2][0])
    again = client.get(f"/api/v1/coord-check?{SMALL}&activation=relu")
    assert again.content == response.content and again.headers["x-cache"] == "hit"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("widths=128", "widths"),
        ("widths=256,128", "widths"),
        ("widths=a,b", "widths"),
        ("widths=128,99999999", "widths"),
        ("activation=maxout", "activation"),
        ("activation=nope", "activation"),
        ("optimizer=rmsprop", "optimizer"),
        ("lr=0", "lr"),
        ("lr=inf", "lr"),
        ("steps=9", "steps"),
        ("depth=1", "depth"),
    ],
)
def test_coord_check_refuses_naming_the_field(client: TestClient, query: str, field: str) -> None:
    response = client.get(f"/api/v1/coord-check?{query}")
    assert response.status_code == 422
    assert field in response.json()["detail"][0]["loc"]


def test_coord_check_budget_before_work() -> None:
    with TestClient(create_app(load_settings({"INITSCOPE_MAX_MACS": "1000000"}))) as client:
        response = client.get("/api/v1/coord-check?widths=512,1024")
        assert response.status_code == 422
        detail = response.json()["detail"][0]
        assert detail["type"] == "budget_exceeded" and detail["limit"] == "max_macs"
        assert "the check needs" in detail["msg"]
    with TestClient(create_app(load_settings({"INITSCOPE_MAX_WIDTH": "256"}))) as client:
        response = client.get("/api/v1/coord-check?widths=128,512")
        assert response.status_code == 422 and "from 1 to 256" in response.json()["detail"][0]["msg"]


def test_coord_check_in_openapi(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"]["/api/v1/coord-check"]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert names == {"widths", "depth", "activation", "optimizer", "lr", "steps", "seed"}
    assert "mup" in op["description"]


def test_coord_check_in_the_catalog(client: TestClient) -> None:
    entry = client.get("/api/v1/catalog").json()["diagnostics"]["coord_check"]
    assert entry["endpoint"] == "/api/v1/coord-check"
    assert (
        entry["defaults"]["widths"] == [128, 256, 512, 1024, 2048]
        and entry["defaults"]["optimizer"] == "adam"
    )
