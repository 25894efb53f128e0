"""Points per second of the tanh phase-diagram sweep preset (or --preset's: relu-init-lr is a
training sweep) on the embedded local Dask cluster, against the same links run one after another
in this process, and Dask's overhead per point.

    python -m bench.sweep_bench [--preset NAME] [--points N] [--workers W] [--repeats R]

In one run, alternating so that machine noise hits all alike: (1) serial, every link's
compute_point in this process; (2) a LocalCluster of one worker, the same links, so that the
difference from (1) is what a task costs beyond its work (submitting, scheduling, shipping the
metrics back, as_completed); (3) a LocalCluster of W workers (default: the cores). Clusters are
started before their timing (their start-up is printed apart), warmed with one task per worker
(NumPy and the app imported), and every run starts with an empty point cache. The aim: under 10%
overhead per point for points of 50 ms or more.
"""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import time

from distributed import Client

from app.sweeps import cluster
from app.sweeps.cost import SweepLimits, plan
from app.sweeps.engine import Limits
from app.sweeps.link import Point, parse_sweep
from app.sweeps.point import compute_for
from app.sweeps.presets import SWEEP_PRESETS
from app.sweeps.runner import PointCache, SweepRun

PRESET = "tanh-phase"
IDLE_SECONDS = 3.0
LOAD_WARNING = 0.5  # 1-minute load per core above this makes timings unreliable


def cpu_seconds() -> float:
    """This process's CPU time, every thread (run in each worker by client.run)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def serial(points: list[Point], kind: str) -> tuple[float, float]:
    """Wall and CPU seconds of the links one after another here."""
    compute = compute_for(kind)
    start, cpu = time.perf_counter(), cpu_seconds()
    for p in points:
        compute(p.link)
    return time.perf_counter() - start, cpu_seconds() - cpu


def _cluster_cpu(client: Client) -> float:
    # the LocalCluster's scheduler runs in this process, beside the client
    workers: dict[str, float] = client.run(cpu_seconds)
    return cpu_seconds() + sum(workers.values())


def on_cluster(client: Client, points: list[Point], kind: str) -> tuple[float, float]:
    """Wall and CPU seconds (workers, scheduler and client together) of the links on `client`."""
    cpu = _cluster_cpu(client)
    start = time.perf_counter()
    results = list(SweepRun(client, points, PointCache(), kind=kind))
    elapsed = time.perf_counter() - start
    assert len(results) == len(points) and all(r.error is None for r in results)
    return elapsed, _cluster_cpu(client) - cpu


def warm(client: Client, workers: int, kind: str) -> None:
    """One small point per worker, so that imports (and a training's data set) are not timed."""
    if kind == "train":
        links = [f"width=10&iterations=1&run=relu,he_normal&seed={i}" for i in range(workers * 2)]
    else:
        links = [f"depth=2&width=10&samples=10&run=tanh,xavier&seed={i}" for i in range(workers * 2)]
    futures = [client.submit(compute_for(kind), link, pure=False) for link in links]
    client.gather(futures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default=PRESET, choices=list(SWEEP_PRESETS), help=f"(default {PRESET})")
    parser.add_argument("--points", type=int, default=60, help="the preset's first N points (default 60)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    sweep = parse_sweep(SWEEP_PRESETS[args.preset].query)
    kind = sweep.kind
    points = list(plan(sweep, SweepLimits(), Limits()).points)[: args.points]
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    print(f"{args.preset}: {len(points)} of its {sweep.size} points; {cores} cores, load {load:.1f}")
    if load / cores > LOAD_WARNING:
        print(f"  warning: the machine is busy (load {load:.1f} on {cores} cores): timings are noisy")

    compute_for(kind)(points[0].link)  # this process's imports and first allocations, untimed
    started = time.perf_counter()
    one = cluster.connect(workers=1)
    one_start = time.perf_counter() - started
    started = time.perf_counter()
    many = cluster.connect(workers=args.workers)
    many_start = time.perf_counter() - started
    try:
        warm(one, 1, kind)
        warm(many, args.workers, kind)
        before = _cluster_cpu(one)
        time.sleep(IDLE_SECONDS)
        idle = (_cluster_cpu(one) - before) / IDLE_SECONDS  # heartbeats and monitors, per second
        times: dict[str, list[float]] = {"serial": [], "one": [], "many": []}
        cpus: dict[str, list[float]] = {"serial": [], "one": [], "many": []}
        for _ in range(args.repeats):
            for name, run in (
                ("serial", lambda: serial(points, kind)),
                ("one", lambda: on_cluster(one, points, kind)),
                ("many", lambda: on_cluster(many, points, kind)),
            ):
                wall, used = run()
                times[name].append(wall)
                cpus[name].append(used)
    finally:
        # workers still heartbeating while their scheduler closes log tracebacks: not the bench's
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        cluster.close(one)
        cluster.close(many)
    best = {k: min(v) for k, v in times.items()}  # the least disturbed of the repeats
    cpu = {k: min(v) for k, v in cpus.items()}
    n = len(points)
    per_point = best["serial"] / n
    overhead = (best["one"] - best["serial"]) / n
    cpu_point = cpu["serial"] / n
    cpu_overhead = (cpu["one"] - cpu["serial"]) / n
    workers = args.workers
    print(f"  cluster start-up: 1 worker {one_start:.1f} s, {workers} workers {many_start:.1f} s (not timed)")
    ms = f"{per_point * 1000:.0f} ms, {cpu_point * 1000:.0f} ms CPU a point"
    print(f"  serial, one process:      {n / best['serial']:6.2f} points/s  ({ms})")
    print(f"  local cluster, 1 worker:  {n / best['one']:6.2f} points/s")
    print(f"  local cluster, {workers} workers: {n / best['many']:6.2f} points/s")
    wall_text = f"wall {overhead * 1000:+.1f} ms ({overhead / per_point:+.1%})"
    cpu_text = (
        f"CPU (workers, scheduler, client) {cpu_overhead * 1000:+.1f} ms ({cpu_overhead / cpu_point:+.1%})"
    )
    print(f"  overhead per point, 1 worker against serial: {wall_text}, {cpu_text}")
    print("    aim: under 10% for points of 50 ms or more")
    background = idle * best["one"] / n
    per_task = cpu_overhead - background
    print(
        f"    of which the idle cluster's own CPU (heartbeats, monitors: {idle:.1%} of a core while idle): "
        f"{background * 1000:.1f} ms a point; the rest, per task: {per_task * 1000:+.1f} ms "
        f"({per_task / cpu_point:+.1%})"
    )
    print(f"  speed-up of {workers} workers over serial: {best['serial'] / best['many']:.2f}x (wall)")
    spread = {k: statistics.pstdev(v) / statistics.mean(v) for k, v in times.items() if len(v) > 1}
    if spread:
        print(
            "  spread of the repeats (std/mean, wall): "
            + ", ".join(f"{k} {v:.0%}" for k, v in spread.items())
        )


if __name__ == "__main__":  # the LocalCluster's worker processes re-import this module
    main()
