"""Experiment configuration: validated, normalized, frozen.

A run is one flat set of fields (the same names the API and share links use). `make_run` checks
every field and normalizes it: parameters a component does not read are dropped, the ones it reads
take their defaults, so two equal experiments have equal configs (and equal share links).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..layers.activations import ACTIVATIONS
from ..layers.initializers import BIASES, INITIALIZERS
from ..measure.stats import float32_gap
from ..params import ConfigError, ParamSpec, ParamValue, resolve_params
from .architecture import ARCH_FIELDS, BRANCH, BRANCH_SCALE, Architecture, check_fits, make_architecture
from .architecture import CHOICES as ARCH_CHOICES
from .architecture import DOCS as ARCH_DOCS
from .architecture import default_of as arch_default
from .inputs import INPUTS

# Structural fields. These ceilings only keep absurd values from allocating anything; the
# server's own, lower limits (cost.py, set by environment variables) are checked after this.
DEPTH = ParamSpec("depth", 5, "number of hidden layers", kind="int", low=1, high=10_000)
WIDTH = ParamSpec(
    "width", 100, "units per hidden layer (or a list, one per layer)", kind="int", low=1, high=10**6
)
INPUT_DIM = ParamSpec("input_dim", 100, "features per input sample", kind="int", low=1, high=10**6)
SAMPLES = ParamSpec("samples", 1000, "number of input samples", kind="int", low=1, high=10**7)
SEED = ParamSpec("seed", 0, "seeds inputs and weights", kind="int", low=0, high=2**32 - 1)
BINS = ParamSpec("bins", 30, "histogram bins", kind="int", low=1, high=10_000)
LABEL_MAX = 80

RUN_FIELDS = (
    "activation", "alpha", "pieces", "output_activation",
    "block", "branch", "norm", "norm_at", "branch_scale", "res_init",
    "init", "std", "limit", "value", "mode", "gain",
    "bias", "bias_value", "bias_std",
    "depth", "width", "input_dim", "samples",
    "input", "input_mean", "input_std", "input_low", "input_high", "input_fraction",
    "seed", "bins", "label",
)  # fmt: skip
"""Every field a run has, in the order configs and share links list them."""

STRUCTURE = {spec.name: spec for spec in (DEPTH, WIDTH, INPUT_DIM, SAMPLES, SEED, BINS)}
DEFAULT_NAMES = {"bias": "none", "input": "normal"}


@dataclass(frozen=True)
class RunConfig:
    """One column of an experiment: a network, its initialization and its inputs."""

    activation: str
    init: str
    widths: tuple[int, ...]
    input_dim: int
    samples: int
    input: str
    bias: str
    seed: int
    bins: int
    output_activation: str | None = None
    label: str | None = None
    params: tuple[tuple[str, ParamValue], ...] = ()
    """The resolved parameters of this run's components (alpha, std, gain, input_std, ...)."""
    arch: Architecture | None = None  # norms and residual blocks; None: the plain stack

    @property
    def depth(self) -> int:
        return len(self.widths)

    def param(self, name: str) -> ParamValue:
        return dict(self.params)[name]

    def activation_params(self) -> dict[str, ParamValue]:
        return _pick(self.params, ACTIVATIONS[self.activation].params)

    def output_params(self) -> dict[str, ParamValue]:
        """The last layer's activation parameters: the hidden ones, or the output activation's
        defaults (alpha and pieces describe the hidden activation only)."""
        if not self.output_activation:
            return self.activation_params()
        return {s.name: s.default for s in ACTIVATIONS[self.output_activation].params}

    def init_params(self) -> dict[str, ParamValue]:
        return _pick(self.params, INITIALIZERS[self.init].params)

    def bias_params(self) -> dict[str, ParamValue]:
        return _pick(self.params, BIASES[self.bias].params)

    def input_params(self) -> dict[str, ParamValue]:
        return _pick(self.params, INPUTS[self.input].params)

    def activation_at(self, layer: int) -> str:
        """The activation of hidden layer `layer` (0-based): the output one for the last layer."""
        last = layer == self.depth - 1
        return self.output_activation if last and self.output_activation else self.activation

    def activation_params_at(self, layer: int) -> dict[str, ParamValue]:
        """The parameters of `activation_at(layer)`."""
        return self.output_params() if layer == self.depth - 1 else self.activation_params()

    def as_dict(self) -> dict[str, object]:
        """The run as flat fields: exactly what `make_run` accepts and share links carry."""
        uniform = len(set(self.widths)) == 1
        out: dict[str, object] = {
            "activation": self.activation,
            "output_activation": self.output_activation,
            "init": self.init,
            "bias": self.bias,
            "depth": self.depth,
            "width": self.widths[0] if uniform else list(self.widths),
            "input_dim": self.input_dim,
            "samples": self.samples,
            "input": self.input,
            "seed": self.seed,
            "bins": self.bins,
            "label": self.label,
            **dict(self.params),
            **({} if self.arch is None else self.arch.fields()),
        }
        return {k: out[k] for k in RUN_FIELDS if out.get(k) is not None}


