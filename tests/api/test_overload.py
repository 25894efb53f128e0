"""A flood of heavy, uncached experiments against a real server: the excess gets fast 503s with
Retry-After, memory stays bounded, /healthz keeps answering, and the flood leaves no trace."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.live import serve

# ~14 G multiply-adds, about a second of work: two fit in the budget below, the rest do not
HEAVY = "/api/v1/simulate?depth=10&width=1024&samples=1500&grad=0&run=relu,he_normal&seed={}"
FLOOD = 12
SETTINGS = {"INITSCOPE_MAX_IN_FLIGHT": "1", "INITSCOPE_MAX_PENDING_MACS": "30000000000"}


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


async def _timed(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = await client.get(path)
    return response, time.perf_counter() - start


async def _flood(url: str) -> tuple[list[tuple[httpx.Response, float]], list[tuple[httpx.Response, float]]]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        flood = asyncio.gather(*(_timed(client, HEAVY.format(seed)) for seed in range(FLOOD)))
        health = []
        while not flood.done():
            health.append(await _timed(client, "/healthz"))
            await asyncio.sleep(0.05)
        return await flood, health


def test_overload_flood_gets_fast_503s_and_the_server_stays_healthy() -> None:
    with serve(SETTINGS) as (url, proc):
        answers, health = asyncio.run(_flood(url))
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
        again = httpx.get(f"{url}{HEAVY.format(99)}", timeout=60)
        assert again.status_code == 200 and again.headers["x-cache"] == "miss"
        status = httpx.get(f"{url}/api/v1/status").json()
        assert status["work"]["pending_macs"] == 0 and status["work"]["rejected"] == FLOOD - 2
