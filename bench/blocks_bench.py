"""Layer networks (norms, residual blocks) against the plain stack they extend, timed in one run.

    python -m bench.blocks_bench [--sizes 1000x5x100,4096x20x512] [--repeats N] [--gradients]
                                 [--norms-only] [--vanishing] [--steps]
                                 [--against REV]

Sizes are samples x depth x width (input_dim = width), ReLU with He weights. Every line is an
experiment's run_experiment (statistics and histograms included, theory off), interleaved with the
others, min over repeats:

- plain: the plain stack's own path (a link without the new fields)
- layers: the same network as a layer network without norm (the layer path's own cost)
- +batch, +layer, +rms: a norm before each activation (each adds a row of statistics too)
- residual: depth blocks of one layer each (a stem and three rows per block)

Then each norm layer alone on a (samples, width) float32 array: its forward and its backward in
units of one pass over the layer, `np.subtract(z, z.mean(axis=0))`, interleaved with that unit
(min over rounds, in thread CPU time). "scaled": scale and shift away from 1 and 0 (a trained
layer's); BatchNorm's "training" moves its running averages too; "backward at init" is the
backward an experiment at init runs, without the scale's and shift's gradients (a training's
backward needs them).

Each line says whether it meets issue 15's aim, "BN and LN layers cost at most one extra pass
over the layer each", read as: the layer's forward, and its backward, each within one pass
(<= 1.00), and a last line per size says which lines miss it. A pass is the cheapest thing a
layer of the network does to every value: the unit reads z twice (its mean, then the
subtraction) and writes it once, as a norm must at the least (its statistics need every value
before any output); a bare copy (one read, one write) is ~0.5-0.7 of it (`--steps`), so "within
one copy" would be a stricter aim than the issue's.
`--norms-only` times these alone (no experiments).

`--against REV`: beside each norm line, the same layer as app/engine/layers/norm.py and its kernels
(norm_kernels.py) were at that git revision (loaded from `git show`; the kernels compiled in
memory, a few seconds), timed in the same rounds, the order shuffled each round.

`--steps`: what the unit and the norms are made of: the unit's two halves, a copy, an in-place
scaling, and each single NumPy step the norms take (their sums, a subtraction or product with a
broadcast statistic, in place or into a new array), in the same unit, the order shuffled each
round (a fixed order favours or penalizes a step by what ran before it: the same code measured
up to ~0.5 of a pass apart at 4096x512 in two places of one fixed order).

`--vanishing`: the backward pass of a 50-layer sigmoid network with RMSNorm after each activation
(weights N(0, 0.02^2), 1000 x 256), whose early gradients are ~1e-54: unscaled in float32 (they
become subnormals, then zeros) against the power-of-two rescaled pass (blocks.scaled_backward).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from app.engine.layers.norm import NORMS, Norm
from app.engine.network.architecture import Architecture
from app.engine.network.config import ExperimentConfig, make_experiment
from app.engine.network.experiment import run_experiment
from app.engine.network.memo import DRAWS

ROUNDS = 30  # rounds of norm_passes at the least (each call flushes the caches: ~3 ms)


def config(samples: int, depth: int, width: int, gradients: bool, **arch: object) -> ExperimentConfig:
    fields = {"activation": "relu", "init": "he_normal", "depth": depth, "width": width}
    shared = {"input_dim": width, "samples": samples}
    return make_experiment(shared, [{**fields, **arch}], gradients=gradients, theory=False)


def bare_layers(cfg: ExperimentConfig) -> ExperimentConfig:
    """The plain run as a layer network without norm (the layer path, no norm rows)."""
    run = replace(cfg.runs[0], arch=Architecture())
    return replace(cfg, runs=(run,))


def timed(cfg: ExperimentConfig) -> float:
    DRAWS.clear()
    start = time.perf_counter()
    run_experiment(cfg)
    return time.perf_counter() - start


def _scaled(norm: Norm) -> Norm:
    """Scale and shift away from 1 and 0, as training leaves them."""
    rng = np.random.default_rng(2)
    for p in norm.params.values():
        p += rng.standard_normal(p.shape).astype(p.dtype) * p.dtype.type(0.1)
    return norm


def _module_at(revision: str, path: str, name: str) -> ModuleType:
    """A module's source as it was at a git revision, executed as a module of its own (its
    relative imports: today's modules of its package, but for what is swapped in first)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:{path}"], check=True, capture_output=True, text=True
    ).stdout
    module = ModuleType(f"{name}_at_{revision}")
    module.__package__ = Norm.__module__.rpartition(".")[0]
    exec(compile(source, f"{revision}:{path}", "exec"), module.__dict__)
    return module


