"""Configuration: validation names the field, normalization makes equal runs equal."""

from __future__ import annotations

import math
from itertools import permutations
from typing import Any

import pytest

from app.engine.layers.activations import ACTIVATIONS
from app.engine.layers.initializers import BIASES, INITIALIZERS
from app.engine.network.config import (
    FIELDS,
    LABEL_MAX,
    RUN_FIELDS,
    STRUCTURE,
    check_range,
    inherited_default,
    make_experiment,
    make_run,
)
from app.engine.network.inputs import INPUTS
from app.engine.params import ConfigError, ParamSpec, resolve_params

BASE = {"activation": "relu", "init": "xavier"}
REGISTRIES: dict[str, dict[str, Any]] = {
    "activation": ACTIVATIONS,
    "init": INITIALIZERS,
    "bias": BIASES,
    "input": INPUTS,
}


def _component_specs() -> list[Any]:
    """(field, component, spec) for every parameter of every registry entry."""
    return [
        pytest.param(field, name, spec, id=f"{field}={name}-{spec.name}")
        for field, registry in REGISTRIES.items()
        for name, entry in registry.items()
        for spec in entry.params
    ]


COMPONENT_SPECS = _component_specs()
NUMERIC_SPECS = [p for p in COMPONENT_SPECS if p.values[2].kind != "choice"]
COMPONENTS = [
    pytest.param(field, name, id=f"{field}={name}")
    for field, registry in REGISTRIES.items()
    for name in registry
]


def _run_with(field: str, name: str, **extra: object) -> dict[str, object]:
    fields: dict[str, object] = {**BASE, field: name, **extra}
    return fields