@dataclass(frozen=True)
class ExperimentConfig:
    """Runs side by side; histogram ranges are per experiment so that columns compare."""

    runs: tuple[RunConfig, ...]
    post_range: tuple[float, float] | None = None
    pre_range: tuple[float, float] | None = None
    gradients: bool = True  # also run the backward pass (about 3x the work; off for speed)
    loss: str = "normal"  # the backward signal: "normal" (N(0, 1) at the output) or "mse"
    theory: bool = True  # the mean-field prediction beside the measurement (about a millisecond)
    # "run": each run's histograms on its own ranges, as if it were alone (a narrow run fills its
    # bins instead of one bar of a wide shared range); explicit ranges and bounded activations' fixed
    # ranges still apply. "shared" (default) lets the columns of a row compare.
    axes: str = "shared"


def _pick(params: tuple[tuple[str, ParamValue], ...], specs: tuple[ParamSpec, ...]) -> dict[str, ParamValue]:
    given = dict(params)
    return {s.name: given[s.name] for s in specs}


def _choice(
    fields: Mapping[str, object], name: str, registry: Mapping[str, object], default: str | None
) -> str:
    value = fields.get(name)
    if value is None:
        if default is None:
            raise ConfigError(name, f"is required; one of {', '.join(registry)}")
        return default
    if not isinstance(value, str) or value not in registry:
        raise ConfigError(name, f"unknown {name} {value!r}; one of {', '.join(registry)}")
    return value


def _widths(fields: Mapping[str, object]) -> tuple[int, ...]:
    width = fields.get("width")
    depth = fields.get("depth")
    if isinstance(width, Sequence) and not isinstance(width, str):
        if not 1 <= len(width) <= int(DEPTH.high or 0):
            raise ConfigError("width", f"a list of widths needs 1 to {DEPTH.high} entries")
        widths = tuple(int(WIDTH.check(w)) for w in width)
        if depth is not None and DEPTH.check(depth) != len(widths):
            raise ConfigError("depth", f"is {depth} but width lists {len(widths)} layers")
        return widths
    n = int(DEPTH.check(DEPTH.default if depth is None else depth))
    w = int(WIDTH.check(WIDTH.default if width is None else width))
    return (w,) * n


