"""CPU time of one run's forward and backward passes, per activation, against their matrix products.

    python -m bench.pass_bench [--sizes 1000x5x100,4096x20x512] [--activations relu,sigmoid,...]

The passes without statistics: forward (weights drawn, each layer's product, bias and activation;
recycled arrays, as a forward-only experiment runs) and backward (network.backward.layer_gradients
over the kept layers: dL/dz, its normalization, dW and its norm and std, dL/da). The baseline,
timed interleaved in the same process, is the bare chain of the same products (a @ W per layer;
a_in.T @ delta and delta @ W.T per layer), so "forward / products" is the cost of everything around
the products, draws included, and "backward / products" the elementwise work of the backward pass.
bench.engine_bench times the whole engine (statistics included) against the chain.
BLAS runs on one thread (as in the engine), CPU time (time.process_time), min over repeats; malloc
is settled first (bench.engine_bench.settle_allocator). Sizes are samples x depth x width.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from app.engine.network.backward import layer_gradients, upstream_gradient
from app.engine.network.config import make_run
from app.engine.network.forward import forward, input_samples

from .engine_bench import parse_size, settle_allocator

ACTIVATIONS = "relu,sigmoid,tanh,leaky_relu,maxout,gelu,elu,selu"


def cpu_ms(job: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        job()
        best = min(best, (time.process_time() - start) * 1e3)
    return best


def interleaved(jobs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Each job's min CPU ms over `repeats` rounds, the jobs taking turns in every round."""
    for job in jobs.values():
        job()  # compiled kernels, caches of shapes: what a running engine has
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(repeats):
        for name, job in jobs.items():
            best[name] = min(best[name], cpu_ms(job, 1))
    return best


def measure(activation: str, size: tuple[int, int, int], repeats: int) -> str:
    samples, depth, width = size
    init = "he_normal" if "relu" in activation else "xavier"
    run = make_run(
        {"activation": activation, "init": init, "samples": samples, "depth": depth, "width": width}
        | {"input_dim": width, "seed": 3}
    )
    x = input_samples(run, np.float32)
    kept = list(forward(run, x, 0, np.float32))
    upstream = upstream_gradient(run, 0, kept[-1].a, "normal")
    deltas = [g.delta for g in layer_gradients(run, kept, x, upstream)][::-1]
    weights = [layer.weights for layer in kept]
    inputs = [x] + [layer.a for layer in kept[:-1]]

    def forward_products() -> None:
        for j in range(depth):
            _ = inputs[j] @ weights[j]  # each layer's own input (maxout's weights are wider)

    def backward_products() -> None:
        for j in range(depth - 1, -1, -1):
            _ = inputs[j].T @ deltas[j]
            if j:
                _ = deltas[j] @ weights[j].T

    def forward_pass() -> None:
        for _layer in forward(run, x, 0, np.float32, recycle=True):
            pass

    def backward_pass() -> None:
        for _grad in layer_gradients(run, kept, x, upstream):
            pass

    t = interleaved(
        {"fp": forward_products, "f": forward_pass, "bp": backward_products, "b": backward_pass}, repeats
    )
    shape = f"{samples}x{depth}x{width}"
    return (
        f"{shape:<14} {activation:<11} {t['f']:9.2f} {t['fp']:9.2f} {t['f'] / t['fp']:6.2f}"
        f" {t['b']:10.2f} {t['bp']:9.2f} {t['b'] / t['bp']:6.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000x5x100,4096x20x512")
    parser.add_argument("--activations", default=ACTIVATIONS)
    parser.add_argument("--repeats", type=int, help="rounds per size (default 30, 3 past 10^9 multiply-adds)")
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")
    settle_allocator()
    print(f"load {os.getloadavg()[0]:.1f}; CPU ms, min over interleaved rounds")
    print(f"{'size':<14} {'activation':<11} {'forward':>9} {'products':>9} {'ratio':>6}", end="")
    print(f" {'backward':>10} {'products':>9} {'ratio':>6}")
    for text in args.sizes.split(","):
        size = parse_size(text)
        samples, depth, width = size
        repeats = args.repeats or (3 if samples * depth * width * width >= 10**9 else 30)
        for activation in args.activations.split(","):
            print(measure(activation, size, repeats), flush=True)


if __name__ == "__main__":
    main()
