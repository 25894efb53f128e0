"""Layer networks (norms, residual blocks) against the plain stack they extend, timed in one run.

    python -m bench.blocks_bench [--sizes 1000x5x100,4096x20x512] [--repeats N] [--gradients]

Sizes are samples x depth x width (input_dim = width), ReLU with He weights. Every line is an
experiment's run_experiment (statistics and histograms included, theory off), interleaved with the
others, min over repeats:

- plain: the plain stack's own path (a link without the new fields)
- layers: the same network as a layer network without norm (the layer path's own cost)
- +batch, +layer, +rms: a norm before each activation (each adds a row of statistics too)
- residual: depth blocks of one layer each (a stem and three rows per block)

Then each norm layer alone on a (samples, width) float32 array: its forward and its backward in
units of one pass over the layer, `np.subtract(z, z.mean(axis=0))`, timed in the same run (issue
15 asks for at most one extra pass per norm: this says how far the NumPy layers are from that).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from app.engine.layers.norm import NORMS
from app.engine.network.architecture import Architecture
from app.engine.network.config import ExperimentConfig, make_experiment
from app.engine.network.experiment import run_experiment
from app.engine.network.memo import DRAWS


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


def one_pass(samples: int, width: int, repeats: int) -> float:
    z = np.random.default_rng(0).standard_normal((samples, width), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.subtract(z, z.mean(axis=0))
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", default="1000x5x100,4096x20x512")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gradients", action="store_true", help="with the backward pass")
    args = parser.parse_args()
    print(f"numpy {np.__version__}; min of {args.repeats} interleaved repeats; gradients {args.gradients}")
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
        for _ in range(args.repeats):
            for name, cfg in runs.items():
                best[name] = min(best[name], timed(cfg))
        for name, seconds in best.items():
            print(
                f"{text:>14} {name:>9} {seconds * 1e3:9.1f} {seconds / best['plain']:8.2f} "
                f"{seconds / best['layers']:9.2f}"
            )
        unit = one_pass(samples, width, 20)
        z = np.random.default_rng(1).standard_normal((samples, width), dtype=np.float32)
        for kind, norm_class in NORMS.items():
            norm = norm_class(width)
            forward = backward = float("inf")
            for _ in range(20):
                start = time.perf_counter()
                norm.forward(z, keep=True)
                forward = min(forward, time.perf_counter() - start)
                start = time.perf_counter()
                norm.backward(z)
                backward = min(backward, time.perf_counter() - start)
            ratios = f"forward {forward / unit:5.1f} passes, backward {backward / unit:5.1f}"
            print(f"{text:>14} {kind + ' norm':>11}: {ratios}")


if __name__ == "__main__":
    main()
