"""GET and POST /api/v1/optimizer-paths, the catalog's optimizers and surfaces, the page route."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.engine.optimizers import OPTIMIZERS
from app.engine.paths.surfaces import SURFACES

URL = "/api/v1/optimizer-paths"
BOOK = "opt=sgd,lr:0.95&opt=momentum,lr:0.1&opt=adagrad,lr:1.5&opt=adam,lr:0.3"


def _numbers(value: Any) -> list[float]:
    if isinstance(value, list):
        return [x for item in value for x in _numbers(item)]
    return [value] if isinstance(value, float | int) and not isinstance(value, bool) else []


def test_paths_get_default_is_the_books_comparison(client: TestClient) -> None:
    body = client.get(URL).json()
    assert body["share"] == BOOK
    assert body["config"]["start"] == [-7, 2] and body["config"]["steps"] == 30
    assert body["surface"]["name"] == "book" and body["surface"]["window"] == [-10, 10, -5, 5]
    assert [p["label"] for p in body["paths"]] == [
        "SGD (lr 0.95)",
        "Momentum (lr 0.1)",
        "AdaGrad (lr 1.5)",
        "Adam (lr 0.3)",
    ]
    sgd = body["paths"][0]
    assert len(sgd["x"]) == len(sgd["y"]) == len(sgd["f"]) == len(sgd["gap"]) == 31
    assert (sgd["x"][1], sgd["y"][1]) == pytest.approx((-6.335, -1.8))
    assert sgd["f"][0] == pytest.approx(49 / 20 + 4) and sgd["diverged_at"] is None
    contour = body["contour"]
    assert len(contour["z"]) == len(contour["y"]) and len(contour["z"][0]) == len(contour["x"])
    assert contour["x"][0] == -10 and contour["x"][-1] == 10 and contour["of"] == "f"
    assert body["suggested_lr"].keys() == OPTIMIZERS.keys()


def test_paths_get_and_post_agree(client: TestClient) -> None:
    query = "surface=saddle&steps=12&opt=rmsprop,lr:0.1,decay:0.9&opt=adam,lr:0.05"
    got = client.get(f"{URL}?{query}")
    posted = client.post(
        URL,
        json={
            "surface": "saddle",
            "steps": 12,
            "optimizers": [{"name": "rmsprop", "lr": 0.1, "decay": 0.9}, {"name": "adam", "lr": 0.05}],
        },
    )
    assert got.status_code == posted.status_code == 200
    assert got.content == posted.content
    assert got.json()["share"] == query
    # the canonical JSON posts back to the same answer
    assert client.post(URL, json=got.json()["config"]).content == got.content


def test_paths_share_is_canonical(client: TestClient) -> None:
    body = client.get(f"{URL}?surface=book&start=-7,2&steps=30&opt=momentum,momentum:0.9,lr:0.10").json()
    assert body["share"] == "opt=momentum,lr:0.1"
    assert body["paths"][0]["label"] == "Momentum (lr 0.1)"
    nesterov = client.get(f"{URL}?opt=nesterov,lr:0.1,momentum:0.5").json()["paths"][0]
    assert nesterov["label"] == "Nesterov (lr 0.1, momentum 0.5)"


def test_paths_divergence_is_reported_with_finite_numbers(client: TestClient) -> None:
    response = client.get(f"{URL}?surface=rosenbrock&steps=1000&" + "&".join(["opt=sgd,lr:10"] * 8))
    assert response.status_code == 200
    body = response.json()
    assert body["contour"]["of"] == "log10(1 + f − f_min)"
    # step 1 lands at (1548.5, 502), step 2 beyond |x| = 1e6: the path keeps its first two points
    assert all(p["diverged_at"] == 2 and len(p["x"]) == 2 for p in body["paths"])
    assert all(math.isfinite(x) for x in _numbers(body))


@pytest.mark.parametrize(
    ("query", "loc", "message"),
    [
        ("steps=1001", ["steps"], "steps: must be between 1 and 1000"),
        ("steps=0", ["steps"], "steps: must be between 1 and 1000"),
        ("start=0,500", ["start"], "start: each coordinate must be between -100 and 100"),
        ("surface=moon", ["surface"], "unknown surface 'moon'; one of book, rosenbrock"),
        ("opt=sgd,lr:100", ["opt", 0, "lr"], "opt[0].lr: must be between 0 and 10"),
        ("opt=sgd&opt=adam,beta1:1", ["opt", 1, "beta1"], "must be between 0 and 0.999"),
        ("opt=bfgs", ["opt", 0], "unknown optimizer 'bfgs'"),
        ("&".join(["opt=sgd"] * 9), ["opt"], "between 1 and 8 optimizers, got 9"),
        ("opt=sgd,lr:nan", ["opt", 0, "lr"], "finite"),
        ("lr=0.1", ["lr"], "unknown setting"),
    ],
)
def test_paths_get_bad_input_is_422_naming_the_field(
    client: TestClient, query: str, loc: list[str | int], message: str
) -> None:
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["query", *loc]
    assert message in detail["msg"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"optimizers": [{"name": "sgd", "momentum": 0.9}]}, ["body", "optimizers", 0, "momentum"]),
        ({"optimizers": []}, ["body", "optimizers"]),
        ({"optimizers": [{"name": "sgd"}] * 9}, ["body", "optimizers"]),
        ({"optimizers": [{"name": "sgd", "eta": 0.1}]}, ["body", "optimizers", 0, "eta"]),
        ({"start": [1, 2, 3]}, ["body", "start"]),
        ({"steps": 5000}, ["body", "steps"]),
        ({"steps": 2.5}, ["body", "steps"]),
        ({"surface": "book", "depth": 3}, ["body", "depth"]),
    ],
)
def test_paths_post_bad_body_is_422(client: TestClient, body: dict[str, Any], loc: list[str | int]) -> None:
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


def test_paths_catalog_lists_optimizers_and_surfaces(client: TestClient) -> None:
    body = client.get("/api/v1/catalog").json()
    assert [o["name"] for o in body["optimizers"]] == list(OPTIMIZERS)
    adam = next(o for o in body["optimizers"] if o["name"] == "adam")
    assert [p["name"] for p in adam["params"]] == ["lr", "beta1", "beta2"]
    assert adam["params"][0]["default"] == 0.001 and adam["params"][0]["max"] == 10
    assert [s["name"] for s in body["surfaces"]] == list(SURFACES)
    assert body["surfaces"][0]["start"] == [-7, 2]
    for entry in body["surfaces"]:
        defaults = SURFACES[entry["name"]].defaults
        assert entry["defaults"]["start"] == list(defaults.start)
        assert entry["defaults"]["steps"] == defaults.steps
        assert (
            entry["defaults"]["lr"] == dict(defaults.lr)
            and entry["defaults"]["lr"].keys() == OPTIMIZERS.keys()
        )
    assert body["surfaces"][0]["defaults"]["share"] == BOOK


def test_paths_page_serves_its_module_without_inline_script(client: TestClient) -> None:
    page = client.get("/optimizers?surface=rosenbrock")
    assert page.status_code == 200
    assert "js/optimizers.js" in page.text and "/vendor/plotly.min.js" in page.text
    assert "<script>" not in page.text and " on" + "click=" not in page.text
    assert 'href="/optimizers"' in client.get("/").text  # in the site's navigation
    assert URL in client.get("/openapi.json").json()["paths"]


def test_paths_other_methods_are_405_naming_the_allowed_ones(client: TestClient) -> None:
    response = client.delete(URL)
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize(
    ("text", "loc"),
    [
        ('{"optimizers": [{"name": "sgd", "lr": NaN}]}', ["optimizers", 0, "lr"]),
        ('{"start": [Infinity, 0]}', ["start"]),
        ('{"steps": -Infinity}', ["steps"]),
        ('{"runs": [{"std": NaN}]}', ["runs"]),
        ('{"optimizers": [{"name": "\\ud800"}]}', ["optimizers", 0, "name"]),
        ('{"surface": "\\udc00"}', ["surface"]),
    ],
)
def test_paths_post_non_json_values_are_422(client: TestClient, text: str, loc: list[Any]) -> None:
    response = client.post(URL, content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", *loc] and detail["msg"]


@pytest.mark.parametrize(
    ("query", "body", "field", "message"),
    [
        ("steps=0", {"steps": 0}, "steps", "must be between 1 and 1000"),
        ("steps=1001", {"steps": 1001}, "steps", "must be between 1 and 1000"),
        ("start=nan,0", {"start": [math.nan, 0]}, "start", "each coordinate must be a finite number"),
        ("start=0,1e308", {"start": [0, 1e308]}, "start", "each coordinate must be between -100 and 100"),
        ("opt=sgd,lr:-1", {"optimizers": [{"name": "sgd", "lr": -1}]}, "[0].lr", "must be between 0 and 10"),
        ("opt=adam,beta1:inf", {"optimizers": [{"name": "adam", "beta1": math.inf}]}, "[0].beta1",
         "must be a finite number"),
    ],
)  # fmt: skip
def test_paths_same_message_over_get_and_post(
    client: TestClient, query: str, body: dict[str, Any], field: str, message: str
) -> None:
    """The same bad value, in the same words over both (the link's opt[i] is the body's optimizers[i])."""
    got = client.get(f"{URL}?{query}")
    posted = client.post(URL, content=json.dumps(body), headers={"content-type": "application/json"})
    assert got.status_code == posted.status_code == 422
    link, json_body = got.json()["detail"][0]["msg"], posted.json()["detail"][0]["msg"]
    assert link.endswith(f"{field}: {message}") and json_body.endswith(f"{field}: {message}")
    assert link.replace("opt[", "optimizers[") == json_body


@pytest.mark.parametrize("name", list(SURFACES))
def test_paths_surface_defaults_from_the_catalog_converge(client: TestClient, name: str) -> None:
    """As a script would: read a surface's defaults from the catalog, post every optimizer at them,
    and find each path ending near the minimum with f - f_min down by decades, nothing diverged."""
    entry = next(s for s in client.get("/api/v1/catalog").json()["surfaces"] if s["name"] == name)
    defaults = entry["defaults"]
    body = {
        "surface": name,
        "start": defaults["start"],
        "steps": defaults["steps"],
        "optimizers": [{"name": o, "lr": lr} for o, lr in defaults["lr"].items()],
    }
    answer = client.post(URL, json=body).json()
    assert answer["surface"]["defaults"] == defaults and answer["suggested_lr"] == defaults["lr"]
    assert all(math.isfinite(x) for x in _numbers(answer))
    minima = answer["surface"]["minima"]
    for path in answer["paths"]:
        assert path["diverged_at"] is None and len(path["x"]) == defaults["steps"] + 1
        start, end = [
            min(math.dist(p, m) for m in minima)
            for p in ((path["x"][0], path["y"][0]), (path["x"][-1], path["y"][-1]))
        ]
        assert end < 0.3 * start, path["label"]
        assert path["gap"][-1] < 0.02 * path["gap"][0], path["label"]
    # the defaults' share link is the book's four at these rates
    shared = client.get(f"{URL}?{defaults['share']}").json()
    assert shared["share"] == defaults["share"]
    assert [p["x"] for p in shared["paths"]] == [
        p["x"] for p in answer["paths"] if p["optimizer"] in ("sgd", "momentum", "adagrad", "adam")
    ]


def test_paths_link_without_rates_keeps_its_meaning(client: TestClient) -> None:
    """A link that names no optimizer means the book's four at the book's rates on any surface, as it
    always has: on Rosenbrock SGD still diverges there, and the surface's defaults are offered."""
    body = client.get(f"{URL}?surface=rosenbrock").json()
    assert body["share"] == "surface=rosenbrock&" + BOOK
    assert body["paths"][0]["diverged_at"] == 2
    assert body["surface"]["defaults"]["share"].startswith("surface=rosenbrock&start=-1.2,1&steps=1000&")