def norm_module_at(revision: str) -> ModuleType:
    """app/engine/layers/norm.py as it was at a git revision, with the kernels it called then
    (norm_kernels.py of that revision, compiled in memory; today's before the kernels existed),
    loaded as modules of their own."""
    package: Any = importlib.import_module(Norm.__module__.rpartition(".")[0])
    today = package.norm_kernels
    try:
        kernels = _module_at(revision, "app/engine/layers/norm_kernels.py", "norm_kernels")
    except subprocess.CalledProcessError:  # a revision of NumPy-only layers
        kernels = today
    # what `from . import norm_kernels` (and `from .norm_kernels import ...`) find while norm.py loads
    package.norm_kernels = sys.modules[today.__name__] = kernels
    try:
        return _module_at(revision, "app/engine/layers/norm.py", "norm")
    finally:
        package.norm_kernels = sys.modules[today.__name__] = today


# What a network's layer finds in the cache when it runs: the forward's input was just written
# by the product before it, the backward's g by the product after it; x-hat was kept by the
# forward pass long before, and the outputs go to memory the allocator hands out. Each timed call
# (the unit's too) starts from that: the caches flushed, then its hot inputs read. Without it a
# line's figure depended on what the calls before it had touched: the unit's z was read by every
# forward, a backward's x-hat was warm or cold by its place in the round, and figures at 512 units
# moved by ~0.3 of a pass between runs.
Timer = tuple[Callable[[], object], tuple[np.ndarray, ...]]  # (the call, the inputs it finds hot)


def _last_level_cache_bytes() -> int:
    """The largest CPU cache's size as Linux reports it (0 when it does not)."""
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = (index / "size").read_text().strip()
            sizes.append(int(text[:-1]) << {"K": 10, "M": 20}[text[-1]] if text[-1] in "KM" else int(text))
    return max(sizes, default=0)