def _error(fields: dict[str, object]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        make_run(fields)
    return info.value


# ---------------------------------------------------------------- ParamSpec


def test_paramspec_check_coerces() -> None:
    spec = ParamSpec("x", 1.0, "doc", low=0.0, high=10.0)
    assert spec.check(3) == 3.0
    assert isinstance(spec.check(3), float)
    ints = ParamSpec("n", 2, "doc", kind="int", low=1, high=8)
    assert ints.check(3.0) == 3
    assert isinstance(ints.check(3.0), int)
    choice = ParamSpec("c", "a", "doc", kind="choice", choices=("a", "b"))
    assert choice.check("b") == "b"


@pytest.mark.parametrize("value", [True, False, "1", None, [1], math.nan, math.inf, -math.inf, 11.0, -0.5])
def test_paramspec_check_rejects(value: object) -> None:
    spec = ParamSpec("x", 1.0, "doc", low=0.0, high=10.0)
    with pytest.raises(ConfigError) as info:
        spec.check(value)
    assert info.value.field == "x"
    assert str(info.value).startswith("x: ")


def test_paramspec_int_rejects_fraction() -> None:
    with pytest.raises(ConfigError, match="integer"):
        ParamSpec("n", 2, "doc", kind="int", low=1, high=8).check(2.5)


def test_paramspec_range_text_and_describe() -> None:
    assert ParamSpec("x", 1.0, "d", low=0.0, high=10.0).range_text() == "between 0 and 10"
    assert ParamSpec("x", 1.0, "d", low=0.5).range_text() == "at least 0.5"
    assert ParamSpec("x", 1.0, "d", high=2.0).range_text() == "at most 2"
    assert ParamSpec("x", 1.0, "d").range_text() == "any finite number"
    with pytest.raises(ConfigError, match="between 0 and 10"):
        ParamSpec("x", 1.0, "d", low=0.0, high=10.0).check(20)
    described = ParamSpec("c", "a", "doc", kind="choice", choices=("a", "b")).describe()
    assert described == {"name": "c", "type": "choice", "default": "a", "doc": "doc", "choices": ["a", "b"]}


def test_resolve_params_defaults_and_checks() -> None:
    specs = (ParamSpec("a", 1.0, "d", low=0.0), ParamSpec("b", 2.0, "d", low=0.0))
    assert resolve_params(specs, {"a": 3, "b": None, "other": "ignored"}) == {"a": 3.0, "b": 2.0}
    with pytest.raises(ConfigError) as info:
        resolve_params(specs, {"b": -1})
    assert info.value.field == "b"


@pytest.mark.parametrize(("field", "name", "spec"), COMPONENT_SPECS)
def test_paramspec_default_within_own_bounds(field: str, name: str, spec: ParamSpec) -> None:
    assert spec.check(spec.default) == spec.default
    assert spec.doc


# ---------------------------------------------------------------- make_run: normalization


@pytest.mark.parametrize("missing", ["activation", "init"])
def test_make_run_required_fields(missing: str) -> None:
    fields: dict[str, object] = dict(BASE)
    del fields[missing]
    assert _error(fields).field == missing


@pytest.mark.parametrize(("field", "name"), COMPONENTS)
def test_make_run_fills_defaults(field: str, name: str) -> None:
    run = make_run(_run_with(field, name))
    entry = REGISTRIES[field][name]
    for spec in entry.params:
        assert run.param(spec.name) == spec.default
    assert getattr(run, field) == name


@pytest.mark.parametrize(("field", "name"), COMPONENTS)
def test_make_run_roundtrips_as_dict(field: str, name: str) -> None:
    run = make_run(_run_with(field, name, width=[7, 5, 3], seed=4, label="column"))
    again = make_run(run.as_dict())
    assert again == run
    assert again.as_dict() == run.as_dict()
    assert list(run.as_dict()) == [k for k in RUN_FIELDS if k in run.as_dict()]


def test_make_run_drops_irrelevant_params() -> None:
    run = make_run({**BASE, "alpha": 0.3, "std": 5.0, "pieces": 3, "bias_std": 2.0, "input_low": 0.0})
    names = {k for k, _ in run.params}
    assert names == {"gain", "input_mean", "input_std"}
    # ... so runs equal in effect are equal configs.
    assert run == make_run(BASE)


def test_make_run_irrelevant_param_is_dropped_within_the_fields_bounds() -> None:
    """A parameter the run's components do not read is dropped, if it is a value the field can
    take at all (alpha within every activation's widest bounds); one no component could take is
    an error, as the API's schema says."""
    assert make_run({**BASE, "alpha": 5.0}) == make_run(BASE)
    with pytest.raises(ConfigError, match="alpha: must be between 0 and 10"):
        make_run({**BASE, "alpha": 50.0})


def test_make_run_output_activation_equal_to_hidden_is_none() -> None:
    run = make_run({**BASE, "output_activation": "relu"})
    assert run.output_activation is None
    assert run == make_run(BASE)
    other = make_run({**BASE, "output_activation": "sigmoid"})
    assert other.output_activation == "sigmoid"
    assert [other.activation_at(j) for j in range(other.depth)] == ["relu"] * 4 + ["sigmoid"]


def test_make_run_output_activation_uses_its_defaults() -> None:
    # alpha and pieces describe the hidden activation; the output activation keeps its defaults.
    run = make_run({"activation": "tanh", "output_activation": "maxout", "init": "xavier", "pieces": 3})
    assert run.activation_params() == {}
    assert run.output_params() == {"pieces": 2}
    assert "pieces" not in run.as_dict()


def test_make_run_structural_defaults() -> None:
    run = make_run(BASE)
    for name, spec in STRUCTURE.items():
        if name in ("depth", "width"):
            continue
        assert getattr(run, name) == spec.default
    assert run.widths == (STRUCTURE["width"].default,) * int(STRUCTURE["depth"].default)
    assert run.bias == "none"
    assert run.input == "normal"
    assert run.label is None


def test_make_run_int_fields_accept_integral_floats() -> None:
    run = make_run({**BASE, "depth": 3.0, "width": 10.0, "samples": 50.0})
    assert run.widths == (10, 10, 10)
    assert isinstance(run.samples, int)


def test_make_run_width_list() -> None:
    run = make_run({**BASE, "width": [8, 4, 2]})
    assert run.widths == (8, 4, 2)
    assert run.depth == 3
    assert make_run({**BASE, "width": [8, 4], "depth": 2}).widths == (8, 4)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"width": [8, 4], "depth": 3}, "depth"),
        ({"width": []}, "width"),
        ({"width": [8, 0]}, "width"),
        ({"width": [8, True]}, "width"),
        ({"width": [8, 2.5]}, "width"),
        ({"width": "8"}, "width"),
        ({"width": {"a": 1}}, "width"),
    ],
)
def test_make_run_width_errors(fields: dict[str, object], field: str) -> None:
    assert _error({**BASE, **fields}).field == field


# ---------------------------------------------------------------- make_run: errors name the field


