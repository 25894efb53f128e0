"""ExperimentConfig -> ExperimentResult: the one entry point the web layer calls.

All runs advance one layer at a time together. That keeps only the current layer of each run in
memory, and it lets every layer's histograms share one range across the runs (so side-by-side
columns compare honestly) without storing the whole network. With `axes="run"` each run is
summarized as if it were alone instead, on its own ranges.

Within a row the runs are independent until their histograms share a range: each run's next
layer (or gradient) and its extents are one task, each run's summaries on the row's ranges
others. An engine alone on the machine's cores spreads these tasks over two threads (the
products, NumPy's loops and the compiled kernels release the GIL); every task computes what it
computed in line, so the bits are the same (_Lanes).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextvars import ContextVar
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
from .result import (
    ExperimentResult,
    LayerResult,
    RunResult,
    WeightGradient,
    by_axes,
    gradient_plans,
    union_of,
)

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
        for _, stats in list(self.summaries.values()):  # a snapshot: summaries may be added meanwhile
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


@dataclass(frozen=True)
class _LayerPlan:
    """Layer j of one run, to summarize on the ranges its row shares: its pre and post summaries
    (post with the unit counts), each a function of the run's own arrays."""

    index: int
    units: int
    activation: str
    pre: Callable[[], TensorStats]
    post: Callable[[], tuple[TensorStats, tuple[int, int | None]]]

    def result(self, pre: TensorStats, post: tuple[TensorStats, tuple[int, int | None]]) -> LayerResult:
        stats, (dead, distinct) = post
        return LayerResult(self.index, self.units, self.activation, pre, stats, dead, distinct)

    def summarized(self) -> LayerResult:
        """Both summaries, one after the other, in the caller's thread."""
        return self.result(self.pre(), self.post())


def _own_grad_extent(works: list[RunWork], j: int, i: int, g: LayerGradient) -> None:
    """Run i's layer j dL/dz extent, recorded in its work (unless it holds it)."""
    work = works[i]
    work.grad_extents[j] = work.grad_extents[j] or scan(g.delta)


def _own_extents(works: list[RunWork], j: int, i: int, layer: Layer) -> None:
    """Run i's layer j extents, recorded in its work (unless it holds them): what its row's
    shared ranges are made of."""
    work = works[i]
    work.pre[j] = work.pre[j] or scan(layer.z)
    work.post[j] = work.post[j] or scan(layer.a)


def _post_and_units(
    work: RunWork, j: int, layer: Layer, on: tuple[object, ...], make: Callable[[], TensorStats]
) -> tuple[TensorStats, tuple[int, int | None]]:
    post = work.post[j]
    assert post is not None
    counted = work.units[j] = work.units[j] or unit_counts(layer.a, post)
    return work.summary(j, "post", on, make), counted


def _plan_layer(
    config: ExperimentConfig, j: int, works: list[RunWork], current: dict[int, Layer]
) -> dict[int, _LayerPlan]:
    """Layer j of the runs in `current`, with histogram ranges shared across them (their extents
    are in their works). Summaries a run's work holds on the same ranges are read from it."""
    pre: dict[int, Extent] = {}
    post: dict[int, Extent] = {}
    for i in current:
        pre_extent, post_extent = works[i].pre[j], works[i].post[j]
        assert pre_extent is not None and post_extent is not None
        pre[i], post[i] = pre_extent, post_extent
    bounds = {i: _post_bounds(config.runs[i], layer) for i, layer in current.items()}
    pre_range = config.pre_range or union_of(list(pre.values()))
    shared_post = union_of([post[i] for i in current if None in bounds[i]])
    plans = {}
    for i, layer in current.items():
        run = config.runs[i]
        post_range = config.post_range or shared_post
        if config.post_range is None and None not in bounds[i]:
            post_range = (float(bounds[i][0] or 0.0), float(bounds[i][1] or 0.0))
        work = works[i]
        # float.hex tells -0.0 from 0.0, whose edges differ in sign
        explicit_pre, explicit_post = bool(config.pre_range), bool(config.post_range)
        pre_on = (*(float(v).hex() for v in pre_range), run.bins, explicit_pre)
        post_on = (*(float(v).hex() for v in post_range), run.bins, bounds[i], explicit_post)
        make_pre = partial(
            summarize,
            layer.z,
            pre[i],
            pre_range,
            run.bins,
            explicit_range=explicit_pre,
            parts=work.parts_of(j, "pre"),
        )
        make_post = partial(
            summarize,
            layer.a,
            post[i],
            post_range,
            run.bins,
            bounds[i],
            explicit_post,
            parts=work.parts_of(j, "post"),
        )
        plans[i] = _LayerPlan(
            index=j + 1,
            units=layer.a.shape[1],
            activation=layer.activation,
            pre=partial(work.summary, j, "pre", pre_on, make_pre),
            post=partial(_post_and_units, work, j, layer, post_on, make_post),
        )
    return plans


