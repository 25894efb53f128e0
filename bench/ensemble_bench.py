"""What a seed ensemble (seeds=N on /simulate) costs next to the single answer of the same link,
in the same run.

    python -m bench.ensemble_bench [--repeat 3] [--seeds 4,16]

For each link: the single experiment as /simulate runs and serializes it, then the ensemble of N
draws (run_ensemble and its JSON), each timed `repeat` times, interleaved so machine noise hits
them alike; the minimum of each is printed with its ratio to the single answer's and the ratio of
the cost bound (N; the members run side by side in one experiment). The 1-minute load average is
printed: above 0.5 on a 2-core machine, timings are unreliable.

Each line also gives the minor page faults of its last timing (fresh 4 KiB pages the process had
to map). A single answer of a small link reuses the memory its last run freed (0 faults), while
an ensemble's N-fold memory is more than glibc keeps between runs, so it maps it afresh every
time: ~32,000 faults for saito-compare at seeds=16, ~80 ms of its ~1.1 s on this 2-core machine
(measured in CPU time under load 8-10, interleaved, against a process that keeps its freed memory,
`MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=4294967296`: the members' experiment ran
at 15.6, 14.6 and 15.8 times the single one's CPU time instead of 16.3, 15.6 and 16.6). Run the
bench under those two variables to see the ratio without that first touch of the memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable

from app import codec
from app.api.payload import ensemble_dict, result_dict, to_json
from app.engine.network.ensemble import run_ensemble
from app.engine.network.experiment import run_experiment
from app.engine.network.memo import DRAWS
from app.engine.theory import clear_cache as clear_theory

LINKS = {
    "saito-compare": "range=0,1&run=sigmoid,normal&run=sigmoid,xavier&run=relu,he_normal",  # 3 x 5 x 100
    "deep": "depth=20&width=256&samples=1000&grad=0&run=tanh,xavier",
}


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _timed(work: Callable[[], object]) -> tuple[float, float, int]:
    """Seconds of `work` (wall clock and this process's CPU) and the page faults it took."""
    DRAWS.clear()  # every timing is of a first request: no cached draws
    clear_theory()
    faults = _faults()
    cpu = time.process_time()
    start = time.perf_counter()
    work()
    return time.perf_counter() - start, time.process_time() - cpu, _faults() - faults


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds", default="4,16", help="the ensembles' sizes, comma-separated")
    args = parser.parse_args()
    sizes = [int(s) for s in args.seeds.split(",")]
    print(f"load average (1 min) {os.getloadavg()[0]:.2f}")
    for name, link in LINKS.items():
        config = codec.to_experiment(codec.decode(link))
        work: dict[str, Callable[[], object]] = {
            "single": lambda config=config: to_json(result_dict(run_experiment(config)))  # type: ignore[misc]
        }
        for n in sizes:
            work[f"seeds={n}"] = lambda n=n, config=config: to_json(ensemble_dict(run_ensemble(config, n)))  # type: ignore[misc]
        times: dict[str, list[float]] = {k: [] for k in work}
        cpus: dict[str, list[float]] = {k: [] for k in work}
        faults: dict[str, int] = {}
        for _ in range(args.repeat):
            for key, job in work.items():
                seconds, cpu, faults[key] = _timed(job)
                times[key].append(seconds)
                cpus[key].append(cpu)
        base, base_cpu = min(times["single"]), min(cpus["single"])
        print(f"\n{name}: {link}")
        for key, ts in times.items():
            bound = 1 if key == "single" else int(key.split("=")[1])
            cpu = min(cpus[key])
            # CPU time: less disturbed than the wall clock by other processes on a busy machine
            print(
                f"  {key:<10} {min(ts) * 1000:9.1f} ms  x{min(ts) / base:6.2f} (cost bound x{bound})"
                f"  cpu {cpu * 1000:8.1f} ms x{cpu / base_cpu:6.2f}  {faults[key]:7,} page faults"
            )


if __name__ == "__main__":
    main()