def test_make_run_unknown_field() -> None:
    err = _error({**BASE, "stdd": 1.0})
    assert err.field == "stdd"
    assert "unknown field" in err.message


@pytest.mark.parametrize("field", ["activation", "output_activation", "init", "bias", "input"])
@pytest.mark.parametrize("value", ["nope", 3, True])
def test_make_run_unknown_choice(field: str, value: object) -> None:
    err = _error({**BASE, field: value})
    assert err.field == field
    assert "one of" in err.message


def test_make_run_unknown_mode() -> None:
    assert _error({**BASE, "init": "he_normal", "mode": "fan_avg"}).field == "mode"


def _outside(spec: ParamSpec) -> list[float]:
    values = []
    if spec.low is not None:
        values.append(spec.low - 1.0 if spec.kind == "int" else spec.low - 1e-6 * max(1.0, abs(spec.low)))
    if spec.high is not None:
        values.append(spec.high + 1.0 if spec.kind == "int" else spec.high * (1 + 1e-6) + 1e-9)
    return values


@pytest.mark.parametrize(("field", "name", "spec"), NUMERIC_SPECS)
def test_make_run_component_param_out_of_range(field: str, name: str, spec: ParamSpec) -> None:
    for value in _outside(spec):
        err = _error(_run_with(field, name, **{spec.name: value}))
        assert err.field == spec.name
        assert spec.range_text() in err.message


@pytest.mark.parametrize(("field", "name", "spec"), NUMERIC_SPECS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, False, "1"])
def test_make_run_component_param_not_finite_number(
    field: str, name: str, spec: ParamSpec, value: object
) -> None:
    assert _error(_run_with(field, name, **{spec.name: value})).field == spec.name


@pytest.mark.parametrize("name", list(STRUCTURE))
@pytest.mark.parametrize("value", [math.nan, math.inf, True, "5", 2.5])
def test_make_run_structural_not_integer(name: str, value: object) -> None:
    assert _error({**BASE, name: value}).field == name


@pytest.mark.parametrize("name", list(STRUCTURE))
def test_make_run_structural_out_of_range(name: str) -> None:
    spec = STRUCTURE[name]
    assert spec.low is not None
    assert spec.high is not None
    for value in (spec.low - 1, spec.high + 1):
        err = _error({**BASE, name: value})
        assert err.field == name
        assert spec.range_text() in err.message


@pytest.mark.parametrize(("low", "high"), [(1.0, 1.0), (2.0, -1.0)])
def test_make_run_uniform_low_not_below_high(low: float, high: float) -> None:
    err = _error({**BASE, "input": "uniform", "input_low": low, "input_high": high})
    assert err.field == "input_high"


def test_make_run_uniform_bounds_checked_only_for_uniform() -> None:
    assert make_run({**BASE, "input_low": 2.0, "input_high": 1.0}).input == "normal"


def test_make_run_label_normalized() -> None:
    assert make_run({**BASE, "label": "  ReLU, He  "}).label == "ReLU, He"
    assert make_run({**BASE, "label": "   "}).label is None
    assert make_run({**BASE, "label": "x" * LABEL_MAX}).label == "x" * LABEL_MAX
    assert make_run({**BASE, "label": "σ → ReLU ✓"}).label == "σ → ReLU ✓"


@pytest.mark.parametrize(
    "label", ["x" * (LABEL_MAX + 1), "a\x00b", "line\nbreak", "tab\there", "del\x7f", "a\ud800b", 5, ["a"]]
)
def test_make_run_label_rejected(label: object) -> None:
    assert _error({**BASE, "label": label}).field == "label"


def _hidden_param_cases() -> list[Any]:
    """(hidden, output, name, value): a value out of the hidden activation's own bounds, for every
    pair whose output activation reads a parameter of the same name."""
    cases = []
    for hidden, output in permutations(ACTIVATIONS, 2):
        for h_spec in ACTIVATIONS[hidden].params:
            if any(o.name == h_spec.name for o in ACTIVATIONS[output].params):
                for value in _outside(h_spec):
                    cases.append(
                        pytest.param(hidden, output, h_spec.name, value, id=f"{hidden}-{output}-{value}")
                    )
    return cases


@pytest.mark.parametrize(("hidden", "output", "name", "value"), _hidden_param_cases())
def test_make_run_activation_param_checked_against_hidden_bounds(
    hidden: str, output: str, name: str, value: float
) -> None:
    with pytest.raises(ConfigError) as info:
        make_run({"activation": hidden, "output_activation": output, "init": "xavier", name: value})
    assert info.value.field == name


