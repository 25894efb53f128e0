"""The server under load: requests per second and latency at 50 connections, with wrk on loopback.

    python -m bench.load_bench [--duration 10] [--connections 50] [--workers 1]
    python -m bench.load_bench --baseline CHECKOUT [--rounds 3] [--duration 8]
    python -m bench.load_bench --flood [--clients 200] [--duration 6] [--pace 0] [--workers 1]
        [--wrk] [--rounds 1] [--baseline CHECKOUT]

Four targets, one after the other against one server started here: `/healthz` (the baseline:
the server's HTTP handling alone, since the protocol answers it before the app), the
`saito-compare` experiment (cached: warmed once before), and the same experiment with a new seed
on every request (uncached: the engine runs each time), at `--connections` and then on one
connection (one request at a time: the latency a user sees). Each experiment line reports its
throughput as a ratio to /healthz's from the same run, so a noisy machine shifts them alike;
then, the server stopped, as many processes as it has engines compute the same answers (run, JSON,
gzip) back to back with no server, and the uncached throughput is printed as a ratio to theirs:
what the server loses around its engines, apart from what the engines cost on this machine;
issue 14's targets for the uncached lines are printed beside them (p50 at one connection,
requests/s at `--connections`). wrk comes from Debian (`bash scripts/install-system-deps.sh
wrk`). The server's peak RSS is read at the end. With --baseline, the two uncached targets only,
against this code's server and a checkout's in turn, --rounds times (the order alternating), with
their medians and this code's ratios: on a shared machine, compare within one run.

--flood: `--clients` connections each ask for heavy experiments (~14 G multiply-adds, a new seed
every time) as fast as they are answered, or `--pace` seconds apart on average, once all are
connected (each has had one answer, untimed: a busy server accepts a burst of new connections
slowly, ~40 a second, and the seconds that takes are printed apart); most are refused
with a 503 (the work budget is full), a few are served. Another process asks /healthz every 20 ms
meanwhile, in turn on a kept-alive connection and on a new connection each time (as a monitor
running curl does: its wait includes the server's accept, which the connections already open
can hold up). It reports the latency of the 503s and of /healthz, the CPU the server's event loops
spent per answer (its worker processes, not the engines: steadier than latency when other work
shares the cores), the load average, and the peak RSS of the server's processes (itself and its
engines). The clients are Python asyncio in one process (it tells answers apart by status), or
with --wrk, wrk (`-t2`, a Lua script numbering the seeds), whose clients cost far less CPU: on
a 2-core machine the Python clients' own CPU (~50-80 us per request) is taken from the server's
and counts in the latency they see, wrk's (~22 us) much less. wrk's latency covers every answer
(it cannot tell them apart): the few served ones (~1 s each) are counted and stay beyond the
99th percentile while they are under 1% of the answers. wrk also corrects its latencies for
coordinated omission (a request that waited s seconds counts the requests its connection would
have sent meanwhile too), so a few connections accepted seconds late at the start make its p90
and p99 seconds: a bare uvloop server (uvloop is the loop uvicorn picks when installed) spending
250 us per request accepted wrk's 200 connections over ~5 s, asyncio's own loop within ~25 ms.
Its p50 and the Python clients' figures are the steady state. (uvloop stays: against this server,
interleaved, it answered more floods per second than asyncio's loop, with lower 503 p50 and
/healthz p99 on kept-alive and new connections alike.) --rounds N repeats the flood N times on
one server and prints each round and the medians: on a shared machine, compare medians of
runs interleaved with the code you compare against.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from multiprocessing.synchronize import Event
from pathlib import Path

import httpx

from app.api.runner import compute
from app.api.shared import checked_link
from app.engine.network.cost import Limits
from app.presets import PRESETS
from app.settings import load_settings
from tests.live import free_port, serve, wait_healthy

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
TARGET_FLOOD_P99_MS = 50.0  # issue 11's, for the 503s and /healthz under --flood


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx answers, plus socket errors (connect, read, write, timeout)
    non_2xx: int = 0
    socket_errors: int = 0


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def parse_wrk(output: str) -> Load:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = socket_errors = 0
    if found := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        non_2xx = int(found.group(1))
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        socket_errors = sum(int(x) for x in found.groups())
    return Load(rps, p50, p99, requests, non_2xx + socket_errors, non_2xx, socket_errors)


def wrk(url: str, duration: int, connections: int, script: str | None = None, threads: int = 2) -> Load:
    threads = min(threads, connections)  # wrk needs a connection per thread
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


async def _probe(port: int, seconds: float) -> tuple[list[float], list[float]]:
    """/healthz's latencies every 20 ms, in turn on one kept-alive connection and on a new one
    each time (as a monitor that runs curl asks: its wait includes the server's accept)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    kept, new = [], []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        start = time.perf_counter()
        try:
            await _get(reader, writer, "/healthz")
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        kept.append(time.perf_counter() - start)
        await asyncio.sleep(0.01)
        start = time.perf_counter()
        fresh_reader, fresh_writer = await asyncio.open_connection("127.0.0.1", port)
        await _get(fresh_reader, fresh_writer, "/healthz")
        new.append(time.perf_counter() - start)
        fresh_writer.close()
        await asyncio.sleep(0.01)
    writer.close()
    return kept, new


def _probe_process(port: int, seconds: float, out: multiprocessing.connection.Connection) -> None:
    out.send(asyncio.run(_probe(port, seconds)))


async def _flood(
    port: int,
    clients: int,
    pace: float,
    first_seed: int,
    probe: multiprocessing.process.BaseProcess,
    probed: multiprocessing.connection.Connection,
) -> tuple[dict[int, list[float]], float, float]:
    """Each client connects and has one request answered first (not timed: the server accepts
    a burst of new connections only as fast as its busy loop lets it); then, all connected, the
    timed flood, from when `probe` starts until it has sent its figures on `probed`. Returns
    the latencies by status, the seconds the connecting took and the timed flood's."""
    latencies: dict[int, list[float]] = {}
    seeds = iter(range(first_seed, 2**32))
    connected = asyncio.Event()
    waiting = clients
    stopped = False

    async def client() -> None:
        nonlocal waiting
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await _get(reader, writer, HEAVY.format(next(seeds)))
        waiting -= 1
        if not waiting:
            connected.set()
        await connected.wait()
        await asyncio.sleep(random.random() * pace)
        while not stopped:
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

    async def until_probed() -> tuple[float, float]:
        nonlocal stopped
        start = time.monotonic()
        await connected.wait()
        ramp = time.monotonic()
        probe.start()
        while not probed.poll():
            await asyncio.sleep(0.05)
        stopped = True
        return ramp - start, time.monotonic() - ramp

    timing = asyncio.ensure_future(until_probed())
    await asyncio.gather(*(client() for _ in range(clients)))
    ramp, timed = await timing
    return latencies, ramp, timed


@dataclass(frozen=True)
class Flood:
    """One flood's figures (times in ms)."""

    answers_per_second: float
    refused: list[float]  # the 503s' latencies (Python clients), or every answer's p50, p99 (wrk)
    others: dict[str, int]  # answers that were not 503s, by kind
    health: list[float]  # on a kept-alive connection
    health_new: list[float]  # on a new connection each
    server_us: float  # CPU of the server's event loops (not its engines) per answer
    connecting: float  # seconds until every client had one answer (Python's clients)


def _server_cpu_seconds(pid: int) -> float:
    """CPU time of the server's processes that run its event loops: uvicorn's and its workers,
    not the forkservers and engine processes (whose command line names the forkserver)."""
    total = 0.0
    for p in process_tree(pid):
        try:
            if b"forkserver" in Path(f"/proc/{p}/cmdline").read_bytes():
                continue
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _flood_round(
    base: str, pid: int, clients: int, duration: int, pace: float, seeds: int, use_wrk: bool
) -> Flood:
    port = int(base.rsplit(":", 1)[1])
    receive, send = multiprocessing.get_context("spawn").Pipe(duplex=False)
    probe = multiprocessing.get_context("spawn").Process(target=_probe_process, args=(port, duration, send))
    if use_wrk:
        probe.start()
        cpu = _server_cpu_seconds(pid)
        start = time.monotonic()
        path = base + HEAVY.rsplit("&seed", 1)[0]
        load = wrk(path, duration, clients, NEW_SEED_SCRIPT.replace("BASE", str(seeds)))
        elapsed = time.monotonic() - start
        answers, ramp = load.requests, float("nan")
        refused = [load.p50_ms / 1000, load.p99_ms / 1000]
        others = {"2xx": load.requests - load.non_2xx, "socket errors": load.socket_errors}
    else:
        cpu = _server_cpu_seconds(pid)  # connecting included: its requests are few
        latencies, ramp, elapsed = asyncio.run(_flood(port, clients, pace, seeds, probe, receive))
        answers = sum(len(times) for times in latencies.values())
        refused = latencies.get(503, [])
        others = {str(status): len(times) for status, times in latencies.items() if status != 503}
    server_us = (_server_cpu_seconds(pid) - cpu) / max(answers, 1) * 1e6
    health, health_new = receive.recv()
    probe.join()
    return Flood(answers / elapsed, refused, others, health, health_new, server_us, ramp)


def _percentile_ms(seconds: list[float], at: float) -> float:
    ordered = sorted(seconds)
    return ordered[int(at * (len(ordered) - 1))] * 1000 if ordered else float("nan")


def _flood_line(name: str, result: Flood, use_wrk: bool) -> str:
    p50, p99, h50, h99, n50, n99 = _figures(result, use_wrk)
    return (
        f"{name:9} {result.answers_per_second:6.0f} answers/s, server {result.server_us:4.0f} us CPU each; "
        f"{'all answers' if use_wrk else '503'} p50 {p50:6.1f} p99 {p99:6.1f} ms; /healthz p50 {h50:5.1f} "
        f"p99 {h99:6.1f} ms, new connection p50 {n50:5.1f} p99 {n99:6.1f} ms (n={len(result.health)}); "
        f"others {result.others}{'' if use_wrk else f'; connecting took {result.connecting:.1f} s'}"
    )


@contextlib.contextmanager
def _server(checkout: Path | None, workers: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`initscope serve` of this code (tests.live.serve), or of another checkout of it."""
    options = ("--workers", str(workers), "--no-access-log")
    if checkout is None:
        with serve(options=options) as running:
            yield running
        return
    port = free_port()
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port), *options]
    environ = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with subprocess.Popen(
        command, cwd=checkout, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, proc)
            yield url, proc
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def flood(
    clients: int, duration: int, pace: float, workers: int, use_wrk: bool, rounds: int, baseline: Path | None
) -> None:
    """Rounds of the flood against this code's server, and interleaved against the baseline
    checkout's when given (the order alternates each round); each round's figures, then medians."""
    names = ["this"] if baseline is None else ["baseline", "this"]
    with contextlib.ExitStack() as stack:
        servers = {}
        for name in names:
            base, proc = stack.enter_context(_server(baseline if name == "baseline" else None, workers))
            httpx.get(f"{base}{HEAVY.format(10**9)}", timeout=120).raise_for_status()  # engines started
            servers[name] = (base, proc)
        loads = [os.getloadavg()[0]]
        results: dict[str, list[Flood]] = {name: [] for name in names}
        for round_ in range(rounds):
            for name in names if round_ % 2 == 0 else names[::-1]:
                base, proc = servers[name]
                seeds = random.randrange(1, 40) * 10**8  # none answered before, from the cache
                result = _flood_round(base, proc.pid, clients, duration, pace, seeds, use_wrk)
                results[name].append(result)
                print(f"round {round_ + 1} {_flood_line(name, result, use_wrk)}", flush=True)
            loads.append(os.getloadavg()[0])
        rss = {name: peak_rss_mib(proc.pid) for name, (_, proc) in servers.items()}
    paced = f" (each {pace} s apart on average)" if pace else " (back to back)"
    generator = "wrk -t2" if use_wrk else "Python asyncio clients"
    print(
        f"{clients} {generator}{paced}, {duration} s a round, of {HEAVY.format('<new>')} on 127.0.0.1; "
        f"{workers} worker(s), {os.cpu_count()} CPUs, load average {min(loads):.1f}-{max(loads):.1f}"
    )
    for name, runs in results.items():
        figures = [_figures(r, use_wrk) for r in runs]
        p50, p99, h50, h99, n50, n99 = (statistics.median(f[i] for f in figures) for i in range(6))
        rate = statistics.median(r.answers_per_second for r in runs)
        cpu = statistics.median(r.server_us for r in runs)
        largest, total = rss[name]
        connecting = "" if use_wrk else f"; connecting {statistics.median(r.connecting for r in runs):.1f} s"
        print(
            f"median of {len(runs)}: {name:9} {rate:6.0f} answers/s, server {cpu:4.0f} us CPU each; "
            f"{'all answers' if use_wrk else '503'} p50 {p50:6.1f} p99 {p99:6.1f} ms; "
            f"/healthz p50 {h50:5.1f} p99 {h99:6.1f} ms, new connection p50 {n50:5.1f} p99 {n99:6.1f} ms; "
            f"peak RSS {largest:.0f} MiB (largest process), {total:.0f} MiB (all){connecting}"
        )
        if name == "this":
            errors = any(r.others.get("socket errors") for r in runs)
            for what, figure in (("the 503s" if not use_wrk else "every answer", p99), ("/healthz", h99)):
                met = figure <= TARGET_FLOOD_P99_MS and not errors
                print(
                    f"issue 11's aim, p99 <= {TARGET_FLOOD_P99_MS:.0f} ms for {what} (median p99 "
                    f"{figure:.1f} ms): {'met' if met else 'not met'}"
                )
            print(f"  (/healthz on a new connection each: median p99 {n99:.1f} ms)")


def _figures(result: Flood, use_wrk: bool) -> tuple[float, float, float, float, float, float]:
    """p50 and p99 of the refusals (wrk: of every answer), of /healthz and of /healthz on a new
    connection, in ms."""
    if use_wrk:
        p50, p99 = result.refused[0] * 1000, result.refused[1] * 1000
    else:
        p50, p99 = _percentile_ms(result.refused, 0.5), _percentile_ms(result.refused, 0.99)
    kept, new = result.health, result.health_new
    h50, h99 = _percentile_ms(kept, 0.5), _percentile_ms(kept, 0.99)
    return p50, p99, h50, h99, _percentile_ms(new, 0.5), _percentile_ms(new, 0.99)


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
    parser.add_argument("--wrk", action="store_true", help="--flood: wrk's clients, not Python's")
    parser.add_argument("--rounds", type=int, default=1, help="with --baseline: rounds, each server in turn")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of the code to compare with (git worktree add DIR COMMIT), loaded in turn "
        "with this one's: saito-compare uncached at --connections and on one connection (--flood: "
        "the flood)",
    )
    args = parser.parse_args()
    if args.flood:
        if args.wrk and args.pace:
            parser.error("--pace needs Python's clients (wrk sends back to back)")
        if args.wrk and shutil.which("wrk") is None:
            sys.exit("wrk is not installed: bash scripts/install-system-deps.sh wrk")
        flood(args.clients, args.duration or 6, args.pace, args.workers, args.wrk, args.rounds, args.baseline)
        return
    args.duration = args.duration or 10
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: bash scripts/install-system-deps.sh wrk")
    if args.baseline is not None:
        compare(args.duration, args.connections, args.workers, args.rounds, args.baseline)
        return

    with serve(options=("--workers", str(args.workers), "--no-access-log")) as (base, server):
        experiment = f"{base}/api/v1/simulate?{PRESETS['saito-compare'].query}"
        for _ in range(4 * args.workers):  # warm every worker's cache (a request reaches one of them)
            httpx.get(experiment, timeout=30).raise_for_status()
        rows = [
            ("/healthz", wrk(f"{base}/healthz", args.duration, args.connections)),
            ("saito-compare, cached", wrk(experiment, args.duration, args.connections)),
        ]
        cpu = _server_cpu_seconds(server.pid)
        rows.append(
            (
                "saito-compare, new seed each",
                wrk(experiment, args.duration, args.connections, NEW_SEED_SCRIPT.replace("BASE", "0")),
            )
        )
        # (read before the backlog wrk's closed connections left is drained: those requests were
        # read, their answers not counted)
        server_ms = (_server_cpu_seconds(server.pid) - cpu) / max(rows[-1][1].requests, 1) * 1e3
        _drained(experiment)  # else the first requests on one connection wait out that backlog
        rows.append(
            (
                "  the same, one connection",
                wrk(experiment, args.duration, 1, NEW_SEED_SCRIPT.replace("BASE", "2000000000")),
            )
        )
        rss, _ = peak_rss_mib(server.pid)
    engines = load_settings().max_in_flight * args.workers
    ceiling = engines_alone(engines, args.duration, PRESETS["saito-compare"].query)

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
    print(
        f"{'engines alone, new seed each':30} {ceiling:9.0f}  ({engines} processes computing answers back to "
        f"back, no server; new seed each / engines alone: {uncached.requests_per_second / ceiling:.2f})"
    )
    print(
        f"server peak RSS {rss:.0f} MiB; its event loops' CPU (not the engines') per uncached answer "
        f"at {args.connections} connections: {server_ms:.2f} ms"
    )
    _targets(uncached, alone, args.connections)


def _engine_alone(
    query: str, first_seed: int, seconds: float, go: Event, out: multiprocessing.connection.Connection
) -> None:
    """One engine's work with no server around it: `query`'s answers (compute: run, JSON, gzip,
    as an engine process makes them) back to back, a new seed each, for `seconds` from `go`;
    sends how many and the seconds they took."""
    # Each config as the server makes it for a link with a new seed (checked_link: the link is
    # decoded once, ~25 us a seed after that, against ~36 ms an answer)
    configs = (checked_link(f"{query}&seed={seed}", Limits())[0] for seed in range(first_seed, 2**32))
    for _ in range(3):  # kernels loaded, theory cached, as in a server's warm engine
        compute(next(configs))
    out.send("ready")
    go.wait()
    answers, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        compute(next(configs))
        answers += 1
    out.send((answers, time.perf_counter() - start))


def engines_alone(processes: int, seconds: float, query: str) -> float:
    """Answers per second of `processes` processes each computing `query`'s answers back to back
    (a new seed each), started together: the most a server with that many engines could serve."""
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    pipes = [context.Pipe(duplex=False) for _ in range(processes)]
    workers = [
        context.Process(target=_engine_alone, args=(query, 3_000_000_000 + k * 10**7, seconds, go, send))
        for k, (_, send) in enumerate(pipes)
    ]
    for worker in workers:
        worker.start()
    try:
        for receive, _ in pipes:
            receive.recv()  # ready
        go.set()
        results: list[tuple[int, float]] = [receive.recv() for receive, _ in pipes]
    finally:
        for worker in workers:
            worker.join(timeout=60)
    return sum(answers for answers, _ in results) / max(elapsed for _, elapsed in results)


def _targets(uncached: Load, alone: Load, connections: int) -> None:
    print("issue 14's targets (saito-compare, uncached, a new seed per request):")
    for what, figure, met in (
        (
            f"p50 on one connection <= {TARGET_P50_MS:.0f} ms",
            f"{alone.p50_ms:.1f} ms",
            alone.requests > 0 and not alone.errors and alone.p50_ms <= TARGET_P50_MS,
        ),
        (
            f"throughput at {connections} connections >= {TARGET_RPS:.0f} req/s",
            f"{uncached.requests_per_second:.0f} req/s",
            uncached.requests > 0 and not uncached.errors and uncached.requests_per_second >= TARGET_RPS,
        ),
    ):
        print(f"  {what:45} {figure:>12}  {'met' if met else 'not met'}")


def _drained(experiment: str) -> None:
    """Once the server has finished the work wrk's closed connections left admitted (a load's
    backlog would otherwise be timed in the next target)."""
    status = experiment.split("/api/v1/", 1)[0] + "/api/v1/status"
    while httpx.get(status, timeout=10).json()["work"]["running_or_waiting"]:
        time.sleep(0.05)


def compare(duration: int, connections: int, workers: int, rounds: int, checkout: Path) -> None:
    """saito-compare uncached (a new seed each), at `connections` and on one connection, against
    this code's server and the `checkout`'s in turn (the order alternating each round): each
    round's figures, then the medians and this code's ratios to the baseline's."""
    names = ["baseline", "this"]
    figures: dict[str, list[tuple[Load, Load]]] = {name: [] for name in names}
    seeds = iter(range(1, 2**31, 10**7))  # no request finds an answer cached by an earlier one
    with contextlib.ExitStack() as stack:
        servers = {}
        for name in names:
            base, proc = stack.enter_context(_server(checkout if name == "baseline" else None, workers))
            experiment = f"{base}/api/v1/simulate?{PRESETS['saito-compare'].query}"
            for _ in range(4 * workers):  # engines started, kernels and theory cached
                httpx.get(f"{experiment}&seed={next(seeds)}", timeout=60).raise_for_status()
            servers[name] = (experiment, proc)
        loads = [os.getloadavg()[0]]
        for round_ in range(rounds):
            for name in names if round_ % 2 == 0 else names[::-1]:
                experiment, _ = servers[name]
                many = wrk(
                    experiment, duration, connections, NEW_SEED_SCRIPT.replace("BASE", str(next(seeds)))
                )
                _drained(experiment)
                one = wrk(experiment, duration, 1, NEW_SEED_SCRIPT.replace("BASE", str(next(seeds))))
                _drained(experiment)
                figures[name].append((many, one))
                print(
                    f"round {round_ + 1} {name:8} {connections} connections {many.requests_per_second:6.1f} "
                    f"req/s (p50 {many.p50_ms:6.1f} ms, errors {many.errors}); one connection p50 "
                    f"{one.p50_ms:5.1f} ms p99 {one.p99_ms:5.1f} ms, {one.requests_per_second:5.1f} req/s",
                    flush=True,
                )
            loads.append(os.getloadavg()[0])
        rss = {name: peak_rss_mib(proc.pid) for name, (_, proc) in servers.items()}
    print(
        f"saito-compare, a new seed each, wrk -t2, {duration} s a target, {rounds} round(s) each, {workers} "
        f"worker(s), {os.cpu_count()} CPUs, load average {min(loads):.1f}-{max(loads):.1f}"
    )
    medians = {}
    for name in names:
        rate = statistics.median(m.requests_per_second for m, _ in figures[name])
        p50 = statistics.median(o.p50_ms for _, o in figures[name])
        medians[name] = (rate, p50)
        print(
            f"median {name:8} {connections} connections {rate:6.1f} req/s; one connection p50 {p50:5.1f} ms; "
            f"peak RSS {rss[name][0]:.0f} MiB (largest process), {rss[name][1]:.0f} MiB (all)"
        )
    (rate_0, p50_0), (rate_1, p50_1) = medians["baseline"], medians["this"]
    print(f"this / baseline: throughput {rate_1 / rate_0:.2f}x, one-connection p50 {p50_1 / p50_0:.2f}x")
    many, one = figures["this"][-1]
    _targets(replace(many, requests_per_second=rate_1), replace(one, p50_ms=p50_1), connections)


if __name__ == "__main__":
    main()
