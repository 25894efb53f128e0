"""A flood of heavy, uncached experiments against a real server: the excess gets fast 503s with
Retry-After, memory stays bounded, /healthz keeps answering, and the flood leaves no trace. The
experiments run in engine processes, never in the server's: its event loop stays free."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import httpx

from tests.event_loop import run as run_async
from tests.live import serve

# ~14 G multiply-adds, about a second of work: two fit in the budget below, the rest do not
HEAVY = "/api/v1/simulate?depth=10&width=1024&samples=1500&grad=0&run=relu,he_normal&seed={}"
FLOOD = 12
SETTINGS = {"INITSCOPE_MAX_IN_FLIGHT": "1", "INITSCOPE_MAX_PENDING_MACS": "30000000000"}
# Small matrices, many layers, an 8 MB answer: ~0.9 s of work that holds the GIL (NumPy calls on
# small arrays, building and serializing the answer) for most of its time.
GIL_BOUND = (
    "/api/v1/simulate?depth=150&width=64&samples=64&bins=200&grad=1" + "&run=tanh,xavier" * 4 + "&seed={}"
)


def _process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (the engine processes are the forkserver's children)."""
    tree = [pid]
    with contextlib.suppress(FileNotFoundError):  # a thread or process that just ended
        for task in Path(f"/proc/{pid}/task").iterdir():  # a child is its parent thread's
            for child in (task / "children").read_text().split():
                tree += _process_tree(int(child))
    return tree


def _status_field(pid: int, name: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split()[1]
    raise AssertionError(f"no {name} in /proc/{pid}/status")


def _peak_rss_mib(pid: int) -> float:
    """The largest peak RSS among the server's processes (itself and its engines)."""
    return max(int(_status_field(p, "VmHWM")) / 1024 for p in _process_tree(pid))


def _cpu_seconds(pid: int) -> float:
    """CPU time of the process `pid` (all its threads; not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _timed(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = await client.get(path)
    return response, time.perf_counter() - start


async def _while_probing(
    url: str, paths: list[str]
) -> tuple[list[tuple[httpx.Response, float]], list[tuple[httpx.Response, float]]]:
    """The answers to `paths`, all sent at once, and /healthz's, asked every 20 ms meanwhile
    (50 times at most: the server's CPU time then hardly depends on how long the work takes)."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        work = asyncio.gather(*(_timed(client, path) for path in paths))
        health: list[tuple[httpx.Response, float]] = []
        while not work.done() and len(health) < 50:
            health.append(await _timed(client, "/healthz"))
            await asyncio.sleep(0.02)
        return await work, health


def test_overload_flood_gets_fast_503s_and_the_server_stays_healthy() -> None:
    with serve(SETTINGS) as (url, proc):
        answers, health = run_async(_while_probing(url, [HEAVY.format(seed) for seed in range(FLOOD)]))
        served = [t for r, t in answers if r.status_code == 200]
        refused = [(r, t) for r, t in answers if r.status_code == 503]
        assert len(served) == 2 and len(refused) == FLOOD - 2, [r.status_code for r, _ in answers]
        for response, _ in refused:
            assert int(response.headers["retry-after"]) >= 1
            assert response.json()["detail"][0]["type"] == "overloaded"
        # refused at once: every 503 came back before the first experiment finished
        assert max(t for _, t in refused) < min(served)
        # /healthz answered all along, each time faster than one experiment takes
        assert len(health) >= 3 and all(r.status_code == 200 for r, _ in health)
        assert max(t for _, t in health) < min(served)
        peak = _peak_rss_mib(proc.pid)
        print(f"\npeak RSS {peak:.0f} MiB; slowest healthz {max(t for _, t in health) * 1000:.0f} ms")
        assert peak < 1024  # one experiment in flight (its estimate ~90 MiB) on a ~150 MiB server
        # the flood is over: the next request is served, and nothing is left pending
        again = httpx.get(f"{url}{HEAVY.format(99)}", timeout=120)
        assert again.status_code == 200 and again.headers["x-cache"] == "miss"
        status = httpx.get(f"{url}/api/v1/status").json()
        assert status["work"]["pending_macs"] == 0 and status["work"]["rejected"] == FLOOD - 2


def test_overload_experiments_run_in_engine_processes_and_healthz_answers_while_all_are_busy() -> None:
    """The server's process spends next to no CPU on experiments (they run, and are serialized,
    in its engine processes), so NumPy never holds its GIL: /healthz answers at once while every
    engine is busy. In-process (threads), the server spent all of the work's CPU itself and
    /healthz waited behind it (p99 20-260 ms, max 60-300 ms, on a loaded 2-core machine)."""
    with serve({"INITSCOPE_MAX_IN_FLIGHT": "2"}) as (url, proc):
        assert httpx.get(f"{url}{GIL_BOUND.format(0)}", timeout=120).status_code == 200  # engines up
        engines = _process_tree(proc.pid)[1:]  # a forkserver and its engine processes
        assert len(engines) >= 2
        before = {p: _cpu_seconds(p) for p in [proc.pid, *engines]}
        answers, health = run_async(_while_probing(url, [GIL_BOUND.format(seed) for seed in (1, 2)]))
        assert [r.status_code for r, _ in answers] == [200, 200]
        engines = _process_tree(proc.pid)[1:]
        server_cpu = _cpu_seconds(proc.pid) - before[proc.pid]
        engine_cpu = sum(_cpu_seconds(p) - before.get(p, 0.0) for p in engines)
        times = sorted(t for _, t in health)
        p50, p99 = times[len(times) // 2], times[int(0.99 * (len(times) - 1))]
        print(
            f"\nserver CPU {server_cpu:.2f} s, engines {engine_cpu:.2f} s; healthz n={len(times)} "
            f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms"
        )
        # two experiments of 0.45-0.9 s each (by machine): the engines did the work, not the server
        assert engine_cpu > 0.4
        # the server's share: receiving two 8 MB answers, sending them, and the health checks
        assert server_cpu < 0.25 * engine_cpu
        assert len(times) >= 10 and all(r.status_code == 200 for r, _ in health)
        assert p50 < 0.05 and p99 < 0.5
