"""Diagnostics of an experiment's networks: the correlation map and the Jacobian spectrum.

Each run's network is the very one its /simulate answer shows (the same weights from the same
seed and position, LSUV's rescaling included). Through it go pairs of inputs with chosen
correlations c0 (their pre-activations' correlation per layer, beside the mean-field C-map) and a
few of the run's own input samples, at which the input-output Jacobian is carried forward (its
mean squared singular value per layer, beside the mean-field prod chi_l, and the full spectrum at
up to SPECTRUM_LAYERS layers). The cost is known before any work (diagnostics_cost).

Layer networks (norms, residual blocks) are measured row by row, as their /simulate answer shows
them (block_diagnostics.py): each row's pair correlations and the Jacobian of its output, through
every layer type, beside the mean-field C-map and Jacobian of layer networks (block_theory.py:
none past a BatchNorm or a maxout); they have no fixed point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .. import blas
from ..correlation_theory import CorrelationTheory, FixedPoint, run_correlation_theory
from ..layers.activations import ACTIVATIONS
from ..layers.initializers import INITIALIZERS
from ..measure.correlation import pair_correlations, pair_inputs
from ..measure.jacobian import (
    EXACT_MAX,
    RANDOM_DIRECTIONS,
    Floats,
    Spectrum,
    carry,
    directions,
    mean_squared_singular_value,
    singular_values,
    spectrum_layers,
    summarize_spectrum,
)
from ..params import ConfigError
from ..theory import run_theory
from .block_diagnostics import walk
from .block_theory import block_correlation, block_jacobian, block_theory
from .blocks import RowSpec, build, dense_sizes, row_count
from .config import ExperimentConfig, RunConfig
from .cost import BudgetError, Cost, Limits, run_cost
from .forward import forward, input_samples
from .inputs import INPUTS
from .labels import run_labels

PAIR_STREAM = 3  # the pairs' random stream, beside inputs (0), weights (1) and gradients (2)
PROBE_STREAM = 4  # the randomized Jacobian's input directions
DEFAULT_C0 = (0.1, 0.5, 0.9, 0.99)
MAX_C0 = 8
DEFAULT_PAIRS = 8
MAX_PAIRS = 64
DEFAULT_JACOBIAN = 2
MAX_JACOBIAN = 8
MAX_SEEDS = 16
SPECTRUM_LAYERS = 8
SVD_FACTOR = 4  # LAPACK's singular values of an m x n matrix (m >= n): about 4 m n^2 flops


@dataclass(frozen=True)
class DiagnosticsOptions:
    c0: tuple[float, ...] = DEFAULT_C0  # starting correlations of the input pairs
    pairs: int = DEFAULT_PAIRS  # independent pairs per c0
    jacobian: int = DEFAULT_JACOBIAN  # sample inputs at which the Jacobian is taken (0: none)
    # Weight draws: seed, seed + 1, ... (the inputs, pairs and Jacobian samples stay the link's)
    seeds: int = 1


def make_options(
    c0: object = None, pairs: object = None, jacobian: object = None, seeds: object = None
) -> DiagnosticsOptions:
    """Validated options; errors name the field and its limits."""
    values = DEFAULT_C0 if c0 is None else c0
    if not isinstance(values, Sequence) or isinstance(values, str) or not 1 <= len(values) <= MAX_C0:
        raise ConfigError("c0", f"must be a list of 1 to {MAX_C0} correlations")
    starts = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not -1.0 <= float(v) <= 1.0:
            raise ConfigError("c0", f"each correlation must be a number from -1 to 1, got {v!r}")
        starts.append(float(v))
    return DiagnosticsOptions(
        tuple(starts),
        _count("pairs", DEFAULT_PAIRS if pairs is None else pairs, 1, MAX_PAIRS),
        _count("jacobian", DEFAULT_JACOBIAN if jacobian is None else jacobian, 0, MAX_JACOBIAN),
        _count("seeds", 1 if seeds is None else seeds, 1, MAX_SEEDS),
    )


def _count(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(name, f"must be a whole number from {low} to {high}, got {value!r}")
    return value


@dataclass(frozen=True)
class CorrelationLayer:
    index: int  # 1-based
    measured: tuple[float | None, ...]  # per c0: mean over the pairs (and the seeds) (None: NaN or inf)
    sd: tuple[float | None, ...]  # per c0: sd across the pairs (the mean over the seeds of it)
    predicted: tuple[float | None, ...]  # per c0: the mean-field prediction (None: none)
    low: tuple[float | None, ...] | None = None  # with seeds > 1, per c0: the lowest seed's mean
    high: tuple[float | None, ...] | None = None  # and the highest
    layer_type: str | None = None  # a layer network's row: its type and name (blocks.RowSpec)
    name: str | None = None


@dataclass(frozen=True)
class JacobianLayer:
    index: int
    mean_sq: float | None  # mean squared singular value of J (estimated, when randomized)
    predicted_mean_sq: float | None  # mean field: N_l prod chi_j / min(N0, N_l)
    spectrum: Spectrum | None  # at the spectrum layers only (pooled over the seeds)
    low: float | None = None  # with seeds > 1: the lowest seed's mean_sq
    high: float | None = None  # and the highest
    layer_type: str | None = None  # a layer network's row: its type and name
    name: str | None = None


@dataclass(frozen=True)
class JacobianResult:
    method: str  # "exact" or "random_subspace"
    directions: int  # input directions J is carried on (N0 when exact)
    samples: int
    layers: tuple[JacobianLayer, ...]


@dataclass(frozen=True)
class RunDiagnostics:
    config: RunConfig
    label: str
    theory: CorrelationTheory
    correlation: tuple[CorrelationLayer, ...]
    jacobian: JacobianResult | None


@dataclass(frozen=True)
class DiagnosticsResult:
    config: ExperimentConfig
    options: DiagnosticsOptions
    runs: tuple[RunDiagnostics, ...]


def _pieces(run: RunConfig, j: int) -> int:
    return ACTIVATIONS[run.activation_at(j)].pieces(run.activation_params_at(j))


def _jacobian_directions(run: RunConfig) -> int:
    exact = max(run.input_dim, *run.widths) <= EXACT_MAX or run.input_dim <= RANDOM_DIRECTIONS
    return run.input_dim if exact else RANDOM_DIRECTIONS


def diagnostics_cost(config: ExperimentConfig, options: DiagnosticsOptions) -> Cost:
    """Upper bounds of the work and memory, before any: the forward pass of the pairs and samples
    (of every input sample too for LSUV, which scales the weights on them), the Jacobian's carry
    and its SVDs."""
    macs = memory = values = 0
    for run in config.runs:
        if run.arch is not None:
            layer_cost = _layer_network_cost(run, options)
            macs += layer_cost.macs
            memory += layer_cost.memory_bytes
            values += layer_cost.response_values
            continue
        start = macs
        rows = 2 * len(options.c0) * options.pairs + options.jacobian
        fans = (run.input_dim, *run.widths[:-1])
        outs = [w * _pieces(run, j) for j, w in enumerate(run.widths)]
        layer_macs = sum(f * o for f, o in zip(fans, outs, strict=True))
        macs += rows * layer_macs
        base = run_cost(run) if INITIALIZERS[run.init].data_dependent else Cost(0, 0, 0)
        macs += base.macs  # the forward pass /simulate makes, LSUV's passes included
        memory += base.memory_bytes + 4 * rows * (run.input_dim + 8 * max(outs))
        k = _jacobian_directions(run)
        s = options.jacobian
        if s:
            macs += s * k * layer_macs + (run.input_dim * RANDOM_DIRECTIONS**2 if k < run.input_dim else 0)
            shown = spectrum_layers(run.depth, SPECTRUM_LAYERS)
            macs += sum(
                SVD_FACTOR * s * max(run.widths[j - 1], k) * min(run.widths[j - 1], k) ** 2 for j in shown
            )
            # J of two layers, the product's and the slope's temporaries, the SVD's copy and
            # workspace (measured: a width-1500 randomized carry peaked at 70 MB against the 58 MB
            # of three J's), one layer's W^T in float64 beside its float32 W
            memory += 8 * (6 * s * max(outs) * k + 2 * max(f * o for f, o in zip(fans, outs, strict=True)))
        macs += (macs - start) * (options.seeds - 1)  # every weight draw does the same work again
        values += run.depth * (6 * len(options.c0) + 6) + len(spectrum_layers(run.depth, SPECTRUM_LAYERS)) * (
            2 * run.bins + 10
        )
    return Cost(macs, memory, values)


def _layer_network_cost(run: RunConfig, options: DiagnosticsOptions) -> Cost:
    """A layer network's: its own batch's forward pass (for BatchNorm's statistics, LSUV's
    scaling), the pairs' and samples' pass, the Jacobian carried through every row and its SVDs."""
    rows = 2 * len(options.c0) * options.pairs + options.jacobian
    sizes = dense_sizes(run)
    layer_macs = sum(f * o for f, o in sizes)
    widest = max(o for _, o in sizes)
    count = row_count(run)
    base = run_cost(run)  # the /simulate forward pass, LSUV's passes included
    macs = base.macs + rows * layer_macs
    memory = base.memory_bytes + 4 * rows * (run.input_dim + 8 * widest)
    k = _jacobian_directions(run)
    s = options.jacobian
    if s:
        # W^T J per dense layer; each row's elementwise or norm step over J (a few passes)
        macs += s * k * (layer_macs + 4 * count * widest)
        macs += run.input_dim * RANDOM_DIRECTIONS**2 if k < run.input_dim else 0
        shown = spectrum_layers(count, SPECTRUM_LAYERS)
        macs += len(shown) * SVD_FACTOR * s * max(widest, k) * min(widest, k) ** 2
        # J of the skip and of the branch, a norm's or a product's temporaries and the SVD's
        # workspace (measured peaks: up to ~7 of J's size), one layer's W^T in float64
        memory += 8 * (8 * s * widest * k + max(f * o for f, o in sizes))
    macs *= options.seeds  # every weight draw does the same work again
    values = count * (6 * len(options.c0) + 6) + len(spectrum_layers(count, SPECTRUM_LAYERS)) * (
        2 * run.bins + 10
    )
    return Cost(macs, memory, values)


def check_measurable(config: ExperimentConfig) -> None:
    """Raise ConfigError for a run the diagnostics cannot measure: a single input feature (no
    pair of inputs has a chosen correlation)."""
    for i, run in enumerate(config.runs):
        if run.input_dim < 2:
            raise ConfigError(
                f"runs[{i}].input_dim", "must be at least 2 for pairs of inputs with a chosen correlation"
            )


def check_diagnostics_limits(config: ExperimentConfig, options: DiagnosticsOptions, limits: Limits) -> Cost:
    """Raise ConfigError for a run the diagnostics cannot measure, BudgetError naming the first
    limit they are over; return their cost."""
    check_measurable(config)
    cost = diagnostics_cost(config, options)
    for value, limit, name, what in (
        (cost.macs, limits.max_macs, "max_macs", "multiply-adds"),
        (cost.memory_bytes, limits.max_memory_bytes, "max_memory_bytes", "bytes of memory"),
    ):
        if value > limit:
            raise BudgetError(
                "runs",
                f"the diagnostics need {value:,} {what}, over the budget of {limit:,}; use fewer layers, "
                "units, pairs or Jacobian samples",
                name,
            )
    return cost


def run_diagnostics(config: ExperimentConfig, options: DiagnosticsOptions) -> DiagnosticsResult:
    check_measurable(config)
    blas.single_thread()  # the same bits on every machine, as run_experiment
    labels = run_labels(config.runs)
    return DiagnosticsResult(
        config,
        options,
        tuple(_run(run, i, labels[i], options) for i, run in enumerate(config.runs)),
    )


@dataclass(frozen=True)
class _Draw:
    """One weight draw's raw measurements, per layer."""

    measured: list[list[float | None]]
    sd: list[list[float | None]]
    mean_sq: list[float | None]
    values: dict[int, Floats | None]  # 1-based spectrum layer -> singular values (None: NaN or inf)
    rows: list[RowSpec] = field(default_factory=list)  # a layer network's rows


