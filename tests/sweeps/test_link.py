"""The sweep link: readable, canonical, stable, round-trips, and its errors name the key and the limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import codec
from app.presets import PRESETS
from app.sweeps.link import MAX_AXES, MAX_AXIS_VALUES, expand, format_sweep, parse_sweep
from app.sweeps.presets import SWEEP_PRESETS

PHASE = "depth=30&run=tanh,xavier&bias=normal&axis.gain=0.5:4:lin:8&axis.bias_std=0:1:lin:5"


def test_phase_sweep_reads_and_expands_to_canonical_links() -> None:
    sweep = parse_sweep(PHASE)
    assert sweep.size == 40
    assert [a.name for a in sweep.axes] == ["gain", "bias_std"]
    assert sweep.axes[0].values == (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
    assert sweep.axes[1].values == (0.0, 0.25, 0.5, 0.75, 1.0)
    points = expand(sweep, 1000)
    assert len(points) == 40
    first, last = points[0][0], points[-1][0]
    assert first.values == (0.5, 0.0) and last.values == (4.0, 1.0)
    assert points[1][0].values == (0.5, 0.25)  # the first axis is the slowest
    assert first.link == "bias=normal&bias_std=0&depth=30&run=tanh,xavier,gain:0.5"
    for point, config in points:
        # each point is exactly one share link: canonical, and the config it was made from
        assert codec.encode(codec.to_experiment(codec.decode(point.link))) == point.link
        assert codec.encode(config) == point.link


def test_canonical_form_is_stable_and_round_trips() -> None:
    messy = "axis.gain=0.50:4.0:lin:8&run=tanh,xavier&depth=30&bias=normal&axis.bias_std=0,0.5,1"
    sweep = parse_sweep(messy)
    text = format_sweep(sweep)
    assert text == "bias=normal&depth=30&run=tanh,xavier&axis.gain=0.5:4:lin:8&axis.bias_std=0,0.5,1"
    assert parse_sweep(text) == sweep
    assert format_sweep(parse_sweep("?" + text)) == text


def test_presets_and_percent_encoding_read_as_the_codec_reads_them() -> None:
    a = parse_sweep("preset=saito-tanh-xavier&axis.gain=0.5,1")
    b = parse_sweep("run=tanh%2Cxavier&axis.gain=0.5%2C1")
    assert a == b


def test_log_range_rounds_to_readable_values() -> None:
    axis = parse_sweep("run=relu,normal&axis.std=0.01:1:log:5").axes[0]
    assert axis.values == (0.01, 0.03162277660, 0.1, 0.316227766, 1.0)
    assert axis.text == "0.01:1:log:5"


def test_integer_field_range_rounds_and_drops_repeats() -> None:
    axis = parse_sweep("run=relu,he_normal&axis.depth=1:4:log:6").axes[0]
    assert axis.values == (1, 2, 3, 4)
    assert all(isinstance(v, int) for v in axis.values)


def test_choice_axis_and_one_run_axis() -> None:
    sweep = parse_sweep("run=relu,he_normal&run=tanh,xavier&axis.activation=relu,tanh&axis.depth.run2=3,6")
    links = [p.link for p, _ in expand(sweep, 100)]
    assert links[0] == "run=relu,he_normal&run=relu,xavier,depth:3"
    assert links[-1] == "run=tanh,he_normal&run=tanh,xavier,depth:6"
    assert sweep.axes[1].name == "depth.run2"


def test_every_run_axis_replaces_runs_own_values() -> None:
    sweep = parse_sweep("run=relu,normal,std:0.1&run=relu,normal,std:0.2&axis.std=0.5,1")
    links = [p.link for p, _ in expand(sweep, 100)]
    assert links == ["run=relu,normal,std:0.5&run=relu,normal,std:0.5", "run=relu,normal&run=relu,normal"]


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("run=relu,he_normal", "axis", "at least one axis"),
        ("run=relu,he_normal&axis.nope=1,2", "axis.nope", "not a field an axis can vary"),
        ("run=relu,he_normal&axis.label=a,b", "axis.label", "not a field an axis can vary"),
        ("run=relu,normal&axis.std=0:1:lin:1", "axis.std", f"2 to {MAX_AXIS_VALUES}"),
        ("run=relu,normal&axis.std=0:1:lin:1001", "axis.std", f"2 to {MAX_AXIS_VALUES}"),
        ("run=relu,normal&axis.std=0:1:cubic:4", "axis.std", "lin or log"),
        ("run=relu,normal&axis.std=0:1:log:4", "axis.std", "positive"),
        ("run=relu,normal&axis.std=1:1:lin:4", "axis.std", "must differ"),
        ("run=relu,normal&axis.std=0:1", "axis.std", "low:high:lin:n"),
        ("run=relu,normal&axis.std=0.1,x", "axis.std", "must be numbers"),
        ("run=relu,normal&axis.std=0.1,nan", "axis.std", "finite"),
        ("run=relu,normal&axis.std=0.1,0.1", "axis.std", "twice"),
        ("run=relu,normal&axis.std=1,200", "axis.std", "over the field's maximum of 100"),
        ("run=relu,normal&axis.depth=1.5,2", "axis.depth", "not an integer"),
        ("run=relu,normal&axis.activation=relu,nope", "axis.activation", "unknown activation"),
        ("run=relu,normal&axis.activation=0:1:lin:3", "axis.activation", "list of names"),
        ("run=relu,normal&axis.std.run2=1,2", "axis.std.run2", "has 1 run"),
        ("run=relu,normal&axis.std.x=1,2", "axis.std.x", "axis.<field>.run<k>"),
        ("run=relu,normal&axis.std=1,2&axis.std=1,3", "axis.std", "given twice"),
        ("run=relu,normal&nope=1&axis.std=1,2", "nope", "unknown setting"),
        ("&".join(["run=relu,normal"] + [f"axis.{f}=1,2" for f in ("std", "gain", "depth", "seed", "bins")]),
         "axis", f"over the limit of {MAX_AXES}"),
    ],
)  # fmt: skip
def test_bad_sweeps_name_the_key_and_the_limit(query: str, field: str, words: str) -> None:
    with pytest.raises(codec.CodecError) as caught:
        parse_sweep(query)
    assert caught.value.field == field
    assert words in caught.value.message


def test_a_value_the_runs_do_not_read_is_an_error_naming_the_axis() -> None:
    sweep = parse_sweep("run=relu,he_normal&axis.std=0.5,1")
    with pytest.raises(codec.CodecError) as caught:
        expand(sweep, 100)
    assert caught.value.field == "axis.std"
    assert "the runs do not read std" in caught.value.message


def test_an_invalid_point_names_its_values() -> None:
    sweep = parse_sweep("run=relu,normal&input=uniform&input_high=0.5&axis.input_low=0,1")
    with pytest.raises(codec.CodecError) as caught:
        expand(sweep, 100)
    assert "input_low=1" in caught.value.message and "input_high" in caught.value.message


def test_the_grid_size_is_refused_before_any_link_is_made() -> None:
    sweep = parse_sweep("run=relu,normal&axis.std=0.1:1:lin:1000&axis.seed=0:999:lin:1000")
    with pytest.raises(codec.CodecError, match="1,000,000 points, over the limit of 50"):
        expand(sweep, 50)


@given(
    low=st.floats(0.01, 50, allow_nan=False),
    high=st.floats(0.01, 50, allow_nan=False),
    n=st.integers(2, 20),
    scale=st.sampled_from(["lin", "log"]),
)
def test_ranges_round_trip(low: float, high: float, n: int, scale: str) -> None:
    if low == high:
        return
    sweep = parse_sweep(f"run=tanh,normal&axis.std={low!r}:{high!r}:{scale}:{n}")
    assert parse_sweep(sweep.query) == sweep
    assert sweep.axes[0].values[0] == low and sweep.axes[0].values[-1] == high


def test_a_sweep_preset_is_its_link_and_other_keys_replace_its_own() -> None:
    for preset in SWEEP_PRESETS.values():
        assert parse_sweep(f"preset={preset.name}") == parse_sweep(preset.query)
    # a base key, and an axis in its place (the grid's order stays the preset's)
    changed = parse_sweep("preset=tanh-phase&samples=200&axis.gain=1,2")
    assert changed.query == (
        "bias=normal&depth=30&samples=200&run=tanh,xavier&axis.gain=1,2&axis.bias_std=0:1:lin:11"
    )
    # run= replaces all the preset's runs; a new axis comes after the preset's
    assert parse_sweep("preset=init-scales-16&run=tanh,normal&axis.depth=3,4").query == (
        "run=tanh,normal&axis.std=0.0001:1:log:16&axis.depth=3,4"
    )
    trained = parse_sweep("preset=relu-init-lr&iterations=50")
    assert trained.kind == "train" and "iterations=50" in trained.query


def test_a_share_link_preset_stays_the_base_and_an_unknown_one_is_named() -> None:
    assert not set(SWEEP_PRESETS) & set(PRESETS)  # one name, one meaning
    assert parse_sweep("preset=saito-compare&axis.std=0.1,1").size == 2
    for query in ("preset=no-such", "preset=no-such&axis.std=0.1,1", "of=train&preset=no-such&axis.lr=0.1,1"):
        with pytest.raises(codec.CodecError) as err:
            parse_sweep(query)
        assert err.value.field == "preset" and "'no-such'" in str(err.value)
        assert "tanh-phase" in str(err.value)  # the sweep presets are listed
    with pytest.raises(codec.CodecError, match="given twice"):
        parse_sweep("preset=tanh-phase&preset=init-scales-16")