class CacheState:
    """Sets the caches as a network's layer finds them: flush (read a buffer twice the size of
    the largest cache, at least 64 MiB), then read the call's hot inputs."""

    def __init__(self) -> None:
        size = max(64 << 20, 2 * _last_level_cache_bytes())
        self._sweep = np.ones(size // 4, np.float32)

    def set(self, hot: tuple[np.ndarray, ...]) -> None:
        np.add.reduce(self._sweep)
        for array in hot:
            np.add.reduce(array, axis=None)


def _norm_timers(norms: dict[str, type[Norm]], z: np.ndarray, g: np.ndarray, tag: str) -> dict[str, Timer]:
    width = z.shape[1]
    timers: dict[str, Timer] = {}
    for kind, norm_class in norms.items():
        norm, scaled = norm_class(width), _scaled(norm_class(width))
        norm.forward(z, keep=True)
        timers[f"{kind}: forward{tag}"] = partial(norm.forward, z, keep=True), (z,)
        # (x-hat: the forward's, kept; a training's backward uses the x-hat of the forward before it)
        timers[f"{kind}: backward{tag}"] = partial(norm.backward, g), (g,)
        at_init = norm_class(width)  # as an experiment at init runs it: no scale or shift gradients
        at_init.parameter_gradients = False
        at_init.forward(z, keep=True)
        timers[f"{kind}: backward at init{tag}"] = partial(at_init.backward, g), (g,)
        timers[f"{kind}: scaled forward{tag}"] = partial(scaled.forward, z, keep=True), (z,)
        scaled.forward(z, keep=True)
        timers[f"{kind}: scaled backward{tag}"] = partial(scaled.backward, g), (g,)
        if kind == "batch":  # a training's: the running averages move too
            training = norm_class(width)
            training.track = True  # type: ignore[attr-defined]
            _scaled(training)
            timers[f"{kind}: training forward{tag}"] = partial(training.forward, z, keep=True), (z,)
    return timers


def norm_passes(text: str, samples: int, width: int, repeats: int, against: str | None = None) -> None:
    """Each norm's forward and backward in units of one pass: min over rounds of one call each,
    every call (the unit's too) from the caches a network's layer finds (CacheState), timed by
    the thread's own CPU time (on a shared machine, wall time counts other processes' turns too).
    `against`: the same layers as at that git revision too, in a shuffled order each round."""
    z = np.random.default_rng(1).standard_normal((samples, width), dtype=np.float32)
    g = np.random.default_rng(3).standard_normal((samples, width), dtype=np.float32)
    timers: dict[str, Timer] = {"unit": ((lambda: np.subtract(z, z.mean(axis=0))), (z,))}
    timers.update(_norm_timers(NORMS, z, g, ""))
    if against is not None:
        timers.update(_norm_timers(norm_module_at(against).NORMS, z, g, f" @{against}"))
    caches = CacheState()
    rounds = max(4 * repeats, ROUNDS)
    best = dict.fromkeys(timers, float("inf"))
    order, shuffle = list(timers.items()), np.random.default_rng(0).shuffle
    for _ in range(rounds):
        shuffle(order)
        for name, (timer, hot) in order:
            caches.set(hot)
            start = time.thread_time()
            timer()
            best[name] = min(best[name], time.thread_time() - start)
    unit = best.pop("unit")
    print(
        f"{text:>14} one pass {unit * 1e6:.0f} us (min of {rounds} shuffled rounds, each call from "
        "flushed caches and its hot inputs); in passes, against the aim (<= 1):"
    )
    lines, missed = 0, []
    for name, seconds in best.items():
        if against is not None and name.endswith(f" @{against}"):
            continue
        before = best.get(f"{name} @{against}")
        was = "" if before is None else f"   @{against}: {before / unit:5.2f}"
        lines += 1
        if seconds > unit:
            missed.append(name)
        verdict = "meets" if seconds <= unit else "MISSES"
        print(f"{text:>14}   {name:<26} {seconds / unit:5.2f}  {verdict:<6}{was}")
    which = "every line meets it" if not missed else f"missed by {', '.join(missed)}"
    print(f"{text:>14} aim (<= 1 pass per norm layer): {lines - len(missed)} of {lines} meet it; {which}")


def steps(text: str, samples: int, width: int, repeats: int) -> None:
    """Single NumPy steps in units of the pass (min over rounds, thread CPU time, shuffled order)."""
    z = np.random.default_rng(1).standard_normal((samples, width), dtype=np.float32)
    h = np.subtract(z, z.mean(axis=0))
    per_sample = np.full((samples, 1), 1.0, np.float32)  # LayerNorm's statistics' shape
    per_unit = np.full((1, width), 1.0, np.float32)  # BatchNorm's
    timers: dict[str, Callable[[], object]] = {
        "unit: z - z.mean(axis=0)": lambda: np.subtract(z, z.mean(axis=0)),
        "  its z.mean(axis=0)": lambda: z.mean(axis=0),
        "  its z - mean (new array)": lambda: np.subtract(z, per_unit),
        "copy": lambda: z.copy(),
        "in place: h *= 1.0": lambda: np.multiply(h, np.float32(1.0), out=h),
        "batch sum (einsum ij->j)": lambda: np.einsum("ij->j", z),
        "batch squares (ij,ij->j)": lambda: np.einsum("ij,ij->j", h, h),
        "batch h *= inv (1, w)": lambda: np.multiply(h, per_unit, out=h),
        "layer sum (add.reduce, 1)": lambda: np.add.reduce(z, axis=1, keepdims=True),
        "layer squares (ij,ij->i)": lambda: np.einsum("ij,ij->i", h, h),
        "layer h *= inv (n, 1)": lambda: np.multiply(h, per_sample, out=h),
        "y = h * gamma (new array)": lambda: np.multiply(h, per_unit[0]),
        "y += beta (in place)": lambda: np.add(h, per_unit[0], out=h),
    }
    start = time.thread_time()
    timers["copy"]()
    rounds = max(4 * repeats, min(400, int(0.1 / max(time.thread_time() - start, 1e-6))))
    order, shuffle = list(timers.items()), np.random.default_rng(0).shuffle
    best = dict.fromkeys(timers, float("inf"))
    for _ in range(rounds):
        shuffle(order)
        for name, timer in order:
            start = time.thread_time()
            timer()
            best[name] = min(best[name], time.thread_time() - start)
    unit = best["unit: z - z.mean(axis=0)"]
    print(f"{text:>14} one pass {unit * 1e6:.0f} us (min of {rounds} shuffled rounds); steps in passes:")
    for name, seconds in best.items():
        print(f"{text:>14}   {name:<26} {seconds / unit:5.2f}")


def vanishing(repeats: int) -> None:
    from app.engine.network.blocks import backward, build, output, scaled_backward
    from app.engine.network.config import make_run

    fields = {"activation": "sigmoid", "init": "normal", "std": 0.02, "norm": "rms", "norm_at": "after"}
    run = make_run({**fields, "depth": 50, "width": 256, "input_dim": 256, "samples": 1000})
    net = build(run, 0)
    x = np.random.default_rng(0).standard_normal((1000, 256), dtype=np.float32)
    upstream = np.random.default_rng(1).standard_normal((1000, 256), dtype=np.float32)
    output(net, x, keep=True)
    plain = scaled = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        rows, _ = backward(net, upstream)
        plain = min(plain, time.perf_counter() - start)
        start = time.perf_counter()
        scaled_backward(net, upstream)
        scaled = min(scaled, time.perf_counter() - start)
    zeros = sum(1 for g in rows.values() if not np.any(g))
    print(f"vanishing backward, 50 layers x 1000 x 256: unscaled {plain * 1e3:.1f} ms ({zeros} rows all 0),")
    print(f"  rescaled {scaled * 1e3:.1f} ms (no row zero): {plain / scaled:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", default="1000x5x100,4096x20x512")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gradients", action="store_true", help="with the backward pass")
    parser.add_argument("--norms-only", action="store_true", help="time the norm layers alone")
    parser.add_argument("--vanishing", action="store_true", help="time a vanishing backward pass")
    parser.add_argument("--steps", action="store_true", help="time the unit's and the norms' NumPy steps")
    parser.add_argument("--against", metavar="REV", help="and the norm layers at this git revision")
    args = parser.parse_args()
    if args.vanishing:
        vanishing(args.repeats)
        return
    print(f"numpy {np.__version__}; min of {args.repeats} interleaved repeats; gradients {args.gradients}")
    if not args.norms_only:
        print(f"{'size':>14} {'run':>9} {'ms':>9} {'/ plain':>8} {'/ layers':>9}")
    for text in args.sizes.split(","):
        samples, depth, width = (int(p) for p in text.split("x"))
        plain = config(samples, depth, width, args.gradients)
        runs = {
            "plain": plain,
            "layers": bare_layers(plain),
            "+batch": config(samples, depth, width, args.gradients, norm="batch"),
            "+layer": config(samples, depth, width, args.gradients, norm="layer"),
            "+rms": config(samples, depth, width, args.gradients, norm="rms"),
            "residual": config(samples, depth, width, args.gradients, block="residual"),
        }
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(0 if args.norms_only else args.repeats):
            for name, cfg in runs.items():
                best[name] = min(best[name], timed(cfg))
        for name, seconds in best.items() if not args.norms_only else ():
            print(
                f"{text:>14} {name:>9} {seconds * 1e3:9.1f} {seconds / best['plain']:8.2f} "
                f"{seconds / best['layers']:9.2f}"
            )
        norm_passes(text, samples, width, args.repeats, args.against)
        if args.steps:
            steps(text, samples, width, args.repeats)


if __name__ == "__main__":
    main()
