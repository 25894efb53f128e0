"""ExperimentConfig -> ExperimentResult: the one entry point the web layer calls.

All runs advance one layer at a time together. That keeps only the current layer of each run in
memory, and it lets every layer's histograms share one range across the runs (so side-by-side
columns compare honestly) without storing the whole network. With `axes="run"` each run is
summarized as if it were alone instead, on its own ranges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TypeVar

import numpy as np

from .. import blas
from ..layers.activations import ACTIVATIONS
from ..measure.stats import Array, Extent, Parts, TensorStats, scan, summarize
from ..measure.units import unit_counts
from ..theory import run_theory
from .backward import LayerGradient, layer_gradients, upstream_gradient
from .block_experiment import run_block_experiment
from .config import ExperimentConfig, RunConfig
from .forward import Layer, forward, input_samples
from .labels import run_labels
from .memo import DRAWS, RUNS
from .result import ExperimentResult, LayerResult, RunResult, WeightGradient, by_axes, union_of
from .result import gradient_stats as _gradient_stats  # shared with the layer networks' pass

# The result types live in result.py (block_experiment.py builds them too); they are still
# imported from here.
__all__ = ["ExperimentResult", "LayerResult", "RunResult", "WeightGradient", "run_experiment"]


def _post_bounds(run: RunConfig, layer: Layer) -> tuple[float | None, float | None]:
    params = run.activation_params_at(layer.index)
    return ACTIVATIONS[layer.activation].bounds(params)


@dataclass
class RunWork:
    """What a run computes on its own, before the runs' shared ranges bin it: its inputs, layers,
    their extents and unit counts, its gradients and theirs (per layer, first layer first).

    Kept in memo.RUNS after an experiment with the backward pass (which holds every layer anyway),
    under the run's settings and position: a slider dragged over one run's settings repeats the
    other runs exactly, and only their binning on the (changed) shared ranges is redone. The
    arrays are the very ones the run made, so every statistic has the same bits."""

    x: Array | None  # None without the backward pass: the inputs are dropped after layer 1
    layers: list[Layer]
    pre: list[Extent | None]
    post: list[Extent | None]
    units: list[tuple[int, int | None] | None]
    grads: list[LayerGradient | None]
    grad_extents: list[Extent | None]
    # (layer, "pre" or "post") -> the last summary made of it, and what it was made on: a run
    # whose range did not move (an explicit one, or a bounded activation's) is not binned again
    summaries: dict[tuple[int, str], tuple[tuple[object, ...], TensorStats]] = field(default_factory=dict)
    # (layer, "pre", "post" or "grad") -> what its summaries share whatever the range (stats.Parts)
    parts: dict[tuple[int, str], Parts] = field(default_factory=dict)

    @classmethod
    def empty(cls, x: Array | None, depth: int) -> RunWork:
        return cls(x, [], [None] * depth, [None] * depth, [None] * depth, [None] * depth, [None] * depth)

    def parts_of(self, j: int, kind: str) -> Parts:
        return self.parts.setdefault((j, kind), Parts())

    def summary(
        self, j: int, kind: str, on: tuple[object, ...], make: Callable[[], TensorStats]
    ) -> TensorStats:
        """make(), or the summary of layer j's `kind` made before on the same `on`."""
        held = self.summaries.get((j, kind))
        if held is not None and held[0] == on:
            return held[1]
        made = make()
        self.summaries[(j, kind)] = (on, made)
        return made

    @property
    def nbytes(self) -> int:
        """Its arrays, its summaries' bins and edges, and a bound on its objects' own bytes (a
        deep run of one unit with many bins holds little else)."""
        arrays: list[np.ndarray] = [] if self.x is None else [self.x]
        arrays += [g.delta for g in self.grads if g is not None]
        for layer in self.layers:
            arrays += [layer.weights, layer.z, layer.a] + ([] if layer.bias is None else [layer.bias])
        for _, stats in self.summaries.values():
            arrays += [stats.counts, stats.edges]
        # z and f(z) share memory for a linear layer: counted once
        unique = {id(a.base if a.base is not None else a): a for a in arrays}.values()
        objects = len(arrays) + 4 * len(self.pre) + len(self.summaries) + len(self.parts)
        return sum(a.nbytes for a in unique) + OBJECT_BYTES * objects

    def nbytes_with_gradients(self) -> int:
        """nbytes once every layer's gradient is held too (one array of z's size each)."""
        missing = [layer.z for layer, g in zip(self.layers, self.grads, strict=True) if g is None]
        return self.nbytes + sum(z.nbytes for z in missing)


OBJECT_BYTES = 1024  # a bound on one kept object's own bytes (an Extent, a TensorStats, a Parts)


def _work_key(config: ExperimentConfig, i: int, dtype: type[np.floating]) -> tuple[object, ...]:
    """Everything a run's own work depends on: its settings, its position (its weights' and read-out's
    streams), the dtype and the loss."""
    return ("run", config.runs[i], i, np.dtype(dtype).str, config.loss)