def _label(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError("label", "must be a string")
    text = value.strip()
    if len(text) > LABEL_MAX:
        raise ConfigError("label", f"must be at most {LABEL_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ConfigError("label", "must not contain control characters")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):  # a JSON body's "\ud800": no character at all
        raise ConfigError("label", "must be text: it holds a lone surrogate, which is no character")
    return text or None


def make_run(fields: Mapping[str, object]) -> RunConfig:
    """Validate and normalize one run's flat fields (None or missing means the default)."""
    unknown = set(fields) - set(RUN_FIELDS)
    if unknown:
        raise ConfigError(sorted(unknown)[0], f"unknown field; fields are {', '.join(RUN_FIELDS)}")
    activation = _choice(fields, "activation", ACTIVATIONS, None)
    output = fields.get("output_activation")
    output_activation = None if output is None else _choice(fields, "output_activation", ACTIVATIONS, None)
    if output_activation == activation:
        output_activation = None
    init = _choice(fields, "init", INITIALIZERS, None)
    bias = _choice(fields, "bias", BIASES, DEFAULT_NAMES["bias"])
    input_name = _choice(fields, "input", INPUTS, DEFAULT_NAMES["input"])

    specs: dict[str, ParamSpec] = {}
    for component in (
        ACTIVATIONS[activation].params,
        INITIALIZERS[init].params,
        BIASES[bias].params,
        INPUTS[input_name].params,
    ):
        specs.update({s.name: s for s in component})
    resolved = resolve_params(tuple(specs.values()), dict(fields))
    # A value for a parameter this run does not use is dropped (its canonical link leaves it out),
    # but it must still be one the field can take, as the API's schema says.
    for name, value in fields.items():
        if value is not None and name not in specs and name in UNUSED_PARAM_CHECKS:
            UNUSED_PARAM_CHECKS[name].check(value)
    if input_name == "uniform" and float(resolved["input_low"]) >= float(resolved["input_high"]):
        raise ConfigError("input_high", "must be greater than input_low")

    arch = make_architecture(fields)
    act_params = {s.name: resolved[s.name] for s in ACTIVATIONS[activation].params}
    elementwise = ACTIVATIONS[activation].pieces(act_params) == 1
    widths = _widths(fields)
    check_fits(arch, widths, output_activation, elementwise, INITIALIZERS[init].data_dependent)

    def structural(name: str) -> int:
        value = fields.get(name)
        spec = STRUCTURE[name]
        return int(spec.check(spec.default if value is None else value))

    return RunConfig(
        activation=activation,
        init=init,
        widths=widths,
        input_dim=structural("input_dim"),
        samples=structural("samples"),
        input=input_name,
        bias=bias,
        seed=structural("seed"),
        bins=structural("bins"),
        output_activation=output_activation,
        label=_label(fields.get("label")),
        params=tuple((k, resolved[k]) for k in RUN_FIELDS if k in resolved),
        arch=arch,
    )


def check_range(name: str, value: object, bins: int = 1) -> tuple[float, float] | None:
    """An explicit histogram range [low, high] with low < high, both finite, and `bins` bins
    each at least as wide as float32's spacing there (the engine bins float32 values: narrower
    bins could never tell two of them apart)."""
    if value is None:
        return None
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ConfigError(name, "must be two numbers [low, high]")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
        raise ConfigError(name, "must be two numbers [low, high]")
    low, high = (float(v) for v in value)
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise ConfigError(name, "must be two finite numbers with low < high")
    gap = float32_gap(low, high)
    if (high - low) / bins < gap:  # high - low may overflow to inf: then it is wide enough
        bins_text = f"{bins} bins" if bins != 1 else "1 bin"
        raise ConfigError(
            name,
            f"{_number(low)} to {_number(high)} is too narrow for {bins_text}: float32 values there are "
            f"{gap:.2g} apart, so the range must be at least {bins * gap:.2g} wide",
        )
    return (low, high)


def _number(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def make_experiment(
    shared: Mapping[str, object],
    runs: Sequence[Mapping[str, object]],
    post_range: object = None,
    pre_range: object = None,
    gradients: object = True,
    loss: object = "normal",
    theory: object = True,
    axes: object = "shared",
) -> ExperimentConfig:
    """An experiment from shared fields and per-run overrides (a run's own value wins).

    Errors name the field as `runs[i].field` so a user can find it in a form or a link.
    """
    if not runs:
        raise ConfigError("runs", "an experiment needs at least one run")
    built = []
    for i, run in enumerate(runs):
        own = {k: v for k, v in run.items() if v is not None}
        merged = {**{k: v for k, v in shared.items() if v is not None}, **own}
        if isinstance(own.get("width"), Sequence) and "depth" not in own:
            merged.pop("depth", None)  # a run's own list of widths sets its depth
        try:
            built.append(make_run(merged))
        except ConfigError as err:
            where = err.field if err.field in shared and err.field not in run else f"runs[{i}].{err.field}"
            raise ConfigError(where, err.message) from None
    bins = max(run.bins for run in built)  # the finest bins a range is drawn with
    return ExperimentConfig(
        runs=tuple(built),
        post_range=check_range("range", post_range, bins),
        pre_range=check_range("z_range", pre_range, bins),
        gradients=_flag("grad", gradients),
        loss=_one_of("loss", loss, LOSSES),
        theory=_flag("theory", theory),
        axes=_one_of("axes", axes, AXES),
    )


LOSSES = ("normal", "mse")
AXES = ("shared", "run")  # histogram ranges: one per layer across the runs, or each run's own


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(name, "must be true or false (1 or 0 in a link)")
    return value


def _one_of(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}")
    return value


FieldKind = Literal["int", "float", "choice", "text", "widths"]


@dataclass(frozen=True)
class FieldDoc:
    """How one run field is typed and bounded, for parsers, schemas and the catalog.

    A parameter read by several components (alpha by leaky_relu and elu) gets the union of their
    bounds here; the component's own bounds are checked when the run is made.
    """

    name: str
    kind: FieldKind
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    run_scoped: bool = False  # describes a column's model, so share links put it in the run
    default: ParamValue | None = None  # None: required, or the component's own default


def _field_docs() -> dict[str, FieldDoc]:
    docs: dict[str, FieldDoc] = {}
    names = {
        "activation": (tuple(ACTIVATIONS), "hidden-layer activation", True),
        "output_activation": (
            tuple(ACTIVATIONS),
            "activation of the last layer (default: the hidden one)",
            True,
        ),
        "init": (tuple(INITIALIZERS), "weight initializer", True),
        "bias": (tuple(BIASES), "bias initialization (default none)", False),
        "input": (tuple(INPUTS), "input distribution (default normal)", False),
    }
    for name, (choices, doc, scoped) in names.items():
        docs[name] = FieldDoc(
            name, "choice", doc, choices=choices, run_scoped=scoped, default=DEFAULT_NAMES.get(name)
        )
    for spec in STRUCTURE.values():
        kind: FieldKind = "widths" if spec.name == "width" else "int"
        docs[spec.name] = FieldDoc(spec.name, kind, spec.doc, spec.low, spec.high, default=spec.default)
    for name in ARCH_FIELDS:
        number = {"branch": BRANCH, "branch_scale": BRANCH_SCALE}.get(name)
        docs[name] = FieldDoc(
            name,
            "choice" if number is None else number.kind,
            ARCH_DOCS[name],
            None if number is None else number.low,
            None if number is None else number.high,
            ARCH_CHOICES.get(name, ()),
            run_scoped=True,
            default=arch_default(name),
        )
    docs["label"] = FieldDoc(
        "label", "text", f"column title (at most {LABEL_MAX} characters)", run_scoped=True
    )
    owners: dict[str, list[tuple[ParamSpec, ...]]] = {
        "activation": [a.params for a in ACTIVATIONS.values()],
        "init": [i.params for i in INITIALIZERS.values()],
        "bias": [b.params for b in BIASES.values()],
        "input": [d.params for d in INPUTS.values()],
    }
    for owner, components in owners.items():
        for params in components:
            for spec in params:
                seen = docs.get(spec.name)
                low = spec.low if seen is None else _union_bound(seen.low, spec.low, min)
                high = spec.high if seen is None else _union_bound(seen.high, spec.high, max)
                doc = spec.doc if seen is None or seen.doc == spec.doc else f"{seen.doc}; {spec.doc}"
                scoped = owner in ("activation", "init")
                docs[spec.name] = FieldDoc(spec.name, spec.kind, doc, low, high, spec.choices, scoped)
    return {name: docs[name] for name in RUN_FIELDS}


def _union_bound(a: float | None, b: float | None, pick: Callable[[float, float], float]) -> float | None:
    return None if a is None or b is None else pick(a, b)


FIELDS: dict[str, FieldDoc] = _field_docs()

_COMPONENT_PARAMS = {
    spec.name
    for registry in (ACTIVATIONS, INITIALIZERS, BIASES, INPUTS)
    for component in registry.values()
    for spec in component.params
}
# Each component parameter's widest bounds (FIELDS'), for the values a run does not use.
UNUSED_PARAM_CHECKS = {
    name: ParamSpec(name, 0, doc.doc, doc.kind, doc.low, doc.high, doc.choices)
    for name, doc in FIELDS.items()
    if name in _COMPONENT_PARAMS and doc.kind in ("float", "int", "choice")
}


def inherited_default(run: RunConfig, name: str) -> object:
    """The value `name` takes in `run` when nobody sets it (the component's default)."""
    if name in STRUCTURE:
        return STRUCTURE[name].default
    if name in DEFAULT_NAMES:
        return DEFAULT_NAMES[name]
    if name in ARCH_FIELDS:
        return arch_default(name, "plain" if run.arch is None else run.arch.block)
    for specs in (
        ACTIVATIONS[run.activation].params,
        INITIALIZERS[run.init].params,
        BIASES[run.bias].params,
        INPUTS[run.input].params,
    ):
        for spec in specs:
            if spec.name == name:
                return spec.default
    return None
