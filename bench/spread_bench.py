"""One experiment on one thread or spread over two (run_experiment's threads), in this process.

    python -m bench.spread_bench [--preset saito-compare | --size 1000x5x100] [--repeats 30]
        [--seconds 300]

A new seed for every experiment (nothing from memo's caches), the two ways interleaved (the order
alternating), each sample's wall time and this process's CPU time. A spread experiment gains only
while the second core is free: each sample also counts the CPU every other process on the machine
spent meanwhile (/proc/stat's busy time minus this process's), and a sample during which others
used more than `--foreign-ms` is set aside and counted, not averaged. On a machine shared with
other work, --seconds bounds the wait for quiet samples; the figures then come from those found.
The server spreads an experiment only while it is alone in the engines (app/api/runner.py):
bench.load_bench's one-connection p50 is its figure through HTTP.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.engine import jit
from app.engine.network.config import ExperimentConfig, make_experiment
from app.engine.network.experiment import run_experiment
from app.presets import PRESETS

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def busy_seconds() -> float:
    """CPU seconds every process has spent since boot (/proc/stat, all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICK


def sized(spec: str) -> ExperimentConfig:
    """saito-compare's three runs at SAMPLESxDEPTHxWIDTH."""
    samples, depth, width = (int(v) for v in spec.split("x"))
    shared = {"samples": samples, "input_dim": width, "depth": depth, "width": width, "bias": "none"}
    runs: list[dict[str, object]] = [
        {"activation": "sigmoid", "init": "normal", "std": 1.0},
        {"activation": "sigmoid", "init": "xavier"},
        {"activation": "relu", "init": "he_normal"},
    ]
    return make_experiment(shared, runs)


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)  # ms
    cpu: list[float] = field(default_factory=list)  # ms, this process
    set_aside: int = 0


def measure(config: ExperimentConfig, repeats: int, seconds: float, foreign_ms: float) -> dict[int, Samples]:
    """`repeats` quiet samples of each thread count (or as many as `seconds` allowed)."""

    def seeded(k: int) -> ExperimentConfig:
        return replace(config, runs=tuple(replace(run, seed=2_000_000 + k) for run in config.runs))

    jit.warm_up()
    for threads in (1, 2):  # imports, caches of shapes, the workers' thread: what an engine has
        run_experiment(seeded(threads), threads=threads)
    found = {1: Samples(), 2: Samples()}
    deadline = time.monotonic() + seconds
    k = 2
    while min(len(s.wall) for s in found.values()) < repeats and time.monotonic() < deadline:
        for threads in (1, 2) if k % 2 else (2, 1):
            k += 1
            busy, cpu, start = busy_seconds(), time.process_time(), time.perf_counter()
            run_experiment(seeded(k), threads=threads)
            wall, mine = time.perf_counter() - start, time.process_time() - cpu
            samples = found[threads]
            if (busy_seconds() - busy - mine) * 1e3 > foreign_ms:
                samples.set_aside += 1
                continue
            samples.wall.append(wall * 1e3)
            samples.cpu.append(mine * 1e3)
    return found


def report(name: str, found: dict[int, Samples], foreign_ms: float) -> str:
    lines = [
        f"{name}, a new seed each; samples kept while other processes used <= {foreign_ms:g} ms CPU; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    ]
    medians = {}
    for threads, s in found.items():
        if not s.wall:
            lines.append(f"  {threads} thread(s): no quiet sample ({s.set_aside} set aside)")
            continue
        medians[threads] = statistics.median(s.wall)
        lines.append(
            f"  {threads} thread(s): wall median {medians[threads]:6.1f} min {min(s.wall):6.1f} ms, "
            f"CPU median {statistics.median(s.cpu):6.1f} ms  ({len(s.wall)} kept, {s.set_aside} set aside)"
        )
    if len(medians) == 2:
        lines.append(f"  spread / one thread, wall medians: {medians[2] / medians[1]:.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="saito-compare", choices=sorted(PRESETS))
    parser.add_argument("--size", help="saito-compare's runs at SAMPLESxDEPTHxWIDTH instead")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=300, help="at most this long")
    parser.add_argument("--foreign-ms", type=float, default=11, help="others' CPU allowed per sample")
    args = parser.parse_args()
    config = sized(args.size) if args.size else PRESETS[args.preset].experiment
    found = measure(config, args.repeats, args.seconds, args.foreign_ms)
    print(report(args.size or args.preset, found, args.foreign_ms))


if __name__ == "__main__":
    main()
