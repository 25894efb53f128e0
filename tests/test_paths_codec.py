"""The optimizers page's share links: canonical, readable, both ways, and the JSON body form."""

from __future__ import annotations

import pytest

from app import paths_codec
from app.engine.params import ConfigError
from app.engine.paths.surfaces import SURFACES, PathRun, default_config, make_paths_config

BOOK = "opt=sgd,lr:0.95&opt=momentum,lr:0.1&opt=adagrad,lr:1.5&opt=adam,lr:0.3"

CANONICAL = [
    BOOK,
    "surface=rosenbrock&opt=adam,lr:0.05",
    "surface=saddle&start=-2.5,0.5&steps=100&opt=rmsprop,lr:0.1,decay:0.9&opt=nesterov,lr:0.1,momentum:0.5",
    "start=3,-1.25&opt=sgd,lr:1e-05&opt=sgd,lr:0.5",
    "surface=beale&steps=1000&opt=adam,beta1:0.8,beta2:0.99",
    "opt=momentum",
]


@pytest.mark.parametrize("query", CANONICAL)
def test_paths_codec_canonical_links_round_trip(query: str) -> None:
    config = paths_codec.decode(query)
    assert paths_codec.encode(config) == query
    assert paths_codec.decode(paths_codec.encode(config)) == config
    assert paths_codec.from_json(paths_codec.as_json(config)) == config


def test_paths_codec_empty_link_is_the_books_comparison() -> None:
    config = paths_codec.decode("")
    assert config == make_paths_config()
    assert paths_codec.encode(config) == BOOK


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        # defaults spelled out are left out: the surface, its own start, 30 steps, parameter defaults
        ("surface=book&start=-7,2&steps=30&" + BOOK, BOOK),
        ("?opt=momentum,lr:0.1,momentum:0.9", "opt=momentum,lr:0.1"),
        ("opt=adam,beta2:0.999,lr:0.300", "opt=adam,lr:0.3"),
        ("surface=rosenbrock&start=-1.5,2.0&opt=sgd,lr:0.001", "surface=rosenbrock&opt=sgd,lr:0.001"),
        # a client that percent-encodes the commas and colons
        ("opt=sgd%2Clr%3A0.5&steps=%32%30", "steps=20&opt=sgd,lr:0.5"),
        ("opt=sgd,lr:1e-3", "opt=sgd,lr:0.001"),
    ],
)
def test_paths_codec_encodes_canonically(query: str, canonical: str) -> None:
    assert paths_codec.encode(paths_codec.decode(query)) == canonical


