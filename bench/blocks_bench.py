"""Layer networks (norms, residual blocks) against the plain stack they extend, timed in one run.

    python -m bench.blocks_bench [--sizes 1000x5x100,4096x20x512] [--repeats N] [--gradients]
                                 [--norms-only] [--vanishing]

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
`--norms-only` times these alone (no experiments).

`--vanishing`: the backward pass of a 50-layer sigmoid network with RMSNorm after each activation
(weights N(0, 0.02^2), 1000 x 256), whose early gradients are ~1e-54: unscaled in float32 (they
become subnormals, then zeros) against the power-of-two rescaled pass (blocks.scaled_backward).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from app.engine.layers.norm import NORMS, BatchNorm
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
    args = parser.parse_args()
    if args.vanishing:
        vanishing(args.repeats)
        return
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
        for _ in range(0 if args.norms_only else args.repeats):
            for name, cfg in runs.items():
                best[name] = min(best[name], timed(cfg))
        for name, seconds in best.items() if not args.norms_only else ():
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
            ratios = f"forward {forward / unit:5.2f} passes, backward {backward / unit:5.2f}"
            if isinstance(norm, BatchNorm):  # a training's: the running averages move too
                norm.track = True
                training = float("inf")
                for _ in range(20):
                    start = time.perf_counter()
                    norm.forward(z, keep=True)
                    training = min(training, time.perf_counter() - start)
                ratios += f", training forward {training / unit:5.2f}"
            print(f"{text:>14} {kind + ' norm':>11}: {ratios}")


if __name__ == "__main__":
    main()