def _summarize_layer(
    config: ExperimentConfig, j: int, works: list[RunWork], current: dict[int, Layer]
) -> dict[int, LayerResult]:
    """Layer j of the runs in `current`, with histogram ranges shared across them. Extents and
    unit counts a run's work already holds are read from it, the others recorded in it."""
    pre, post = {}, {}
    for i, layer in current.items():
        work = works[i]
        pre[i] = work.pre[j] = work.pre[j] or scan(layer.z)
        post[i] = work.post[j] = work.post[j] or scan(layer.a)
    bounds = {i: _post_bounds(config.runs[i], layer) for i, layer in current.items()}
    pre_range = config.pre_range or union_of(list(pre.values()))
    shared_post = union_of([post[i] for i in current if None in bounds[i]])
    results = {}
    for i, layer in current.items():
        run = config.runs[i]
        post_range = config.post_range or shared_post
        if config.post_range is None and None not in bounds[i]:
            post_range = (float(bounds[i][0] or 0.0), float(bounds[i][1] or 0.0))
        work = works[i]
        counted = work.units[j] = work.units[j] or unit_counts(layer.a, post[i])
        dead, distinct = counted
        # float.hex tells -0.0 from 0.0, whose edges differ in sign
        explicit_pre, explicit_post = bool(config.pre_range), bool(config.post_range)
        pre_on = (*(float(v).hex() for v in pre_range), run.bins, explicit_pre)
        post_on = (*(float(v).hex() for v in post_range), run.bins, bounds[i], explicit_post)
        results[i] = LayerResult(
            index=j + 1,
            units=layer.a.shape[1],
            activation=layer.activation,
            pre=work.summary(
                j,
                "pre",
                pre_on,
                partial(
                    summarize,
                    layer.z,
                    pre[i],
                    pre_range,
                    run.bins,
                    explicit_range=explicit_pre,
                    parts=work.parts_of(j, "pre"),
                ),
            ),
            post=work.summary(
                j,
                "post",
                post_on,
                partial(
                    summarize,
                    layer.a,
                    post[i],
                    post_range,
                    run.bins,
                    bounds[i],
                    explicit_post,
                    parts=work.parts_of(j, "post"),
                ),
            ),
            dead_units=dead,
            distinct_units=distinct,
        )
    return results


def run_experiment(config: ExperimentConfig, dtype: type[np.floating] = np.float32) -> ExperimentResult:
    if any(run.arch is not None for run in config.runs):  # norms or residual blocks: layer networks
        return run_block_experiment(config, dtype)
    blas.single_thread()  # the same bits on every machine
    # Layer j is summarized in a second thread while layer j + 1 is computed (and, going back,
    # layer j's gradients while layer j - 1's are): the products release the GIL, so a second
    # core does the statistics meanwhile. Each summary is a function of its arrays alone, and
    # every product runs as before: the same bits, sooner. Small layers are summarized in line:
    # their products are short, and the threads' hand-offs of the GIL would cost more CPU
    # (5-10% at the texts' size) than the overlap saves.
    with _summarizer(config) as pool:
        forward_pass = _forward(config, dtype, pool)
        layers = forward_pass.results
        if config.gradients:
            _add_gradients(config, forward_pass, pool)
            for i, work in enumerate(forward_pass.works):
                # every layer is kept anyway; a small run's gradients were kept too (a repeated
                # run's work was taken out of memo.RUNS for this request: it goes back)
                if all(g is not None for g in work.grads):
                    RUNS.put(_work_key(config, i, dtype), work)
    labels = run_labels(config.runs)
    return ExperimentResult(
        config=config,
        runs=tuple(
            RunResult(run, labels[i], tuple(layers[i]), run_theory(run) if config.theory else None)
            for i, run in enumerate(config.runs)
        ),
    )


PIPELINE_MACS = 1 << 25  # a layer's multiply-adds (~1 ms of product) from which a thread summarizes
DRAW_AHEAD = True  # that thread also draws each layer's weights while the layer before is computed


T = TypeVar("T")


class _InLine(Executor):
    """An executor that runs each task at once, in the caller's thread."""

    def submit(self, fn: Callable[..., T], /, *args: object, **kwargs: object) -> Future[T]:
        done: Future[T] = Future()
        done.set_result(fn(*args, **kwargs))
        return done


def _summarizer(config: ExperimentConfig) -> Executor:
    """A thread for the statistics when the experiment's largest product is long enough to hide
    them behind, else in line."""
    macs = max(
        run.samples * fan_in * width
        for run in config.runs
        for fan_in, width in zip((run.input_dim, *run.widths[:-1]), run.widths, strict=True)
    )
    if macs >= PIPELINE_MACS:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="summarize")
    return _InLine()


@dataclass
class _ForwardPass:
    results: list[list[LayerResult]]  # per run, per layer
    kept: list[list[Layer]]  # per run, every layer, for the backward pass (else empty)
    samples: list[Array | None]  # per run, its inputs, for the backward pass (else None)
    works: list[RunWork]  # per run, its own work (a repeated run's from memo.RUNS)
    repeated: set[int]  # the runs whose work memo.RUNS held


