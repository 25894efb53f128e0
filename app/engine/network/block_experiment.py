"""An experiment whose runs include layer networks (an Architecture): each row's statistics.

Runs advance one row of their table (rows.py) at a time together, as plain stacks advance one
layer at a time: each run with a cell in that row gives its next row, so the histograms of the
rows the table pairs share one range (a BatchNorm row's never a plain layer's beside it) and a
forward-only experiment holds one row of each run (a residual block also holds its input for the
skip). A plain run beside them is built
as a layer network too (its rows are its activations: z, f(z) and dL/dz, as the plain path gives).
With the backward pass every layer keeps what its backward needs, and every row's dL/d(pre) is
summarized once the pass is done.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np

from .. import blas
from ..layers.dense import Dense
from ..measure.stats import Array, summarize
from ..measure.stats import scan as scan_extent
from ..measure.units import unit_counts
from ..theory import RunTheory, run_theory
from .backward import scale_back, upstream_gradient
from .block_theory import block_theory
from .blocks import Network, Row, build, scaled_backward, stream, trace, without_parameter_gradients
from .config import ExperimentConfig, RunConfig
from .forward import input_samples
from .labels import run_labels
from .memo import DRAWS
from .result import (
    ExperimentResult,
    LayerResult,
    RunResult,
    WeightGradient,
    by_axes,
    gradient_stats,
    union_of,
)
from .rows import TableRow, experiment_rows, row_specs


def _summarize_rows(config: ExperimentConfig, current: dict[int, Row]) -> dict[int, LayerResult]:
    pre = {i: scan_extent(row.pre) for i, row in current.items()}
    post = {i: scan_extent(row.post) for i, row in current.items()}
    pre_range = config.pre_range or union_of(list(pre.values()))
    shared_post = union_of([post[i] for i, row in current.items() if None in row.bounds])
    out = {}
    for i, row in current.items():
        run = config.runs[i]
        bins = run.bins
        post_range = config.post_range or shared_post
        bounded = None not in row.bounds
        if config.post_range is None and bounded:
            post_range = (float(row.bounds[0] or 0.0), float(row.bounds[1] or 0.0))
        dead, distinct = unit_counts(row.post, post[i])
        out[i] = LayerResult(
            index=row.index + 1,
            units=row.post.shape[1],
            activation=row.spec.activation,
            pre=summarize(row.pre, pre[i], pre_range, bins, explicit_range=bool(config.pre_range)),
            post=summarize(
                row.post,
                post[i],
                post_range,
                bins,
                row.bounds,
                explicit_range=bool(config.post_range),
            ),
            dead_units=dead,
            distinct_units=distinct,
            # a plain run beside layer networks keeps the plain rows' shape: "layer j", no type
            layer_type=None if run.arch is None else row.spec.layer_type,
            name=None if run.arch is None else row.spec.name,
        )
    return out


def _weight_gradient(dense: Dense | None, exponents: dict[object, int]) -> WeightGradient | None:
    """dL/dW's norm and std (kept in units of 2**exponent: scaled back, as the plain stack's)."""
    if dense is None or "W" not in dense.grads:
        return None
    exponent = exponents.get(dense, 0)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        dw = dense.grads["W"].astype(np.float64)
        w_std = float(dense.weights.std(dtype=np.float64))
        std = scale_back(float(dw.std()), exponent)
        norm = scale_back(float(np.linalg.norm(dw)), exponent)
    return WeightGradient(norm, std, std / w_std if w_std > 0 else None)


def _theory(run: RunConfig) -> RunTheory:
    """A plain run's rows are its layers: the plain stack's theory (with its phase) describes them."""
    return run_theory(run) if run.arch is None else block_theory(run)


def run_block_experiment(config: ExperimentConfig, dtype: type[np.floating] = np.float32) -> ExperimentResult:
    blas.single_thread()
    keep = config.gradients
    nets: list[Network] = []
    streams = []
    for position, run in enumerate(config.runs):
        key = (run.input, tuple(run.input_params().items()), run.input_dim, run.samples, run.seed)
        x: Array = DRAWS.get(("inputs", *key, np.dtype(dtype).str), partial(input_samples, run, dtype))  # type: ignore[assignment]
        if keep:  # the backward pass needs every layer: build them all
            net = build(run, position, dtype, x)
            without_parameter_gradients(net)
            nets.append(net)
            streams.append(trace(net, x, keep))
        else:
            streams.append(stream(run, x, position, dtype))
        del x
    table = experiment_rows(config)
    specs = [row_specs(run) for run in config.runs]
    results: list[list[LayerResult]] = [[] for _ in config.runs]
    outputs: list[Array | None] = [None] * len(config.runs)
    for row in table:  # each run with a cell in the row advances one row of its own
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            current = {i: next(streams[i]) for i, cell in enumerate(row.cells) if cell is not None}
        for i, r in current.items():  # the table was made from these very rows' specs
            assert r.index == row.cells[i] and r.spec == specs[i][r.index], (row, r.spec)
        for i, summary in by_axes(config, current, partial(_summarize_rows, config)).items():
            results[i].append(summary)
        if keep:
            for i, r in current.items():
                outputs[i] = r.post
        del current
    if keep:
        _add_gradients(config, table, nets, outputs, results)
    labels = run_labels(config.runs)
    return ExperimentResult(
        config=config,
        runs=tuple(
            RunResult(run, labels[i], tuple(results[i]), _theory(run) if config.theory else None)
            for i, run in enumerate(config.runs)
        ),
        rows=table,
    )


def _add_gradients(
    config: ExperimentConfig,
    table: tuple[TableRow, ...],
    nets: list[Network],
    outputs: list[Array | None],
    results: list[list[LayerResult]],
) -> None:
    grads = []
    exponents = []
    feeds = [net.fed_rows() for net in nets]
    for i, net in enumerate(nets):
        out = outputs[i]
        assert out is not None
        upstream = upstream_gradient(net.run, i, out, config.loss)
        row_grads, layer_exponents, _, _ = scaled_backward(net, upstream)
        grads.append(row_grads)
        exponents.append(layer_exponents)
    for row in table:  # the rows the table pairs share a range, as their forward rows do
        here = {i: grads[i][j] for i, j in enumerate(row.cells) if j is not None and j in grads[i]}
        stats = by_axes(config, here, partial(gradient_stats, config))
        for i, s in stats.items():
            j = row.cells[i]
            assert j is not None
            weight_grad = _weight_gradient(feeds[i].get(j), exponents[i])
            results[i][j] = replace(results[i][j], grad=s, weight_grad=weight_grad)
