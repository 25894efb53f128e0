"""One registry operation on a shared Dask scheduler: the operations sent by value with every call
(as before) against installed once on the scheduler (app/api/train_scheduler.py, now).

    python -m bench.registry_bench [--port 18954] [--calls 200] [--rounds 7]

Starts a `dask scheduler` on loopback (stopped at the end), and times `owner` (the smallest
operation, so the message's size shows) both ways, alternating rounds so that other work on the
machine weighs on both alike; prints the pickled bytes sent per call, the median wall time per
call of each way, and their ratio.
"""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import argparse
import statistics
import time

from distributed.protocol.pickle import dumps

from app.api import train_scheduler
from app.api.train_scheduler import SchedulerRegistry
from app.sweeps import cluster
from tests.sweeps.loopback import LoopbackCluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=18954)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    loopback = LoopbackCluster(args.port)
    loopback.start_scheduler()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client = cluster.connect(loopback.address)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        registry = SchedulerRegistry(lambda: client)
        registry.owner("bench")  # connects, installs the operations
        me = str(client.id)
        print(
            f"bytes per call: by value {len(dumps(train_scheduler._op))}, "
            f"installed {len(dumps(train_scheduler._installed_op))}"
        )

        def by_value() -> None:
            client.run_on_scheduler(train_scheduler._op, "owner", me, ("bench",))

        def installed() -> None:
            registry.owner("bench")

        times: dict[str, list[float]] = {"by value": [], "installed": []}
        for _ in range(args.rounds):
            for name, call in (("by value", by_value), ("installed", installed)):
                start = time.perf_counter()
                for _ in range(args.calls):
                    call()
                times[name].append((time.perf_counter() - start) / args.calls)
        old, new = (statistics.median(times[k]) for k in ("by value", "installed"))
        print(
            f"ms per call (median of {args.rounds} rounds of {args.calls}): by value {old * 1e3:.2f}, "
            f"installed {new * 1e3:.2f}; by value / installed = {old / new:.2f}"
        )
        cluster.close(client)
    finally:
        loopback.stop()


if __name__ == "__main__":
    main()