def test_paths_codec_json_spells_out_every_value() -> None:
    body = paths_codec.as_json(paths_codec.decode("opt=momentum,lr:0.1"))
    assert body == {
        "surface": "book",
        "start": [-7.0, 2.0],
        "steps": 30,
        "optimizers": [{"name": "momentum", "lr": 0.1, "momentum": 0.9}],
    }
    config = paths_codec.from_json({"surface": "saddle", "optimizers": [{"name": "sgd"}]})
    assert config.start == (-2.5, 0.01) and config.runs == (PathRun("sgd", {"lr": 0.01}),)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("depth=5", "depth", "unknown setting; settings are surface, start, steps, opt"),
        ("steps=10&steps=20", "steps", "given twice"),
        ("steps=ten", "steps", "must be a number, got 'ten'"),
        ("steps=1e400", "steps", "finite"),
        ("start=1", "start", "two numbers 'x,y'"),
        ("start=1,2,3", "start", "two numbers 'x,y'"),
        ("start=a,2", "start", "must be a number"),
        ("opt=sgd,0.5", "opt[0]", "items are key:value"),
        ("opt=sgd&opt=adam,lr:0.1,lr:0.2", "opt[1].lr", "given twice"),
        ("opt=adam,lr:fast", "opt[0].lr", "must be a number, got 'fast'"),
        ("opt=adam,lr:inf", "opt[0].lr", "finite"),
        ("opt=sgd," + ",".join(["lr:1"] * 17), "opt[0]", "more than 16 items"),
        ("opt=" + "&opt=".join(["sgd"] * 65), "opt", "too many optimizers"),
        ("surface=" + "x" * 5000, "query", "over the limit of 4096"),
    ],
)
def test_paths_codec_rejects_bad_links(query: str, field: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        paths_codec.decode(query)
    assert info.value.field == field


def test_paths_codec_json_errors_name_the_body_key() -> None:
    with pytest.raises(ConfigError, match=r"optimizers\[0\]\.lr: must be between 0 and 10") as info:
        paths_codec.from_json({"optimizers": [{"name": "sgd", "lr": 11.0}]})
    assert info.value.field == "optimizers[0].lr"


def test_paths_codec_old_links_keep_their_meaning() -> None:
    """What a link leaves out is fixed: the surface's `start`, 30 steps, the book's four optimizers at
    the book's rates, each optimizer's own parameter defaults; never the surface's `defaults`."""
    bare = paths_codec.decode("surface=rosenbrock")
    assert (bare.start, bare.steps) == ((-1.5, 2.0), 30)
    assert [(r.optimizer, r.params["lr"]) for r in bare.runs] == [
        ("sgd", 0.95),
        ("momentum", 0.1),
        ("adagrad", 1.5),
        ("adam", 0.3),
    ]
    assert paths_codec.encode(bare) == "surface=rosenbrock&" + BOOK
    named = paths_codec.decode("surface=beale&opt=sgd")
    assert named.runs == (PathRun("sgd", {"lr": 0.01}),)  # the registry's 0.01, not Beale's 0.02
    assert (named.start, named.steps) == ((1.0, 1.4), 30)


@pytest.mark.parametrize("name", list(SURFACES))
def test_paths_codec_surface_defaults_are_spelled_out(name: str) -> None:
    share = paths_codec.defaults_json(SURFACES[name])["share"]
    config = paths_codec.decode(share)
    assert config == default_config(name)
    assert paths_codec.encode(config) == share
    if name != "book":
        assert f"steps={SURFACES[name].defaults.steps}" in share and "lr:" in share


def test_paths_codec_rosenbrock_defaults_link() -> None:
    assert paths_codec.defaults_json(SURFACES["rosenbrock"]) == {
        "start": [-1.2, 1.0],
        "steps": 1000,
        "lr": {
            "sgd": 0.0019,
            "momentum": 0.001,
            "nesterov": 0.0005,
            "adagrad": 1.0,
            "rmsprop": 0.01,
            "adam": 0.1,
        },
        "note": SURFACES["rosenbrock"].defaults.note,
        "share": "surface=rosenbrock&start=-1.2,1&steps=1000"
        "&opt=sgd,lr:0.0019&opt=momentum,lr:0.001&opt=adagrad,lr:1&opt=adam,lr:0.1",
    }


@pytest.mark.parametrize(
    ("query", "canonical"),
    [("", ""), ("steps=300&lr=5&seed=0", ""), ("seed=3&lr=2.5&steps=40", "steps=40&lr=2.5&seed=3")],
)
def test_paths_codec_zigzag_links_are_canonical(query: str, canonical: str) -> None:
    config = paths_codec.decode_zigzag(query)
    assert paths_codec.encode_zigzag(config) == canonical
    assert paths_codec.decode_zigzag(canonical) == config


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("steps=0", "steps", "between 1 and 5000"),
        ("steps=2.5", "steps", "integer"),
        ("lr=fast", "lr", "must be a number"),
        ("lr=1000", "lr", "between"),
        ("surface=book", "surface", "settings are steps, lr, seed"),
        ("seed=1&seed=2", "seed", "given twice"),
    ],
)
def test_paths_codec_zigzag_rejects_bad_links(query: str, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        paths_codec.decode_zigzag(query)
    assert caught.value.field == field and message in caught.value.message
