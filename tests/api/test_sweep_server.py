"""The sweep API on a real server (`initscope serve`, its embedded LocalCluster): a client that hangs
up cancels its sweep and frees its place, and the cluster's processes end with the server."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.live import serve
from tests.sweeps.loopback import alive, wait_gone

# ~200 points of ~0.1-0.3 s each: a minute or more on two cores, far beyond the 15 s allowed below
SLOW = "depth=30&width=200&samples=1000&run=tanh,xavier&axis.gain=0.8:2:lin:200"
SMALL = "depth=4&width=20&samples=50&run=tanh,xavier&axis.gain=0.5,1"


def _descendants(pid: int) -> set[int]:
    """Every process under `pid`, from /proc's parent links."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_hanging_up_cancels_the_sweep_and_the_cluster_ends_with_the_server() -> None:
    with serve({"INITSCOPE_MAX_SWEEPS": "1"}) as (url, proc), httpx.Client(base_url=url, timeout=120) as http:
        with http.stream("GET", f"/api/v1/sweep/stream?{SLOW}") as response:
            lines = response.iter_lines()
            assert next(lines) == "event: start"
            # the one place is taken while the stream runs
            busy = http.post("/api/v1/sweep", json={"sweep": SMALL})
            assert busy.status_code == 503 and busy.headers["Retry-After"]
        # the client hung up: the server cancels the sweep and frees its place
        deadline = time.monotonic() + 15
        while (status := http.post("/api/v1/sweep", json={"sweep": SMALL}).status_code) == 503:
            assert time.monotonic() < deadline, "the hung-up sweep kept its place"
            time.sleep(0.3)
        assert status == 200
        processes = _descendants(proc.pid)
        assert len(processes) >= 2  # the LocalCluster's nanny and worker processes, at least
    assert not alive(proc.pid) or proc.poll() is not None
    assert wait_gone(sorted(processes)) == [], "a process of the server's cluster outlived it"