def _draw(run: RunConfig, position: int, options: DiagnosticsOptions, weight_seed: int) -> _Draw:
    """The run's network drawn from `weight_seed` (its inputs, pairs and samples from run.seed)."""
    if run.arch is not None:
        return _draw_layers(run, position, options, weight_seed)
    groups, pairs = len(options.c0), options.pairs
    q_in = INPUTS[run.input].second_moment(run.input_params())
    pair_rng = np.random.default_rng([run.seed, PAIR_STREAM, position])
    pairs_x = pair_inputs(options.c0, pairs, run.input_dim, q_in, pair_rng)
    samples = min(options.jacobian, run.samples)
    inputs = input_samples(run)
    extra = np.concatenate([inputs[:samples], pairs_x]) if samples else pairs_x
    own = INITIALIZERS[run.init].data_dependent  # LSUV: the network is scaled on the run's own inputs
    probes = directions(
        run.input_dim, max(run.widths), np.random.default_rng([run.seed, PROBE_STREAM, position])
    )
    shown = set(spectrum_layers(run.depth, SPECTRUM_LAYERS))
    out = _Draw([], [], [], {})
    jac = None
    a = extra
    network = run if weight_seed == run.seed else replace(run, seed=weight_seed)
    for layer in forward(network, inputs if own else extra, position):
        j = layer.index
        params = run.activation_params_at(j)
        activation = ACTIVATIONS[layer.activation]
        if own:
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                z = a @ layer.weights
                if layer.bias is not None:
                    z += layer.bias
                pre = z.reshape(z.shape[0], layer.pieces, -1) if layer.pieces > 1 else z
                a = activation.f(pre, params).astype(np.float32, copy=False)
        else:
            z = layer.z
        measured, sd = pair_correlations(z[samples:], groups, pairs)
        out.measured.append(measured)
        out.sd.append(sd)
        if samples:
            jac = carry(jac, probes, layer.weights, z[:samples], activation, params, layer.pieces)
            mean_sq = mean_squared_singular_value(jac, run.input_dim)
            out.mean_sq.append(mean_sq if math.isfinite(mean_sq) else None)
            if j + 1 in shown:
                out.values[j + 1] = singular_values(jac)
    return out