def run_experiment(
    config: ExperimentConfig, dtype: type[np.floating] = np.float32, threads: int | None = None
) -> ExperimentResult:
    """The experiment's result. `threads` (default: spreading(), 1 unless an engine says
    otherwise): with 2 or more, the runs' own steps and the rows' summaries are spread over that
    many threads (see _Lanes); every product and summary is the same, so are the bits."""
    if any(run.arch is not None for run in config.runs):  # norms or residual blocks: layer networks
        return run_block_experiment(config, dtype)
    blas.single_thread()  # the same bits on every machine
    with _lanes(config, threads_asked() if threads is None else threads) as lanes:
        theories = {
            i: lanes.stats.submit(run_theory, run) for i, run in enumerate(config.runs) if config.theory
        }
        forward_pass = _forward(config, dtype, lanes)
        layers = forward_pass.results
        if not config.gradients:
            forward_pass.collect()
        else:
            _add_gradients(config, forward_pass, lanes)  # and collects the forward pass's summaries
            for i, work in enumerate(forward_pass.works):
                # every layer is kept anyway; a small run's gradients were kept too (a repeated
                # run's work was taken out of memo.RUNS for this request: it goes back)
                if all(g is not None for g in work.grads):
                    RUNS.put(_work_key(config, i, dtype), work)
        theory = {i: lanes.wait(done) for i, done in theories.items()}
    labels = run_labels(config.runs)
    return ExperimentResult(
        config=config,
        runs=tuple(
            RunResult(run, labels[i], tuple(layers[i]), theory.get(i)) for i, run in enumerate(config.runs)
        ),
    )


PIPELINE_MACS = 1 << 25  # a layer's multiply-adds (~1 ms of product) from which a thread summarizes
DRAW_AHEAD = True  # that thread also draws each layer's weights while the layer before is computed

_THREADS: ContextVar[int] = ContextVar("threads", default=1)


@contextlib.contextmanager
def spreading(threads: int) -> Iterator[None]:
    """run_experiment's default threads within the block (an engine process with the cores to
    itself asks for 2: app/api/runner.py)."""
    token = _THREADS.set(threads)
    try:
        yield
    finally:
        _THREADS.reset(token)


def threads_asked() -> int:
    """The threads run_experiment spreads over by default here (spreading())."""
    return _THREADS.get()


T = TypeVar("T")


class _Done(Future[T]):
    """A future born done, holding a result: what _InLine hands back. A Future() builds a lock
    and a condition variable for waiters this one never has (the texts' 3-run experiment makes
    ~80 of them per request, in line: ~1% of its CPU with their garbage collections)."""

    def __init__(self, value: T) -> None:  # (no Future.__init__: nothing here is ever waited on)
        self._value = value

    def done(self) -> bool:
        return True

    def running(self) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    def cancel(self) -> bool:
        return False

    def result(self, timeout: float | None = None) -> T:
        return self._value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return None

    def add_done_callback(self, fn: Callable[[Future[T]], object]) -> None:
        fn(self)

    def set_running_or_notify_cancel(self) -> bool:
        raise RuntimeError("a _Done future is already done")

    def set_result(self, result: T) -> None:
        raise RuntimeError("a _Done future is already done")

    def set_exception(self, exception: BaseException | None) -> None:
        raise RuntimeError("a _Done future is already done")


