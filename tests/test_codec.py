"""The share-link codec: readable, canonical, round-tripping, and never crashing on any text."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import codec
from app.engine.network.config import AXES, FIELDS, LOSSES, ExperimentConfig, make_experiment
from app.engine.params import ConfigError

SAITO_COMPARE = "range=0,1&run=sigmoid,normal&run=sigmoid,xavier&run=relu,he_normal"


def roundtrip(query: str) -> ExperimentConfig:
    return codec.to_experiment(codec.decode(query))


def test_codec_saito_compare_is_short_and_readable() -> None:
    config = make_experiment(
        {"depth": 5, "width": 100, "input_dim": 100, "samples": 1000},
        [
            {"activation": "sigmoid", "init": "normal", "std": 1.0},
            {"activation": "sigmoid", "init": "xavier"},
            {"activation": "relu", "init": "he_normal"},
        ],
        post_range=[0, 1],
    )
    assert codec.encode(config) == SAITO_COMPARE
    assert len(codec.encode(config)) < 300


def test_codec_hand_edited_depth_is_read() -> None:
    config = roundtrip(SAITO_COMPARE.replace("range", "depth=20&range"))
    assert [run.depth for run in config.runs] == [20, 20, 20]
    assert codec.encode(config).startswith("depth=20&")


def test_codec_equal_experiments_give_equal_strings() -> None:
    spelled = [
        "run=sigmoid,normal",
        "run=sigmoid,normal,std:1.0",
        "depth=5&width=100&run=sigmoid,normal,alpha:0.3",
        "activation=sigmoid&init=normal&run=,",
        "?std=1&run=sigmoid,normal,gain:1&seed=0",
        "run=sigmoid%2Cnormal",  # clients that percent-encode the commas
    ]
    assert {codec.encode(roundtrip(q)) for q in spelled} == {"run=sigmoid,normal"}


def test_codec_per_run_overrides_are_written_in_the_run() -> None:
    query = "bias=normal&bias_std=2&run=relu,he_normal&run=relu,he_normal,bias:none,depth:20,seed:7"
    config = roundtrip(query)
    assert config.runs[1].bias == "none" and config.runs[1].depth == 20 and config.runs[1].seed == 7
    assert codec.encode(config) == query


def test_codec_run_parameter_equal_to_default_but_not_to_shared_is_kept() -> None:
    config = make_experiment({"input_std": 2.0}, [{"activation": "relu", "init": "xavier"}] * 1)
    config = ExperimentConfig(
        runs=(config.runs[0], make_experiment({}, [{"activation": "relu", "init": "xavier"}]).runs[0])
    )
    query = codec.encode(config)
    assert query == "input_std=2&run=relu,xavier&run=relu,xavier,input_std:1"
    assert roundtrip(query) == config


def test_codec_width_list_and_ranges() -> None:
    query = "width=100-50-20&range=-1,1&z_range=-5,5&run=tanh,xavier"
    config = roundtrip(query)
    assert config.runs[0].widths == (100, 50, 20)
    assert config.post_range == (-1.0, 1.0) and config.pre_range == (-5.0, 5.0)
    assert codec.encode(config) == "depth=3&" + query


@pytest.mark.parametrize(
    "label", ["ReLU He", "a,b:c%d", "<script>alert(1)</script>", "50% & more + less", "日本語 ✓"]
)
def test_codec_labels_round_trip_any_character(label: str) -> None:
    config = make_experiment({}, [{"activation": "relu", "init": "he_normal", "label": label}])
    query = codec.encode(config)
    assert "<" not in query and " " not in query and "&" not in query.split("run=")[1]
    assert roundtrip(query).runs[0].label == label


def test_codec_version_field_is_accepted() -> None:
    assert roundtrip("v=1&run=relu,xavier") == roundtrip("run=relu,xavier")


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("run=relu,xavier&detph=3", "detph", "unknown setting"),
        ("run=relu,xavier,detph:3", "runs[0].detph", "unknown field"),
        ("depth=3&depth=4&run=relu,xavier", "depth", "twice"),
        ("run=relu,xavier,std:1,std:2", "runs[0].std", "twice"),
        ("run=relu,xavier,extra", "runs[0]", "key:value"),
        ("depth=five&run=relu,xavier", "depth", "number"),
        ("range=0&run=relu,xavier", "range", "two numbers"),
        ("v=2&run=relu,xavier", "v", "version"),
        ("x" * 9000, "query", "limit"),
    ],
)
def test_codec_bad_links_name_the_field(query: str, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        roundtrip(query)
    assert caught.value.field == field
    assert words in caught.value.message


# ---- property tests ----------------------------------------------------------------------------


def _value(name: str) -> st.SearchStrategy[Any]:
    doc = FIELDS[name]
    if doc.kind == "choice":
        return st.sampled_from(doc.choices)
    if doc.kind == "text":
        return st.text(max_size=20)
    if doc.kind == "float":
        low = -100.0 if doc.low is None else doc.low
        high = 100.0 if doc.high is None else doc.high
        return st.floats(low, high, allow_nan=False, allow_infinity=False)
    high = min(doc.high or 64, 64)
    ints = st.integers(int(doc.low or 0), int(high))
    if doc.kind == "widths":
        return ints | st.lists(ints, min_size=1, max_size=4)
    return ints


OPTIONAL = [n for n in FIELDS if n not in ("activation", "init", "output_activation", "label")]
run_fields = st.fixed_dictionaries(
    {"activation": _value("activation"), "init": _value("init")},
    optional={name: _value(name) for name in [*OPTIONAL, "output_activation", "label"]},
)


# The experiment-level options, each left out (its default) or drawn.
options = st.fixed_dictionaries(
    {},
    optional={
        "gradients": st.booleans(),
        "theory": st.booleans(),
        "loss": st.sampled_from(LOSSES),
        "axes": st.sampled_from(AXES),
    },
)


def _config_or_none(
    shared: dict[str, Any], runs: list[dict[str, Any]], chosen: dict[str, Any] | None = None
) -> ExperimentConfig | None:
    try:
        return make_experiment(shared, runs, **(chosen or {}))
    except ConfigError:
        return None  # e.g. input_low >= input_high, or a depth that contradicts a width list


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shared=st.fixed_dictionaries({}, optional={name: _value(name) for name in OPTIONAL}),
    runs=st.lists(run_fields, min_size=1, max_size=4),
    chosen=options,
)
def test_codec_decode_of_encode_is_identity(
    shared: dict[str, Any], runs: list[dict[str, Any]], chosen: dict[str, Any]
) -> None:
    config = _config_or_none(shared, runs, chosen)
    if config is None:
        return
    query = codec.encode(config)
    assert roundtrip(query) == config
    assert codec.encode(roundtrip(query)) == query
    # the JSON body form reads back as the same experiment too
    body = codec.as_json(codec.to_values(config))
    assert codec.to_experiment(codec.from_json(body)) == config
    assert ("axes=run" in query) == ("axes" in body) == (config.axes == "run")


query_text = st.text(alphabet=st.sampled_from("run=,:&%+-.0123456789abelmoqrsuxdhgtipwz_ ?2C"), max_size=80)


@settings(max_examples=1000, deadline=None)
@given(query=query_text | st.text(max_size=80))
def test_codec_random_text_never_crashes_and_accepted_links_round_trip(query: str) -> None:
    try:
        config = roundtrip(query)
    except ConfigError:
        return
    canonical = codec.encode(config)
    assert roundtrip(canonical) == config


def test_codec_backward_options_round_trip() -> None:
    config = roundtrip("grad=1&loss=mse&run=sigmoid,xavier")
    assert config.gradients and config.theory and config.loss == "mse"
    assert codec.encode(config) == "loss=mse&run=sigmoid,xavier"  # on by default: left out
    off = roundtrip("grad=0&theory=0&loss=normal&run=sigmoid,xavier")
    assert not off.gradients and not off.theory
    assert codec.encode(off) == "grad=0&theory=0&run=sigmoid,xavier"
    assert codec.as_json(codec.to_values(off)) == {
        "runs": [{"activation": "sigmoid", "init": "xavier"}],
        "grad": False,
        "theory": False,
    }
    assert "grad" not in codec.as_json(codec.to_values(config))
    bad = (
        ("grad=2&run=relu,xavier", "grad"),
        ("theory=yes&run=relu,xavier", "theory"),
        ("loss=l1&run=relu,xavier", "loss"),
    )
    for query, field in bad:
        with pytest.raises(ConfigError) as caught:
            roundtrip(query)
        assert caught.value.field == field


def test_codec_axes_round_trip_and_default_left_out() -> None:
    config = roundtrip(f"axes=run&{SAITO_COMPARE}")
    assert config.axes == "run"
    assert config == replace(roundtrip(SAITO_COMPARE), axes="run")
    # after the ranges it qualifies, before the backward options
    assert codec.encode(config) == f"range=0,1&axes=run&{SAITO_COMPARE.removeprefix('range=0,1&')}"
    assert codec.encode(roundtrip("loss=mse&axes=run&grad=0&run=relu,xavier")) == (
        "axes=run&grad=0&loss=mse&run=relu,xavier"
    )
    assert codec.as_json(codec.to_values(config))["axes"] == "run"
    # shared is the default: written nowhere, so every link made before axes= keeps its meaning
    shared = roundtrip(f"axes=shared&{SAITO_COMPARE}")
    assert shared == roundtrip(SAITO_COMPARE) and shared.axes == "shared"
    assert codec.encode(shared) == SAITO_COMPARE
    assert "axes" not in codec.as_json(codec.to_values(shared))
    assert codec.decode("preset=saito-compare&axes=run").axes == "run"


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("axes=bogus&run=relu,xavier", "must be one of shared, run"),
        ("axes=&run=relu,xavier", "must be one of shared, run"),
        ("axes=RUN&run=relu,xavier", "must be one of shared, run"),
        ("axes=run&axes=run&run=relu,xavier", "is given twice"),
    ],
)
def test_codec_bad_axes_names_the_field(query: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        roundtrip(query)
    assert caught.value.field == "axes"
    assert caught.value.message == words


def test_codec_unknown_setting_lists_the_options() -> None:
    with pytest.raises(ConfigError) as caught:
        roundtrip("axis=run&run=relu,xavier")
    assert "range, z_range, grad, theory, loss, axes, activation" in caught.value.message


# ---- presets -------------------------------------------------------------------------------------


def test_codec_preset_is_its_link() -> None:
    assert codec.decode("preset=saito-compare") == codec.decode(SAITO_COMPARE)
    assert codec.encode(roundtrip("preset=saito-compare")) == SAITO_COMPARE


@pytest.mark.parametrize(
    ("query", "same_as"),
    [
        ("preset=saito-compare&depth=8", f"depth=8&{SAITO_COMPARE}"),
        ("depth=8&preset=saito-compare&v=1", f"depth=8&{SAITO_COMPARE}"),
        ("preset=saito-compare&range=0,2", "range=0,2" + SAITO_COMPARE.removeprefix("range=0,1")),
        ("preset=saito-compare&run=tanh,xavier&run=relu,xavier", "range=0,1&run=tanh,xavier&run=relu,xavier"),
        ("preset=deep-relu-compare&grad=1", "depth=50&width=512&samples=500"
         "&run=relu,normal,std:0.01&run=relu,xavier&run=relu,he_normal"),
        # a run's own depth still wins over the shared depth it overrides
        ("preset=ng-small-init&depth=3",
         "bias=zeros&depth=3&run=tanh,normal,output_activation:sigmoid,std:0.01"
         "&run=tanh,normal,output_activation:sigmoid,std:0.01,depth:20"),
    ],
)  # fmt: skip
def test_codec_preset_keys_override_it(query: str, same_as: str) -> None:
    """Keys beside preset= replace the preset's own (its run= keys all together); the canonical
    link, made from the experiment, never holds preset=."""
    assert roundtrip(query) == roundtrip(same_as)
    assert "preset" not in codec.encode(roundtrip(query))


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("preset=nope", "unknown preset 'nope'; presets are saito-compare, saito-sigmoid-std1, "),
        ("preset=dead-relu&preset=dead-relu", "is given twice"),
        ("preset=Saito-Compare", "unknown preset"),
    ],
)
def test_codec_bad_preset_names_the_field(query: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        roundtrip(query)
    assert caught.value.field == "preset"
    assert words in caught.value.message


def test_codec_preset_expansion_can_be_turned_off() -> None:
    """A training link reads its network with the experiment codec, without presets (their
    ranges and backward options are no training's)."""
    with pytest.raises(ConfigError) as caught:
        codec.decode("preset=saito-compare", presets=False)
    assert caught.value.field == "preset" and "unknown setting" in caught.value.message