def test_make_run_hidden_activation_keeps_its_default() -> None:
    run = make_run({"activation": "leaky_relu", "output_activation": "elu", "init": "xavier"})
    assert run.activation_params() == {"alpha": 0.01}
    assert run.output_params() == {"alpha": 1.0}


# ---------------------------------------------------------------- make_experiment


def test_make_experiment_empty_runs() -> None:
    with pytest.raises(ConfigError) as info:
        make_experiment(BASE, [])
    assert info.value.field == "runs"


def test_make_experiment_run_overrides_shared() -> None:
    cfg = make_experiment(
        {**BASE, "depth": 3, "width": 20, "std": 0.5},
        [{}, {"activation": "tanh"}, {"init": "normal", "depth": 2}, {"init": "normal", "std": None}],
    )
    a, b, c, d = cfg.runs
    assert (a.activation, a.init, a.widths) == ("relu", "xavier", (20, 20, 20))
    assert (b.activation, b.init) == ("tanh", "xavier")
    assert (c.init, c.widths, c.param("std")) == ("normal", (20, 20), 0.5)
    assert d.param("std") == 0.5  # None in a run means "not set here": the shared value holds


def test_make_experiment_run_width_list_sets_depth() -> None:
    cfg = make_experiment({**BASE, "depth": 4, "width": 10}, [{"width": [5, 6]}, {}])
    assert cfg.runs[0].widths == (5, 6)
    assert cfg.runs[1].widths == (10,) * 4