class _InLine(Executor):
    """An executor that runs each task at once, in the caller's thread."""

    def submit(self, fn: Callable[..., T], /, *args: object, **kwargs: object) -> Future[T]:
        return _Done(fn(*args, **kwargs))


class _Workers:
    """Helper threads and the threads that wait for their tasks, sharing the tasks of two lanes:
    a helper takes the lane a run's steps go to first (mostly products, draws and compiled loops,
    which release the GIL), a waiting thread the summaries' first (most of the Python). Each
    keeps to its kind while there is some, so the two seldom want the GIL at once.

    One set per process, started when first used (again in a forked child, which has none of its
    parent's threads). Tasks never wait for one another, only their submitters do: several
    experiments in flight share the threads without a deadlock."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._lanes: tuple[deque[Callable[[], None]], ...] = (deque(), deque())
        self._ready = threading.Condition()
        self._started = False
        self._lock = threading.Lock()
        if hasattr(os, "register_at_fork"):  # (a getpid per task was 0.7% of the CPU, spread)
            os.register_at_fork(after_in_child=self._forget_threads)

    def _forget_threads(self) -> None:
        """In a forked child: it has none of its parent's threads (nor its lock's holder)."""
        self._started = False
        self._lock = threading.Lock()

    def submit(self, lane: int, fn: Callable[..., T], /, *args: object) -> Future[T]:
        self._start()
        future: Future[T] = Future()

        def task() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as err:  # handed to the waiter, as an executor does
                    future.set_exception(err)

        with self._ready:
            self._lanes[lane].append(task)
            self._ready.notify()
        return future

    def _start(self) -> None:
        if self._started:
            return
        with self._lock:
            if not self._started:
                self._lanes = (deque(), deque())
                self._ready = threading.Condition()
                for k in range(self.count):
                    threading.Thread(target=self._work, name=f"engine-{k}", daemon=True).start()
                self._started = True

    def _take(self, order: tuple[int, int]) -> Callable[[], None] | None:
        for lane in order:
            if self._lanes[lane]:
                return self._lanes[lane].popleft()
        return None

    def _work(self) -> None:
        ready = self._ready
        while True:
            with ready:
                while (task := self._take((0, 1))) is None:
                    ready.wait()
            task()

    def wait(self, future: Future[T]) -> T:
        """future.result(), the waiting thread running queued tasks meanwhile (summaries first):
        it is one of the experiment's threads, not an idle one."""
        while not future.done():
            with self._ready:
                task = self._take((1, 0))
            if task is None:
                break
            task()
        return future.result()


class _Lane(Executor):
    """One lane of the shared workers (0: the runs' steps, 1: the summaries)."""

    def __init__(self, workers: _Workers, lane: int) -> None:
        self.workers, self.lane = workers, lane

    def submit(self, fn: Callable[..., T], /, *args: object, **kwargs: object) -> Future[T]:
        return self.workers.submit(self.lane, partial(fn, **kwargs) if kwargs else fn, *args)


_WORKERS = _Workers(1)  # and the caller: two threads


@dataclass
class _Lanes:
    """Where an experiment's tasks run. `chain`: each run's own steps (its next layer; going back,
    its next gradient; and their extents, unless scans_aside), the critical path; `stats`: the
    rows' summaries on the ranges the runs share, and the theory. In line (one thread); or the
    summaries, extents first, in a thread beside the main thread's products (large layers); or
    both spread over _WORKERS, a run's steps first."""

    chain: Executor
    stats: Executor
    draw_pool: Executor | None = None  # draws each layer's weights ahead (large layers)
    owned: ThreadPoolExecutor | None = None
    workers: _Workers | None = None  # spread: the caller runs queued tasks while it waits

    def wait(self, future: Future[T]) -> T:
        return future.result() if self.workers is None else self.workers.wait(future)

    @property
    def chain_in_line(self) -> bool:
        return isinstance(self.chain, _InLine)

    @property
    def scans_aside(self) -> bool:
        """Whether a row's extents are scanned in its summaries' task rather than in each run's
        step: with a summaries' thread of the experiment's own beside the chain (a run's step
        then carries only what the next layer needs). Spread, each run's step scans its own."""
        return self.owned is not None

    def __enter__(self) -> _Lanes:
        return self

    def __exit__(self, *_: object) -> None:
        if self.owned is not None:
            self.owned.shutdown(wait=True)


