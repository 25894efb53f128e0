"""The server under load: requests per second and latency at 50 connections, with wrk on loopback.

    python -m bench.load_bench [--duration 10] [--connections 50] [--workers 1]

Three targets, one after the other against one server started here: `/healthz` (the baseline:
what the server does per request with no work), the `saito-compare` experiment (cached: warmed
once before), and the same experiment with a new seed on every request (uncached: the engine
runs each time). Each experiment line reports its throughput as a ratio to /healthz's from the
same run, so a noisy machine shifts them alike. wrk comes from Debian
(`bash scripts/install-system-deps.sh wrk`). The server's peak RSS is read at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.presets import PRESETS
from tests.live import serve

# Each wrk thread numbers its requests from its own offset, so no two requests share a seed.
NEW_SEED_SCRIPT = """
local counter = 0
local offset = 0
local threads = 0
function setup(thread)
  thread:set("offset", threads * 100000000)
  threads = threads + 1
end
function init(args)
  offset = tonumber(wrk.thread:get("offset")) or 0
end
function request()
  counter = counter + 1
  return wrk.format("GET", wrk.path .. "&seed=" .. (offset + counter))
end
"""
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx answers, plus socket errors (connect, read, write, timeout)


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def parse_wrk(output: str) -> Load:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(found.group(1))
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(x) for x in found.groups())
    return Load(rps, p50, p99, requests, errors)


def wrk(url: str, duration: int, connections: int, script: str | None = None) -> Load:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    with tempfile.TemporaryDirectory() as tmp:
        if script:
            path = Path(tmp) / "script.lua"
            path.write_text(script)
            cmd += ["-s", str(path)]
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True, timeout=duration + 60)
    return parse_wrk(out.stdout)


def peak_rss_mib(pid: int) -> float:
    """The largest peak RSS among the server's processes (uvicorn and its workers)."""
    pids = [pid, *(int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    peaks = []
    for p in pids:
        status = Path(f"/proc/{p}/status").read_text()
        peaks.append(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024)  # type: ignore[union-attr]
    return max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per target")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: bash scripts/install-system-deps.sh wrk")

    with serve(options=("--workers", str(args.workers), "--no-access-log")) as (base, server):
        experiment = f"{base}/api/v1/simulate?{PRESETS['saito-compare'].query}"
        for _ in range(4 * args.workers):  # warm every worker's cache (a request reaches one of them)
            httpx.get(experiment, timeout=30).raise_for_status()
        rows = [
            ("/healthz", wrk(f"{base}/healthz", args.duration, args.connections)),
            ("saito-compare, cached", wrk(experiment, args.duration, args.connections)),
            (
                "saito-compare, new seed each",
                wrk(experiment, args.duration, args.connections, NEW_SEED_SCRIPT),
            ),
        ]
        rss = peak_rss_mib(server.pid)

    baseline = rows[0][1].requests_per_second
    print(
        f"wrk -t2 -c{args.connections} -d{args.duration}s on 127.0.0.1, {args.workers} worker(s), "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    header = ("req/s", "vs healthz", "p50 ms", "p99 ms", "requests", "errors")
    print(f"{'target':30} " + " ".join(f"{h:>{w}}" for h, w in zip(header, (9, 10, 8, 8, 9, 7), strict=True)))
    for name, load in rows:
        print(
            f"{name:30} {load.requests_per_second:9.0f} {load.requests_per_second / baseline:10.2f} "
            f"{load.p50_ms:8.1f} {load.p99_ms:8.1f} {load.requests:9d} {load.errors:7d}"
        )
    print(f"server peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
