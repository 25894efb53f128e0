"""The engine's forward pass plus statistics, timed against the bare chain of matrix products.

    python -m bench.engine_bench [--quick] [--sizes 1000x5x100,4096x20x512] [--sigmoid]
    python -m bench.engine_bench --gradients   # forward + backward + statistics

Sizes are samples x depth x width (input_dim = width). Both baselines and the engine are timed in
the same process and run, interleaved, so machine noise hits them alike. Peak RSS is measured in
a fresh child process per size and workload, since ru_maxrss only ever grows within a process.
Each line shows issue 14's target for its ratio (engine / bare chain) beside the figure.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from app.engine.layers.activations import ACTIVATIONS
from app.engine.layers.initializers import BIASES
from app.engine.network import experiment as experiment_module
from app.engine.network.backward import upstream_gradient
from app.engine.network.config import ExperimentConfig, make_experiment
from app.engine.network.cost import experiment_cost
from app.engine.network.experiment import run_experiment
from app.engine.network.forward import _draw_weights, input_samples, weight_rng
from app.engine.network.memo import DRAWS
from app.engine.network.memo import RUNS as RUN_WORK
from app.engine.theory import clear_cache as clear_theory

Size = tuple[int, int, int]
Array = NDArray[np.float32]

SIZES = "1000x5x100,4096x20x512,8192x50x1024"
GRADIENT_SIZES = (
    "1000x5x100,4096x20x512"  # every layer is kept for the backward pass: 8192x50x1024 needs 5 GiB
)
# Issue 14's targets for engine / bare chain (min over min), forward and forward + backward.
TARGETS = {
    (False, (1000, 5, 100)): 2.0,
    (False, (4096, 20, 512)): 1.3,
    (False, (8192, 50, 1024)): 1.3,
    (True, (1000, 5, 100)): 1.5,
    (True, (4096, 20, 512)): 1.5,
}
RUNS = {
    "relu": {"activation": "relu", "init": "he_normal"},
    "sigmoid": {"activation": "sigmoid", "init": "xavier"},
}
LOAD_WARNING = 0.5  # 1-minute load above this on a 2-core machine makes timings unreliable
MIB = 1 << 20
ROOT = Path(__file__).resolve().parents[1]


def parse_size(text: str) -> Size:
    samples, depth, width = (int(part) for part in text.lower().split("x"))
    return samples, depth, width


def repeats_for(size: Size) -> int:
    """Fewer repeats for bigger sizes, so the default sizes finish in about two minutes."""
    samples, depth, width = size
    macs = samples * depth * width * width
    return 3 if macs >= 10**11 else 7 if macs >= 10**9 else 30


GRADIENTS = False  # --gradients: engine with its backward pass, baseline the forward+backward chain


def experiment(size: Size, run: str) -> ExperimentConfig:
    samples, depth, width = size
    shared = {"depth": depth, "width": width, "input_dim": width, "samples": samples}
    return make_experiment(shared, [RUNS[run]], gradients=GRADIENTS)


def chain_inputs(size: Size) -> tuple[Array, list[Array]]:
    samples, depth, width = size
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, width), dtype=np.float32)
    # Scaled by 1/sqrt(width) so the chain stays finite: inf/NaN would be a different workload.
    scale = np.float32(1.0 / math.sqrt(width))
    return x, [rng.standard_normal((width, width), dtype=np.float32) * scale for _ in range(depth)]


def bare_chain(x: Array, weights: list[Array]) -> Array:
    a = x
    kept = [x]
    for w in weights:
        a = a @ w
        if GRADIENTS:
            kept.append(a)
    if GRADIENTS:
        # The backward chain for the same shapes: dL/dW = a_in^T delta, then delta @ W^T.
        delta = kept.pop()
        for w in reversed(weights):
            _ = kept.pop().T @ delta
            delta = delta @ w.T
    return a


def chain_drawing(x: Array, depth: int) -> Array:
    """The chain with each layer's weights drawn inside the loop, as run_experiment does."""
    width = x.shape[1]
    rng = np.random.default_rng(0)
    scale = np.float32(1.0 / math.sqrt(width))
    a = x
    for _ in range(depth):
        w = rng.standard_normal((width, width), dtype=np.float32)
        w *= scale  # the engine's initializers scale in place too
        a = a @ w
    return a


