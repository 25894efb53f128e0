"""The experiment endpoints' shared path: a link's checks made once per spelling without its seed
(checked_link) give exactly what decoding it again gives."""

from __future__ import annotations

import json

import pytest
from cachetools import LRUCache
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app import codec
from app.api import shared
from app.api.payload import result_dict, to_json
from app.api.shared import checked_link
from app.engine.network.cost import Limits, check_limits
from app.engine.network.experiment import run_experiment
from app.engine.params import ConfigError
from app.main import create_app
from app.presets import PRESETS
from app.settings import Settings

LINKS = [
    *(preset.query for preset in PRESETS.values()),
    "depth=3&width=8&samples=10&run=relu,he_normal&run=tanh,xavier,seed:7",  # a run's own seed
    "preset=saito-compare",  # the preset's seed (none: the default)
    "run=relu,he_normal&depth=2&width=4&samples=5&block=residual&norm=layer",
]


def _decoded(query: str, limits: Limits) -> tuple[object, int]:
    config = codec.to_experiment(codec.decode(query))
    return config, check_limits(config, limits).macs


@settings(max_examples=60, deadline=None)
@given(
    link=st.sampled_from(LINKS),
    seeds=st.lists(
        st.integers(0, 2**32 - 1).map(str) | st.sampled_from(["7.0", "1e3", "0"]), min_size=1, max_size=4
    ),
    where=st.sampled_from(["end", "start", "question"]),
)
def test_checked_link_is_the_decoded_link_for_every_seed(link: str, seeds: list[str], where: str) -> None:
    limits = Limits()
    for seed in seeds:
        query = {
            "end": f"{link}&seed={seed}",
            "start": f"seed={seed}&{link}",
            "question": f"?{link}&se%65d={seed}",
        }[where]
        assert checked_link(query, limits) == _decoded(query, limits), query


@pytest.mark.parametrize(
    "seed",
    ["-1", "4294967296", "1.5", "nan", "", "x", "1&seed=2"],
)
def test_checked_link_refuses_a_bad_seed_as_decoding_does(seed: str) -> None:
    link = "depth=2&width=4&samples=5&run=relu,he_normal"
    limits = Limits()
    checked_link(f"{link}&seed=3", limits)  # known with a good seed first
    with pytest.raises(ConfigError) as decoded:
        _decoded(f"{link}&seed={seed}", limits)
    with pytest.raises(ConfigError) as checked:
        checked_link(f"{link}&seed={seed}", limits)
    assert (checked.value.field, str(checked.value)) == (decoded.value.field, str(decoded.value))


def test_checked_link_checks_each_limits_apart() -> None:
    link = "depth=4&width=64&samples=100&run=relu,he_normal&seed=1"
    assert checked_link(link, Limits())[1] > 0
    with pytest.raises(ConfigError) as raised:
        checked_link(link.replace("seed=1", "seed=2"), Limits(max_depth=3))
    assert raised.value.field == "runs[0].depth"


def test_a_link_asked_with_a_new_seed_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flood a server meets (one link, ever new seeds) is decoded once, and each answer is
    still the decoded link's own."""
    link = "depth=2&width=6&samples=9&run=relu,he_normal&run=tanh,xavier,seed:5"
    decoded: list[str] = []
    decode = codec.decode

    def counting(query: str) -> codec.DecodedQuery:
        decoded.append(query)
        return decode(query)

    monkeypatch.setattr(codec, "decode", counting)
    monkeypatch.setattr(shared, "_CHECKED", LRUCache(maxsize=256))  # no link met before this test
    with TestClient(create_app(Settings())) as client:
        answers = [client.get(f"/api/v1/simulate?{link}&seed={seed}") for seed in (41, 42, 43)]
    assert [a.status_code for a in answers] == [200] * 3
    assert decoded == [f"{link}&seed=41"]
    for seed, answer in zip((41, 42, 43), answers, strict=True):
        config = codec.to_experiment(decode(f"{link}&seed={seed}"))
        assert answer.json() == json.loads(to_json(result_dict(run_experiment(config))))