def _lanes(config: ExperimentConfig, threads: int) -> _Lanes:
    """Spread over the workers when asked; a thread for the statistics when the experiment's
    largest product is long enough to hide them behind (the threads' hand-offs of the GIL cost
    5-10% CPU at the texts' size); else in line."""
    if threads >= 2:
        return _Lanes(_Lane(_WORKERS, 0), _Lane(_WORKERS, 1), workers=_WORKERS)
    macs = max(
        run.samples * fan_in * width
        for run in config.runs
        for fan_in, width in zip((run.input_dim, *run.widths[:-1]), run.widths, strict=True)
    )
    if macs >= PIPELINE_MACS:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="summarize")
        return _Lanes(_InLine(), pool, pool if DRAW_AHEAD else None, pool)
    in_line = _InLine()
    return _Lanes(in_line, in_line)


@dataclass
class _ForwardPass:
    results: list[list[LayerResult]]  # per run, per layer
    kept: list[list[Layer]]  # per run, every layer, for the backward pass (else empty)
    samples: list[Array | None]  # per run, its inputs, for the backward pass (else None)
    works: list[RunWork]  # per run, its own work (a repeated run's from memo.RUNS)
    repeated: set[int]  # the runs whose work memo.RUNS held
    pending: dict[int, dict[int, Callable[[], LayerResult]]] = field(default_factory=dict)  # by layer

    def collect(self) -> None:
        """The summaries still pending, into `results`, layer by layer."""
        for j in sorted(self.pending):
            _collect(self.pending.pop(j), self.results)


R = TypeVar("R")
S = TypeVar("S")


def _submit_forward_row(lanes: _Lanes, plans: dict[int, _LayerPlan]) -> dict[int, Callable[[], LayerResult]]:
    out: dict[int, Callable[[], LayerResult]] = {}
    for i, plan in plans.items():
        pre, post = lanes.stats.submit(plan.pre), lanes.stats.submit(plan.post)
        out[i] = partial(lambda p, a, b: p.result(lanes.wait(a), lanes.wait(b)), plan, pre, post)
    return out


def _submit_scanned_row(
    lanes: _Lanes,
    row: dict[int, R],
    scan_own: Callable[[int, R], None],
    summaries: Callable[[dict[int, R]], dict[int, Callable[[], S]]],
) -> dict[int, Callable[[], S]]:
    """A row (a layer, or a layer's gradients, of the runs in `row`) as one task in lanes.stats:
    each run's extents (scan_own), then the summaries on the ranges they make; per run, a function
    that waits for its summary. With the summaries' thread beside the chain, the scans (a tenth
    of the chain's time at 4096x512) leave the critical path too."""

    def summarize_row() -> dict[int, S]:
        for i, item in row.items():
            scan_own(i, item)
        return {i: summary() for i, summary in summaries(row).items()}

    done = lanes.stats.submit(summarize_row)
    return {i: partial(_row_result, lanes, done, i) for i in row}


def _row_result(lanes: _Lanes, row: Future[dict[int, R]], i: int) -> R:
    return lanes.wait(row)[i]


def _run_ahead(
    lanes: _Lanes, step: Callable[[int, int], R], order: list[int], depths: list[int]
) -> dict[int, dict[int, Future[R]]]:
    """step(i, j) of every run i for the layers j in `order` it has, in `lanes.chain`: each run's
    next step is queued once its step before is done, so each run goes ahead on its own while
    the rows behind are summarized. Futures by layer, then run."""
    futures: dict[int, dict[int, Future[R]]] = {
        j: {i: Future() for i, depth in enumerate(depths) if j < depth} for j in order
    }
    for i, depth in enumerate(depths):
        # (the caller takes each row out of `futures` as it waits for it: each run has its own)
        layers = [(j, futures[j][i]) for j in order if j < depth]
        if layers:
            lanes.chain.submit(_advance, lanes, step, i, layers, 0)
    return futures


