"""The server under load: requests per second and latency at 50 connections, with wrk on loopback.

    python -m bench.load_bench [--duration 10] [--connections 50] [--workers 1]
    python -m bench.load_bench --flood [--clients 200] [--duration 6] [--pace 0]

Four targets, one after the other against one server started here: `/healthz` (the baseline:
the server's HTTP handling alone, since the protocol answers it before the app), the
`saito-compare` experiment (cached: warmed once before), and the same experiment with a new seed
on every request (uncached: the engine runs each time), at `--connections` and then on one
connection (one request at a time: the latency a user sees). Each experiment line reports its
throughput as a ratio to /healthz's from the same run, so a noisy machine shifts them alike;
issue 14's targets for the uncached lines are printed beside them (p50 at one connection,
requests/s at `--connections`). wrk comes from Debian (`bash scripts/install-system-deps.sh
wrk`). The server's peak RSS is read at the end.

--flood: `--clients` connections each ask for heavy experiments (~14 G multiply-adds, a new seed
every time) as fast as they are answered, or `--pace` seconds apart on average; most are refused
with a 503 (the work budget is full), a few are served. Another process asks /healthz every 20 ms
meanwhile. It reports the latency of the 503s and of /healthz (wrk cannot tell answers apart by
status), and the peak RSS of the server's processes (itself and its engines).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.presets import PRESETS
from tests.live import serve

# Each wrk thread numbers its requests from its own offset, so no two requests share a seed; a
# later run starts from another BASE (seeds are below 2**32), so none finds an earlier answer cached.
NEW_SEED_SCRIPT = """
local counter = 0
local offset = 0
local threads = 0
function setup(thread)
  thread:set("offset", BASE + threads * 100000000)
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
HEAVY = "/api/v1/simulate?depth=10&width=1024&samples=1500&grad=0&run=relu,he_normal&seed={}"
# Issue 14's targets for saito-compare (backward pass and theory on), uncached, on one worker.
TARGET_P50_MS = 15.0  # one request at a time
TARGET_RPS = 60.0  # a new seed per request, at --connections


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
    threads = min(2, connections)  # wrk needs a connection per thread
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    with tempfile.TemporaryDirectory() as tmp:
        if script:
            path = Path(tmp) / "script.lua"
            path.write_text(script)
            cmd += ["-s", str(path)]
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True, timeout=duration + 60)
    return parse_wrk(out.stdout)


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants: uvicorn's workers, each worker's forkserver and engines."""
    tree = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():  # a child is listed under its parent thread
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        for child in children:
            tree += process_tree(int(child))
    return tree


def peak_rss_mib(pid: int) -> tuple[float, float]:
    """The largest peak RSS among the server's processes, and the sum of their peaks."""
    peaks = []
    for p in process_tree(pid):
        status = Path(f"/proc/{p}/status").read_text()
        peaks.append(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024)  # type: ignore[union-attr]
    return max(peaks), sum(peaks)


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> int:
    """One request on a kept-alive connection (plain asyncio: httpx would cost the client more CPU
    per request than the server spends on a 503); its status."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head, re.I)
    await reader.readexactly(int(length.group(1)) if length else 0)
    return int(head[9:12])


async def _probe(port: int, seconds: float) -> list[float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        start = time.perf_counter()
        try:
            await _get(reader, writer, "/healthz")
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        latencies.append(time.perf_counter() - start)
        await asyncio.sleep(0.02)
    writer.close()
    return latencies


def _probe_process(port: int, seconds: float, out: multiprocessing.connection.Connection) -> None:
    out.send(asyncio.run(_probe(port, seconds)))


async def _flood(port: int, clients: int, seconds: float, pace: float) -> dict[int, list[float]]:
    latencies: dict[int, list[float]] = {}
    seeds = iter(range(10**9))
    stop = time.monotonic() + seconds

    async def client() -> None:
        await asyncio.sleep(random.random() * pace)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < stop:
            start = time.perf_counter()
            try:
                status = await _get(reader, writer, HEAVY.format(next(seeds)))
            except (ConnectionError, asyncio.IncompleteReadError):
                status = 0  # closed by the server: counted, and a new connection
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            latencies.setdefault(status, []).append(time.perf_counter() - start)
            if pace:
                await asyncio.sleep(pace * (0.5 + random.random()))
        writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def _percentiles(seconds: list[float]) -> str:
    if not seconds:
        return "none"
    ordered = sorted(seconds)
    p50, p99 = ordered[len(ordered) // 2], ordered[int(0.99 * (len(ordered) - 1))]
    return (
        f"n={len(ordered)} p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )


def flood(clients: int, duration: int, pace: float, workers: int) -> None:
    with serve(options=("--workers", str(workers), "--no-access-log")) as (base, server):
        port = int(base.rsplit(":", 1)[1])
        httpx.get(f"{base}{HEAVY.format(10**9)}", timeout=60).raise_for_status()  # engines started
        receive, send = multiprocessing.get_context("spawn").Pipe(duplex=False)
        probe = multiprocessing.get_context("spawn").Process(
            target=_probe_process, args=(port, duration, send)
        )
        probe.start()
        latencies = asyncio.run(_flood(port, clients, duration, pace))
        health: list[float] = receive.recv()
        probe.join()
        largest, total = peak_rss_mib(server.pid)
    others = {status: len(times) for status, times in latencies.items() if status != 503}
    paced = f" (each {pace} s apart on average)" if pace else ""
    print(
        f"{clients} clients{paced} for {duration} s of {HEAVY.format('<new>')} on 127.0.0.1, "
        f"{workers} worker(s), {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    print(f"503      {_percentiles(latencies.get(503, []))}")
    print(f"/healthz {_percentiles(health)}")
    print(f"other answers (0: connection closed) {others}")
    print(f"server peak RSS {largest:.0f} MiB (largest process), {total:.0f} MiB (all its processes)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, help="seconds per target (default 10; --flood: 6)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--flood", action="store_true", help="heavy uncached experiments instead")
    parser.add_argument("--clients", type=int, default=200, help="--flood: connections")
    parser.add_argument(
        "--pace", type=float, default=0, help="--flood: mean seconds between a client's requests"
    )
    args = parser.parse_args()
    if args.flood:
        flood(args.clients, args.duration or 6, args.pace, args.workers)
        return
    args.duration = args.duration or 10
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
                wrk(experiment, args.duration, args.connections, NEW_SEED_SCRIPT.replace("BASE", "0")),
            ),
            (
                "  the same, one connection",
                wrk(experiment, args.duration, 1, NEW_SEED_SCRIPT.replace("BASE", "2000000000")),
            ),
        ]
        rss, _ = peak_rss_mib(server.pid)

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
    uncached, alone = rows[2][1], rows[3][1]
    print(f"server peak RSS {rss:.0f} MiB")
    print("issue 14's targets (saito-compare, uncached, a new seed per request):")
    for what, figure, met in (
        (
            f"p50 on one connection <= {TARGET_P50_MS:.0f} ms",
            f"{alone.p50_ms:.1f} ms",
            alone.requests > 0 and not alone.errors and alone.p50_ms <= TARGET_P50_MS,
        ),
        (
            f"throughput at {args.connections} connections >= {TARGET_RPS:.0f} req/s",
            f"{uncached.requests_per_second:.0f} req/s",
            uncached.requests > 0 and not uncached.errors and uncached.requests_per_second >= TARGET_RPS,
        ),
    ):
        print(f"  {what:45} {figure:>12}  {'met' if met else 'not met'}")


if __name__ == "__main__":
    main()
