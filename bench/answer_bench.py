"""CPU time of one uncached answer, as an engine process makes it: run, serialize, compress.

    python -m bench.answer_bench [--preset saito-compare] [--repeats 30]

Two cases: a new seed on every request (load_bench's uncached case), and the same seed with the
first run's std swept (a slider dragged: the seeded draws and the theory of the other runs are
reused). CPU time (time.process_time, every thread of this process) is steadier than wall time
when other work shares the cores; wall time is printed beside it. Issue 14's throughput target,
60 answers a second on one worker with its two engine processes on two cores, needs at most
about 2 x 1000 / 60 = 33 ms of CPU per answer, the server's own work included.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from app import codec
from app.api.runner import compute
from app.engine.network.config import ExperimentConfig
from app.presets import PRESETS

CPU_BUDGET_MS = 2 * 1000 / 60  # two engine processes, 60 answers a second


def new_seed(config: ExperimentConfig, i: int) -> ExperimentConfig:
    return replace(config, runs=tuple(replace(run, seed=1_000_000 + i) for run in config.runs))


def swept_std(config: ExperimentConfig, i: int) -> ExperimentConfig:
    """The first run with std 0.5 + 0.05 i (through the codec, as a link would set it)."""
    values = codec.to_values(config)
    runs = [dict(run) for run in values.runs]
    runs[0]["std"] = round(0.5 + 0.05 * i, 2)
    return codec.to_experiment(replace(values, runs=runs))


def measure(
    config: ExperimentConfig, vary: Callable[[ExperimentConfig, int], ExperimentConfig], n: int
) -> str:
    compute(vary(config, n))  # imports, caches of shapes: what a running engine has
    cpu, wall = [], []
    for i in range(n):
        c = vary(config, i)
        start, start_cpu = time.perf_counter(), time.process_time()
        compute(c)
        cpu.append((time.process_time() - start_cpu) * 1e3)
        wall.append((time.perf_counter() - start) * 1e3)
    return (
        f"CPU ms median {statistics.median(cpu):6.1f} min {min(cpu):6.1f}   "
        f"wall ms median {statistics.median(wall):6.1f} min {min(wall):6.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="saito-compare", choices=sorted(PRESETS))
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    config = PRESETS[args.preset].experiment
    print(f"{args.preset}: {args.repeats} answers each; load {os.getloadavg()[0]:.1f}")
    print(f"new seed each     {measure(config, new_seed, args.repeats)}")
    print(f"std swept         {measure(config, swept_std, args.repeats)}")
    print(f"CPU budget for 60 answers/s on one worker (2 engines): {CPU_BUDGET_MS:.0f} ms per answer")


if __name__ == "__main__":
    main()