def _advance(
    lanes: _Lanes, step: Callable[[int, int], R], i: int, layers: list[tuple[int, Future[R]]], k: int
) -> None:
    """Run i's step k into its future, then its next step queued. A module function, not a
    closure calling itself: that would be a reference cycle holding every layer of the request
    until the garbage collector's next full pass (~1 MB a request, a process grown by 300 MB)."""
    j, done = layers[k]
    try:
        done.set_result(step(i, j))
    except BaseException as err:  # the caller sees it where it waits for this layer
        done.set_exception(err)
        return
    if k + 1 < len(layers):
        lanes.chain.submit(_advance, lanes, step, i, layers, k + 1)


def _forward(config: ExperimentConfig, dtype: type[np.floating], lanes: _Lanes) -> _ForwardPass:
    """Every run's forward pass row by row: a row's layers are computed (each run's in `chain`),
    then summarized on their shared ranges (in `stats`) while the next row is computed."""
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
        streams.append(
            forward(
                run,
                inputs[key],
                position,
                dtype,
                recycle=not config.gradients,
                lag=1,
                draw_pool=lanes.draw_pool,
            )
        )
    del inputs  # the streams hold the inputs until their first layer is computed, and no longer

    done = _ForwardPass([[] for _ in config.runs], [[] for _ in config.runs], samples, works, repeated)

    def step(i: int, j: int) -> Layer:
        layer = next(streams[i])
        if not lanes.scans_aside:
            _own_extents(works, j, i, layer)
        if config.gradients:
            done.kept[i].append(layer)
            if i not in repeated:
                works[i].layers.append(layer)
        return layer

    depth = max(run.depth for run in config.runs)
    rows = done.pending
    if lanes.workers is not None and config.gradients:
        # every layer is kept anyway: each run goes ahead, each row is summarized once complete
        ahead = _run_ahead(lanes, step, list(range(depth)), [run.depth for run in config.runs])
        for j in range(depth):
            current = {i: lanes.wait(future) for i, future in ahead.pop(j).items()}
            rows[j] = _submit_forward_row(
                lanes, by_axes(config, current, partial(_plan_layer, config, j, works))
            )
        return done  # summaries pending: the backward pass starts meanwhile
    previous: dict[int, Layer] = {}

    def summarize_previous(j: int, previous: dict[int, Layer]) -> None:
        if not previous:
            return
        # layer j - 1's summaries, while layer j is computed
        plan = partial(_plan_layer, config, j - 1, works)
        if lanes.scans_aside:
            rows[j - 1] = _submit_scanned_row(
                lanes,
                previous,
                partial(_own_extents, works, j - 1),
                lambda row: {i: p.summarized for i, p in by_axes(config, row, plan).items()},
            )
        else:
            rows[j - 1] = _submit_forward_row(lanes, by_axes(config, previous, plan))

    for j in range(depth):
        if not config.gradients and j >= 2:
            _collect(rows.pop(j - 2), done.results)  # layer j - 2's arrays are reused for layer j
        if lanes.chain_in_line:  # the summaries' thread starts first, the caller then computes
            summarize_previous(j, previous)
        chain = {i: lanes.chain.submit(step, i, j) for i, run in enumerate(config.runs) if j < run.depth}
        if not lanes.chain_in_line:  # the runs' steps first: they are the critical path
            summarize_previous(j, previous)
        previous = {i: lanes.wait(future) for i, future in chain.items()}
        del chain
    summarize_previous(depth, previous)
    del previous  # the summaries hold the last layers until they are done, and no longer
    return done


def _collect(row: dict[int, Callable[[], LayerResult]], results: list[list[LayerResult]]) -> None:
    for i, result in row.items():
        results[i].append(result())