def _draw_layers(run: RunConfig, position: int, options: DiagnosticsOptions, weight_seed: int) -> _Draw:
    """A layer network's draw, row by row (block_diagnostics.walk): the same inputs, pairs,
    samples and probes as a plain stack's; the network /simulate builds (LSUV scaled on the run's
    inputs, BatchNorm on their statistics)."""
    groups, pairs = len(options.c0), options.pairs
    q_in = INPUTS[run.input].second_moment(run.input_params())
    pair_rng = np.random.default_rng([run.seed, PAIR_STREAM, position])
    pairs_x = pair_inputs(options.c0, pairs, run.input_dim, q_in, pair_rng)
    samples = min(options.jacobian, run.samples)
    inputs = input_samples(run)
    extra = np.concatenate([inputs[:samples], pairs_x]) if samples else pairs_x
    probes = directions(
        run.input_dim, max(run.widths), np.random.default_rng([run.seed, PROBE_STREAM, position])
    )
    network = run if weight_seed == run.seed else replace(run, seed=weight_seed)
    lsuv = INITIALIZERS[run.init].data_dependent
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        net = build(network, position, np.float32, inputs if lsuv else None)
    own = inputs if run.arch is not None and run.arch.norm == "batch" else None
    shown = set(spectrum_layers(len(net.specs), SPECTRUM_LAYERS))
    out = _Draw([], [], [], {})
    for row in walk(net, own, extra, probes, samples):
        measured, sd = pair_correlations(row.measured[samples:], groups, pairs)
        out.measured.append(measured)
        out.sd.append(sd)
        out.rows.append(row.spec)
        if samples and row.jac is not None:
            mean_sq = mean_squared_singular_value(row.jac, run.input_dim)
            out.mean_sq.append(mean_sq if math.isfinite(mean_sq) else None)
            if row.index + 1 in shown:
                out.values[row.index + 1] = singular_values(row.jac)
    return out


