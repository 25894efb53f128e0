"""The client's seeds=: a seed ensemble from a body, a preset or a link, against a real server."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest

from app.client import Client, InitscopeError
from app.engine.network.ensemble import MAX_SEEDS

BODY = {"depth": 2, "width": 10, "samples": 50, "runs": [{"activation": "tanh", "init": "xavier"}]}


@pytest.fixture(scope="module")
def api(live_server: str) -> Iterator[Client]:
    with Client(live_server) as client:
        yield client


def test_client_seeds_from_body_preset_and_query_agree(api: Client) -> None:
    posted = api.simulate(BODY, seeds=3)
    share = posted["share"]
    assert share.endswith("&seeds=3")
    base = share.removesuffix("&seeds=3")
    assert api.simulate(query=base, seeds=3) == posted
    assert api.simulate(query=share) == posted
    assert posted["ensemble"]["seeds"] == 3
    layer = posted["runs"][0]["layers"][0]
    band = layer["post"]["band"]  # type: ignore[typeddict-item]
    assert band["low"]["std"] <= layer["post"]["std"] <= band["high"]["std"]
    assert "ensemble" not in api.simulate(BODY)  # without seeds: the single answer
    preset = api.simulate(preset="saito-compare", seeds=2)
    assert preset["share"] == api.preset("saito-compare")["share"] + "&seeds=2"


def test_client_downloads_take_seeds(api: Client) -> None:
    query = "depth=2&width=8&samples=20&run=relu,he_normal"
    answer = api.simulate(query=query, seeds=3)
    rows = list(csv.DictReader(io.StringIO(api.export_csv(query=query, seeds=3))))
    assert {"count_low", "count_high"} <= set(rows[0])
    first = answer["runs"][0]["layers"][0]["pre"]  # the file's first rows: run 1, layer 1, z
    assert [float(row["count"]) for row in rows[: len(first["counts"])]] == first["counts"]
    assert "count_low" not in api.export_csv(query=query)  # the single draw's file, as before
    assert "seeds=3" in api.report(query=query, seeds=3)


def test_client_seeds_over_the_limit_names_the_field(api: Client) -> None:
    with pytest.raises(InitscopeError) as caught:
        api.simulate(query="run=relu,he_normal", seeds=MAX_SEEDS + 1)
    assert caught.value.status_code == 422
    assert caught.value.detail[0]["loc"] == ["query", "seeds"]


def test_catalog_documents_the_ensembles(api: Client) -> None:
    ensembles = api.catalog()["ensembles"]
    assert ensembles["key"] == "seeds" and ensembles["high"] == MAX_SEEDS
    assert ensembles["band"] == "min-max" and ensembles["inputs"] == "fixed"