def _add_gradients(config: ExperimentConfig, forward_pass: _ForwardPass, lanes: _Lanes) -> None:
    """The backward pass of every run row by row, last layer first: a row's gradients are computed
    (each run's in `chain`), then summarized on their shared range (in `stats`) while the row
    below is computed; into forward_pass.results."""
    results, kept, works = forward_pass.results, forward_pass.kept, forward_pass.works
    steps: dict[int, Iterator[LayerGradient]] = {}
    # A run too large for memo.RUNS (with its gradients) drops each gradient once summarized, as
    # before: holding them would raise its peak memory by a third, for nothing.
    keep = {i for i, work in enumerate(works) if work.nbytes_with_gradients() <= RUNS.max_entry_bytes}

    def step(i: int, j: int) -> LayerGradient:
        if i not in steps:  # its first (last layer's): the read-out's draw too, in this thread
            run = config.runs[i]
            if i in forward_pass.repeated:
                steps[i] = iter([g for g in works[i].grads[::-1] if g is not None])
            else:
                x = forward_pass.samples[i]
                assert x is not None
                upstream = upstream_gradient(run, i, kept[i][-1].a, config.loss)
                steps[i] = layer_gradients(run, kept[i], x, upstream)
        g = next(steps[i])
        if not lanes.scans_aside:
            _own_grad_extent(works, j, i, g)
        if i in keep:
            works[i].grads[j] = g
        return g

    def plans_of(j: int, grads: dict[int, LayerGradient]) -> dict[int, Callable[[], TensorStats]]:
        extents = {i: works[i].grad_extents[j] for i in grads}
        parts = {i: works[i].parts_of(j, "grad") for i in grads}
        return gradient_plans(config, grads, extents, parts)  # type: ignore[arg-type]

    # per layer: its gradients, and per run a function that waits for its summary
    rows: dict[int, tuple[dict[int, LayerGradient], dict[int, Callable[[], TensorStats]]]] = {}
    previous: dict[int, LayerGradient] = {}

    def submit_row(j: int, here: dict[int, LayerGradient]) -> None:
        plans = partial(by_axes, config, summarize=partial(plans_of, j))
        if lanes.scans_aside:
            rows[j] = (here, _submit_scanned_row(lanes, here, partial(_own_grad_extent, works, j), plans))
        else:
            rows[j] = (here, {i: partial(lanes.wait, lanes.stats.submit(p)) for i, p in plans(here).items()})

    def summarize_previous(j: int, previous: dict[int, LayerGradient]) -> None:
        if previous:  # layer j + 1's summaries, while layer j is computed
            submit_row(j + 1, previous)

    def finish(j: int) -> None:
        here, stats = rows.pop(j)
        for i, summary in stats.items():
            g = here[i]
            results[i][j] = replace(
                results[i][j],
                grad=summary(),
                weight_grad=WeightGradient(g.weight_norm, g.weight_std, g.grad_data_ratio),
            )

    # unkept gradients are dropped once summarized: at most two rows held, as the forward pass's
    bounded = len(keep) < len(works)
    depth = max(run.depth for run in config.runs)
    order = list(range(depth - 1, -1, -1))
    if lanes.workers is not None and not bounded:
        # every gradient is kept anyway: each run goes ahead, each row is summarized once complete
        ahead = _run_ahead(lanes, step, order, [run.depth for run in config.runs])
        for j in order:
            submit_row(j, {i: lanes.wait(future) for i, future in ahead.pop(j).items()})
        forward_pass.collect()
        for j in order:
            finish(j)
        return
    forward_pass.collect()
    for j in order:
        if bounded and j + 2 in rows:
            finish(j + 2)
        if lanes.chain_in_line:
            summarize_previous(j, previous)
        chain = {i: lanes.chain.submit(step, i, j) for i, run in enumerate(config.runs) if j < run.depth}
        if not lanes.chain_in_line:
            summarize_previous(j, previous)
        previous = {i: lanes.wait(future) for i, future in chain.items()}
        del chain
    summarize_previous(-1, previous)
    del previous
    for j in sorted(rows, reverse=True):
        finish(j)