@pytest.mark.parametrize(
    ("shared", "runs", "field"),
    [
        ({**BASE, "depth": 0}, [{}], "depth"),
        ({**BASE, "depth": 0}, [{}, {"depth": 3}], "depth"),
        (BASE, [{}, {"depth": 0}], "runs[1].depth"),
        ({**BASE, "depth": 2}, [{"depth": -1}], "runs[0].depth"),
        (BASE, [{"stdd": 1}], "runs[0].stdd"),
        ({**BASE, "stdd": 1}, [{}], "stdd"),
        ({"init": "xavier"}, [{"activation": "relu"}, {}], "runs[1].activation"),
        ({**BASE, "activation": "leaky_relu"}, [{}, {"alpha": 3.0}], "runs[1].alpha"),
        ({**BASE, "activation": "leaky_relu", "alpha": 3.0}, [{}], "alpha"),
        (BASE, [{"label": "x" * 100}], "runs[0].label"),
        (BASE, [{}, {}, {"seed": -1}], "runs[2].seed"),
        ({**BASE, "input": "uniform"}, [{"input_low": 2.0, "input_high": 1.0}], "runs[0].input_high"),
    ],
)
def test_make_experiment_error_names_field(
    shared: dict[str, object], runs: list[dict[str, object]], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        make_experiment(shared, runs)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_make_experiment_ranges() -> None:
    cfg = make_experiment(BASE, [{}], post_range=[0, 1], pre_range=(-2.5, 3))
    assert cfg.post_range == (0.0, 1.0)
    assert cfg.pre_range == (-2.5, 3.0)
    assert make_experiment(BASE, [{}]).post_range is None


@pytest.mark.parametrize(
    "value", [[1, 0], [1, 1], [0, math.nan], [-math.inf, 0], [1], [1, 2, 3], "01", 5, {"a": 1}]
)
def test_check_range_rejected(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        make_experiment(BASE, [{}], post_range=value)
    assert info.value.field == "range"
    with pytest.raises(ConfigError) as info:
        make_experiment(BASE, [{}], pre_range=value)
    assert info.value.field == "z_range"


@pytest.mark.parametrize("value", [["a", 1], [None, 1], [0, "x"], [True, 2], [False, 1]])
def test_check_range_rejects_non_numbers(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        check_range("range", value)
    assert info.value.field == "range"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([0, 5e-324], "0 to 5e-324 is too narrow for 30 bins"),
        ([-1e-310, 1e-310], "-1e-310 to 1e-310 is too narrow for 30 bins"),
        ([1e-50, 2e-50], "float32 values there are 1.4e-45 apart"),
        ([1, 1 + 1e-6], "at least 3.6e-06 wide"),
    ],
)
def test_make_experiment_range_narrower_than_float32_bins(value: list[float], words: str) -> None:
    """The engine bins float32 values: a range whose bins are narrower than float32's spacing
    there cannot be drawn (5e-324 is 0 in float32), so it is refused, naming the range's key."""
    for key, field in (("post_range", "range"), ("pre_range", "z_range")):
        with pytest.raises(ConfigError) as info:
            make_experiment(BASE, [{}], **{key: value})
        assert info.value.field == field
        assert words in info.value.message


def test_make_experiment_range_resolution_counts_the_most_bins() -> None:
    assert make_experiment(BASE, [{"bins": 1}], post_range=[0, 1e-43]).post_range == (0.0, 1e-43)
    with pytest.raises(ConfigError) as info:
        make_experiment(BASE, [{"bins": 1}, {"bins": 200}], post_range=[0, 1e-43])
    assert info.value.field == "range" and "200 bins" in info.value.message


@pytest.mark.parametrize("value", [(0.0, 1e-40), (-1e308, 1e308), (0.0, 3e38), (-1.0, 1.0)])
def test_make_experiment_range_float32_can_bin(value: tuple[float, float]) -> None:
    assert make_experiment(BASE, [{}], post_range=list(value), pre_range=list(value)).pre_range == value


# ---------------------------------------------------------------- FIELDS and defaults


def test_fields_cover_run_fields_in_order() -> None:
    assert list(FIELDS) == list(RUN_FIELDS)
    assert len(set(RUN_FIELDS)) == len(RUN_FIELDS)
    for name, doc in FIELDS.items():
        assert doc.name == name
        assert doc.doc


@pytest.mark.parametrize(("field", "name", "spec"), COMPONENT_SPECS)
def test_fields_include_every_component_param(field: str, name: str, spec: ParamSpec) -> None:
    """Every parameter a component reads is a run field, with bounds that admit the component's."""
    assert spec.name in RUN_FIELDS
    doc = FIELDS[spec.name]
    assert doc.kind == spec.kind
    if spec.kind == "choice":
        assert set(spec.choices) <= set(doc.choices)
    else:
        assert doc.low is None or (spec.low is not None and doc.low <= spec.low)
        assert doc.high is None or (spec.high is not None and doc.high >= spec.high)
    assert doc.run_scoped == (field in ("activation", "init"))


@pytest.mark.parametrize("field", list(REGISTRIES))
def test_fields_choices_match_registries(field: str) -> None:
    assert FIELDS[field].kind == "choice"
    assert FIELDS[field].choices == tuple(REGISTRIES[field])


def test_fields_union_of_shared_param_bounds() -> None:
    alpha = FIELDS["alpha"]
    specs = [s for a in ACTIVATIONS.values() for s in a.params if s.name == "alpha"]
    assert alpha.low == min(s.low for s in specs if s.low is not None)
    assert alpha.high == max(s.high for s in specs if s.high is not None)


def test_fields_structure() -> None:
    for name, spec in STRUCTURE.items():
        doc = FIELDS[name]
        assert (doc.low, doc.high) == (spec.low, spec.high)
        assert doc.kind == ("widths" if name == "width" else "int")
    assert FIELDS["label"].kind == "text"


@pytest.mark.parametrize(("field", "name", "spec"), COMPONENT_SPECS)
def test_inherited_default(field: str, name: str, spec: ParamSpec) -> None:
    run = make_run(_run_with(field, name))
    assert inherited_default(run, spec.name) == spec.default
    assert inherited_default(run, "depth") == STRUCTURE["depth"].default
    assert inherited_default(run, "bias") == "none"
    assert inherited_default(run, "no_such_field") is None


def test_make_run_unused_parameter_is_dropped_but_checked() -> None:
    # input_low means nothing to a normal input: dropped (the canonical link leaves it out), but
    # still held to the field's bounds, as the API's schema says (the fuzz test found 1e308 taken)
    run = make_run({"activation": "relu", "init": "he_normal", "input_low": -5.0, "alpha": 0.5})
    assert "input_low" not in dict(run.params) and "alpha" not in dict(run.params)
    for name, value in [("input_low", -1.7976931348623157e308), ("alpha", -1.0), ("mode", "sideways")]:
        with pytest.raises(ConfigError) as err:
            make_run({"activation": "relu", "init": "he_normal", name: value})
        assert err.value.field == name