def engine_draws(cfg: ExperimentConfig) -> list[list[Array | None]]:
    """Every random draw run_experiment makes for cfg, and nothing else: per run, its inputs, its
    weights and biases layer by layer, and with --gradients the backward pass's read-out (with
    --warm only the weights and biases: the others come from the engine's cache of seeded draws).
    A link names its seed, so these very draws are part of what it means: no engine can skip them."""
    drawn: list[list[Array | None]] = []
    for position, run in enumerate(cfg.runs):
        arrays: list[Array | None] = [] if WARM else [input_samples(run)]
        rng = weight_rng(run, position)
        for j, (fan_in, units) in enumerate(zip((run.input_dim, *run.widths[:-1]), run.widths, strict=True)):
            pieces = ACTIVATIONS[run.activation_at(j)].pieces(run.activation_params_at(j))
            arrays.append(_draw_weights(run, fan_in, units, pieces, rng))
            arrays.append(BIASES[run.bias].sample(units * pieces, rng, run.bias_params()))
        if GRADIENTS and not WARM:
            output = np.empty((run.samples, run.widths[-1]), np.float32)
            arrays.append(upstream_gradient(run, position, output, cfg.loss))
        drawn.append(arrays)
    if not WARM:
        DRAWS.clear()  # each repeat draws afresh, as the engine's first requests do
    return drawn