LAYER_NETWORK_NOTE = (
    "the C-map and the Jacobian's growth through norms and residual skips (Yang and Schoenholz "
    "2017), none past a BatchNorm or a maxout; no fixed point"
)


def _layer_network_theory(run: RunConfig, c0: tuple[float, ...]) -> CorrelationTheory:
    rows = block_theory(run).layers
    none = FixedPoint(None, None, None, None, None, None)
    return CorrelationTheory(
        c0, tuple(block_correlation(run, c0)), tuple(r.q for r in rows), none, LAYER_NETWORK_NOTE
    )


def _mean(values: Sequence[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean([v for v in values if v is not None]))


def _extreme(values: Sequence[float | None], pick: str) -> float | None:
    if any(v is None for v in values):
        return None
    return float(
        min(v for v in values if v is not None) if pick == "min" else max(v for v in values if v is not None)
    )


def _run(run: RunConfig, position: int, label: str, options: DiagnosticsOptions) -> RunDiagnostics:
    draws = [_draw(run, position, options, (run.seed + k) % 2**32) for k in range(options.seeds)]
    ensemble = options.seeds > 1
    plain = run.arch is None
    theory = run_correlation_theory(run, options.c0) if plain else _layer_network_theory(run, options.c0)
    depth = run.depth if plain else len(draws[0].rows)
    specs: list[RowSpec | None] = [None] * depth if plain else list(draws[0].rows)
    correlation: list[CorrelationLayer] = []
    for j in range(depth):
        per_c0 = range(len(options.c0))
        means = [[d.measured[j][i] for d in draws] for i in per_c0]
        correlation.append(
            CorrelationLayer(
                j + 1,
                tuple(_mean(m) for m in means),
                tuple(_mean([d.sd[j][i] for d in draws]) for i in per_c0),
                theory.predicted[j],
                tuple(_extreme(m, "min") for m in means) if ensemble else None,
                tuple(_extreme(m, "max") for m in means) if ensemble else None,
                *_named(specs[j]),
            )
        )
    samples = min(options.jacobian, run.samples)
    if not samples:
        return RunDiagnostics(run, label, theory, tuple(correlation), None)
    if not plain:
        return RunDiagnostics(
            run, label, theory, tuple(correlation), _layer_jacobian(run, draws, specs, samples)
        )
    chis = [layer.chi for layer in run_theory(run).layers]
    k = _jacobian_directions(run)  # the same input directions for every draw
    jac_layers: list[JacobianLayer] = []
    growth = 1.0  # prod chi_j (N_j / N_{j-1}) so far
    for j in range(run.depth):
        fan_in = run.input_dim if j == 0 else run.widths[j - 1]
        with np.errstate(over="ignore", invalid="ignore"):
            growth *= chis[j] * run.widths[j] / fan_in
        predicted = growth * run.input_dim / min(run.input_dim, run.widths[j])
        squares = [d.mean_sq[j] for d in draws]
        spectrum = None
        if j + 1 in draws[0].values:
            pooled = [d.values[j + 1] for d in draws]
            if all(v is not None for v in pooled):
                values = np.concatenate([v for v in pooled if v is not None])
                spectrum = summarize_spectrum(values, max(run.widths[j], k), run.bins)
        jac_layers.append(
            JacobianLayer(
                j + 1,
                _mean(squares),
                predicted if math.isfinite(predicted) else None,
                spectrum,
                _extreme(squares, "min") if ensemble else None,
                _extreme(squares, "max") if ensemble else None,
            )
        )
    method = "exact" if k == run.input_dim else "random_subspace"
    return RunDiagnostics(
        run, label, theory, tuple(correlation), JacobianResult(method, k, samples, tuple(jac_layers))
    )


def _named(spec: RowSpec | None) -> tuple[str | None, str | None]:
    return (None, None) if spec is None else (spec.layer_type, spec.name)


def _layer_jacobian(
    run: RunConfig, draws: list[_Draw], specs: list[RowSpec | None], samples: int
) -> JacobianResult:
    """A layer network's Jacobian rows: measured, no prediction."""
    ensemble = len(draws) > 1
    k = _jacobian_directions(run)
    predicted = block_jacobian(run)
    rows: list[JacobianLayer] = []
    for j, spec in enumerate(specs):
        assert spec is not None
        squares = [d.mean_sq[j] for d in draws]
        spectrum = None
        if j + 1 in draws[0].values:
            pooled = [d.values[j + 1] for d in draws]
            if all(v is not None for v in pooled):
                values = np.concatenate([v for v in pooled if v is not None])
                spectrum = summarize_spectrum(values, max(spec.units, k), run.bins)
        rows.append(
            JacobianLayer(
                j + 1,
                _mean(squares),
                predicted[j],
                spectrum,
                _extreme(squares, "min") if ensemble else None,
                _extreme(squares, "max") if ensemble else None,
                spec.layer_type,
                spec.name,
            )
        )
    method = "exact" if k == run.input_dim else "random_subspace"
    return JacobianResult(method, k, samples, tuple(rows))