def test_paths_unit_paths_answer_the_zigzag_with_its_measurements(client: TestClient) -> None:
    response = client.get("/api/v1/unit-paths")
    assert response.status_code == 200
    body = response.json()
    assert body["share"] == "" and body["config"] == {"steps": 300, "lr": 5.0, "seed": 0}
    assert (body["start"], body["target"], body["near"]) == ([0.0, 0.0], [2.0, -2.0], 0.5)
    positive, centred = body["paths"]
    assert (positive["inputs"], centred["inputs"]) == ("positive", "centred")
    assert len(positive["w0"]) == len(positive["w1"]) == 301
    steps = list(zip(positive["w0"], positive["w1"], strict=True))
    shared = [(b[0] - a[0]) * (b[1] - a[1]) > 0 for a, b in itertools.pairwise(steps)]
    assert all(shared) and positive["same_sign"] == 1.0  # the page's numbers are the paths' own
    assert math.isclose(positive["detour"], positive["length"] / positive["straight"])
    assert client.get("/api/v1/unit-paths?steps=40&lr=2.5").json()["share"] == "steps=40&lr=2.5"
    assert client.get("/api/v1/unit-paths").content == response.content  # same link, same bytes


@pytest.mark.parametrize(("query", "field"), [("steps=0", "steps"), ("lr=x", "lr"), ("opt=sgd", "opt")])
def test_paths_unit_paths_bad_link_is_422_naming_the_field(
    client: TestClient, query: str, field: str
) -> None:
    response = client.get(f"/api/v1/unit-paths?{query}")
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][1] == field


def test_paths_presets_listed_with_their_claim_and_page(client: TestClient) -> None:
    listed = client.get("/api/v1/paths/presets").json()
    assert listed == client.get("/api/v1/catalog").json()["paths_presets"]
    [zigzag] = listed
    assert zigzag["page"] == "/optimizers#zigzag" and zigzag["claim"]["view"] == {
        "page": "optimizers",
        "section": "zigzag",
    }
    assert zigzag["claim"]["verdict"] == "holds"