def time_interleaved(jobs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each job, and under "<job> cpu" the CPU seconds of this process (every
    thread) per call; jobs alternate within a repeat so drift affects all alike."""
    if repeats > 3:  # warm up caches and the allocator; big sizes cannot afford the extra run
        for job in jobs.values():
            job()
    times: dict[str, list[float]] = {key: [] for name in jobs for key in (name, f"{name} cpu")}
    for _ in range(repeats):
        for name, job in jobs.items():
            start, cpu = time.perf_counter(), time.process_time()
            job()
            times[name].append(time.perf_counter() - start)
            times[f"{name} cpu"].append(time.process_time() - cpu)
    return times


def settle_allocator() -> None:
    """Put glibc's malloc in the state a long-running server reaches after its first large request.

    malloc serves blocks above a threshold (128 KiB at start) with fresh mmap'd pages, paying a page
    fault per 4 KiB on first touch, and raises the threshold to the size of any such block freed.
    Without this, the baselines' speed depends on what the engine allocated before them in this
    process: the bare chain at 1000x5x100 measured 0.80 or 0.46 ms depending on the engine version
    interleaved with it. Freeing one 30 MiB block (under glibc's 32 MiB cap) fixes the threshold
    above every array of the default sizes but 8192x50x1024's (32 MiB, always mmap'd), for all jobs.
    """
    block = np.ones(30 * MIB // 4, dtype=np.float32)
    del block


WARM = False  # --warm: keep the engine's caches of seeded draws and theory between repeats


def first_request(cfg: ExperimentConfig) -> object:
    """run_experiment as for a link never seen: no draw or prediction cached from a repeat."""
    DRAWS.clear()
    clear_theory()
    return run_experiment(cfg)


def warm_request(cfg: ExperimentConfig) -> object:
    """run_experiment with the draws and predictions of a repeat cached, but not the run's own
    work (memo.RUNS), which would skip the very passes measured here."""
    RUN_WORK.clear()
    return run_experiment(cfg)


def measure(size: Size, configs: dict[str, ExperimentConfig], repeats: int) -> dict[str, list[float]]:
    x, weights = chain_inputs(size)
    jobs: dict[str, Callable[[], object]] = {
        "bare": lambda: bare_chain(x, weights),
        "draw": lambda: chain_drawing(x, size[1]),
    }
    for run, cfg in configs.items():
        jobs[f"{run} draws"] = partial(engine_draws, cfg)
    for run, cfg in configs.items():
        jobs[run] = partial(warm_request if WARM else first_request, cfg)
    return time_interleaved(jobs, repeats)


def child(workload: str, size: Size) -> None:
    """Run one workload once and print this process's peak RSS in KiB (Linux's unit)."""
    if workload in RUNS:
        run_experiment(experiment(size, workload))
    elif workload == "chain":
        x, weights = chain_inputs(size)
        bare_chain(x, weights)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def peak_rss_mib(workload: str, size: Size = (1, 1, 1)) -> float:
    """A child's ru_maxrss starts at this process's peak (Linux carries it across fork and exec),
    so call this before the parent allocates anything big: see main()."""
    cmd = [sys.executable, "-m", "bench.engine_bench", "--child", workload]
    cmd += ["--gradients"] if GRADIENTS else []
    cmd += [] if experiment_module.DRAW_AHEAD else ["--draw-in-line"]
    cmd += ["--sizes", "x".join(map(str, size))]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1]) * 1024 / MIB


def header() -> None:
    load = float(Path("/proc/loadavg").read_text().split()[0])
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "(unset)")
    print(f"python {platform.python_version()}, numpy {np.__version__}, ", end="")
    print(f"cpu_count {os.cpu_count()}, OPENBLAS_NUM_THREADS={threads}")
    print(f"1-minute load average: {load:.2f}")
    if load > LOAD_WARNING:
        print(f"WARNING: load {load:.2f} > {LOAD_WARNING}: the machine is busy, timings are noisy")


UNSTEADY = 1.25  # a baseline whose median repeat is this much slower than its fastest one


def unsteady(times: dict[str, list[float]], run: str) -> str | None:
    """A warning when the bare chain's repeats spread by more than UNSTEADY (median over min): the
    machine's speed changed during the run (another tenant on the core, a frequency change), and
    a min over min then pits the engine against the chain's luckiest moment. With it, the ratio
    of the medians, which such a moment does not set."""
    bare, engine = times["bare"], times[run]
    spread = statistics.median(bare) / min(bare)
    if spread <= UNSTEADY:
        return None
    return (
        f"WARNING: the bare chain's repeats took {min(bare) * 1e3:.0f} to {max(bare) * 1e3:.0f} ms "
        f"(median / min {spread:.2f}): the machine's speed changed during the run; "
        f"engine / bare by medians: {statistics.median(engine) / statistics.median(bare):.2f}"
    )


def ms(times: list[float]) -> str:
    return f"{min(times) * 1e3:9.2f} {statistics.median(times) * 1e3:9.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--sizes",
        help=f"samples x depth x width, comma separated (default {SIZES}; with --gradients {GRADIENT_SIZES})",
    )
    parser.add_argument("--quick", action="store_true", help="only the smallest default size (smoke test)")
    parser.add_argument("--sigmoid", action="store_true", help="add a sigmoid/xavier line per size (slower)")
    parser.add_argument("--repeats", type=int, help="timed repeats per size (default by size: 30, 7 or 3)")
    parser.add_argument(
        "--gradients",
        action="store_true",
        help="engine with the backward pass, against the forward+backward matmul chain",
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="keep the engine's cached inputs, read-out and theory between repeats (a slider's case)",
    )
    parser.add_argument(
        "--draw-in-line",
        action="store_true",
        help="draw each layer's weights in line, not in the statistics' thread (before/after check)",
    )
    parser.add_argument("--child", choices=(*RUNS, "chain", "imports"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    experiment_module.DRAW_AHEAD = not args.draw_in_line
    global GRADIENTS, WARM
    GRADIENTS, WARM = args.gradients, args.warm
    default = GRADIENT_SIZES if GRADIENTS else SIZES
    chosen = default.split(",")[:1] if args.quick else (args.sizes or default).split(",")
    sizes = [parse_size(s) for s in chosen]
    if args.child:
        child(args.child, sizes[0])
        return

    header()
    floor = peak_rss_mib("imports")
    print(f"peak RSS of a child that only imports numpy and the engine: {floor:.0f} MiB\n")
    runs = ["relu", "sigmoid"] if args.sigmoid else ["relu"]
    print(f"{'':24}{'':4}{'bare matmul ms':>20}{'matmul+draw ms':>20}{'engine ms':>20}"
          f"{'engine / ...':>14}{'target':>14}{'floor':>7}"
          f"{'peak RSS MiB':>17}{'est.':>8}{'CPU':>8}")  # fmt: skip
    print(f"{'size (SxDxW)':<15} {'run':<8} {'rep':>3}" + "       min    median" * 3
          + f" {'bare':>6} {'+draw':>6} {'/ bare':>8} {'met':>5} {'/ bare':>6}"
          + f" {'engine':>8} {'bare':>7} {'MiB':>7} {'/ bare':>7}")  # fmt: skip
    # Every child runs before any timing, while this process is still at its import floor.
    rss = {(size, w): peak_rss_mib(w, size) for size in sizes for w in ("chain", *runs)}
    settle_allocator()
    for size in sizes:
        samples, depth, width = size
        configs = {run: experiment(size, run) for run in runs}
        repeats = args.repeats or repeats_for(size)
        times = measure(size, configs, repeats)
        for run, cfg in configs.items():
            bare, draw, eng = (min(times[k]) for k in ("bare", "draw", run))
            least = (bare + min(times[f"{run} draws"])) / bare
            cpu = min(times[f"{run} cpu"]) / min(times["bare cpu"])
            target = TARGETS.get((GRADIENTS, size)) if run == "relu" else None
            goal = f"<= {target:4.2f} {'yes' if eng / bare <= target else 'no':>5}" if target else f"{'':14}"
            print(
                f"{f'{samples}x{depth}x{width}':<15} {run:<8} {repeats:>3} {ms(times['bare'])} "
                f"{ms(times['draw'])} {ms(times[run])} {eng / bare:6.2f} {eng / draw:6.2f} {goal} "
                f"{least:6.2f} {rss[size, run]:8.0f} {rss[size, 'chain']:7.0f} "
                f"{experiment_cost(cfg).memory_bytes / MIB:7.0f} {cpu:7.2f}",
                flush=True,
            )
            warning = unsteady(times, run)
            if warning:
                print(warning, flush=True)
    print(
        "\nms: wall time per run (min and median of `rep` timed repeats, interleaved).\n"
        "bare matmul: a = a @ W per layer, float32, weights pre-drawn (untimed).\n"
        "matmul+draw: the same with each W drawn by standard_normal(float32) in the loop.\n"
        "engine: run_experiment (input sampling, weights, activation, histograms, statistics),\n"
        "each repeat as a first request (caches of seeded draws and theory cleared; --warm keeps them).\n"
        "engine / ...: engine min over baseline min; target: issue 14's bound on engine / bare\n"
        "floor / bare: (bare chain + the engine's own random draws for the same link: inputs,\n"
        "weights, biases, backward read-out) over bare: no engine giving the same bytes is faster.\n"
        "(forward + all statistics; with --gradients, forward + backward + statistics against\n"
        "the bare forward+backward chain).  peak RSS: ru_maxrss of a fresh child\n"
        "running one engine run or one bare chain (pre-drawn weights: all `depth` held at once);\n"
        "est.: app.engine.network.cost.experiment_cost(cfg).memory_bytes, arrays only (no interpreter).\n"
        "CPU / bare: the engine's CPU time (all its threads) over the bare chain's, min over min:\n"
        "steadier than wall time on a busy machine, blind to the second core the engine uses.\n"
        "Timings follow settle_allocator(): malloc in a long-running server's steady state."
    )


if __name__ == "__main__":
    main()