def _collect(pending: Future[dict[int, LayerResult]] | None, results: list[list[LayerResult]]) -> None:
    if pending is not None:
        for i, result in pending.result().items():
            results[i].append(result)


def _forward(config: ExperimentConfig, dtype: type[np.floating], pool: Executor) -> _ForwardPass:
    """Every run's forward pass in lock step, each layer summarized in `pool` while the next is
    computed."""
    inputs: dict[tuple[object, ...], np.ndarray] = {}
    streams: list[Iterator[Layer]] = []
    samples: list[Array | None] = []
    works: list[RunWork] = []
    repeated: set[int] = set()
    for position, run in enumerate(config.runs):
        held = RUNS.take(_work_key(config, position, dtype)) if config.gradients else None
        if isinstance(held, RunWork):  # this run exactly, in a request before
            works.append(held)
            repeated.add(position)
            samples.append(held.x)
            streams.append(iter(held.layers))
            continue
        key = (run.input, tuple(run.input_params().items()), run.input_dim, run.samples, run.seed)
        if key not in inputs:
            # a function of these settings alone: a request with the same seed reuses the draw
            inputs[key] = DRAWS.get(("inputs", *key, np.dtype(dtype).str), partial(input_samples, run, dtype))
        samples.append(inputs[key] if config.gradients else None)
        works.append(RunWork.empty(samples[-1], run.depth))
        # recycle: a layer's arrays are reused two layers on, once it has been summarized (below),
        # unless the backward pass needs every layer.
        # With a thread for the statistics, each layer's weights are drawn there too, meanwhile.
        draw_pool = None if isinstance(pool, _InLine) or not DRAW_AHEAD else pool
        streams.append(
            forward(
                run, inputs[key], position, dtype, recycle=not config.gradients, lag=1, draw_pool=draw_pool
            )
        )
    del inputs  # the streams hold the inputs until their first layer is computed, and no longer

    done = _ForwardPass([[] for _ in config.runs], [[] for _ in config.runs], samples, works, repeated)
    pending: Future[dict[int, LayerResult]] | None = None
    for j in range(max(run.depth for run in config.runs)):
        current = {i: next(streams[i]) for i, run in enumerate(config.runs) if j < run.depth}
        _collect(pending, done.results)  # layer j - 1's, summarized while layer j was computed
        pending = pool.submit(by_axes, config, current, partial(_summarize_layer, config, j, works))
        if config.gradients:
            for i, layer in current.items():
                done.kept[i].append(layer)
                if i not in repeated:
                    works[i].layers.append(layer)
        del current  # the summary holds this layer until it is done, and no longer
    _collect(pending, done.results)
    return done


def _add_gradients(config: ExperimentConfig, forward_pass: _ForwardPass, pool: Executor) -> None:
    """The backward pass of every run in lock step, last layer first, each layer's dL/dz
    summarized in `pool` while the layer below is computed; into forward_pass.results."""
    results, kept, works = forward_pass.results, forward_pass.kept, forward_pass.works
    steps: list[Iterator[LayerGradient]] = []
    for i, run in enumerate(config.runs):
        if i in forward_pass.repeated:
            steps.append(iter([g for g in works[i].grads[::-1] if g is not None]))
            continue
        x = forward_pass.samples[i]
        assert x is not None
        upstream = upstream_gradient(run, i, kept[i][-1].a, config.loss)
        steps.append(layer_gradients(run, kept[i], x, upstream))

    def stats_of(j: int, grads: dict[int, LayerGradient]) -> dict[int, TensorStats]:
        extents = {}
        for i, g in grads.items():
            extents[i] = works[i].grad_extents[j] = works[i].grad_extents[j] or scan(g.delta)
        return _gradient_stats(config, grads, extents, {i: works[i].parts_of(j, "grad") for i in grads})

    # A run too large for memo.RUNS (with its gradients) drops each gradient once summarized, as
    # before: holding them would raise its peak memory by a third, for nothing.
    keep = {i for i, work in enumerate(works) if work.nbytes_with_gradients() <= RUNS.max_entry_bytes}

    def summarize_gradients(j: int, here: dict[int, LayerGradient]) -> None:
        for i, g in here.items():
            if i in keep:
                works[i].grads[j] = g
        stats = by_axes(config, here, partial(stats_of, j))
        for i, s in stats.items():
            g = here[i]
            results[i][j] = replace(
                results[i][j],
                grad=s,
                weight_grad=WeightGradient(g.weight_norm, g.weight_std, g.grad_data_ratio),
            )

    pending: Future[None] | None = None
    for j in range(max(run.depth for run in config.runs) - 1, -1, -1):
        here = {i: next(steps[i]) for i, run in enumerate(config.runs) if j < run.depth}
        if pending is not None:
            pending.result()
        pending = pool.submit(summarize_gradients, j, here)
        del here
    if pending is not None:
        pending.result()
