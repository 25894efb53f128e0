"""CPU time of one refused experiment request in the server's process, as the HTTP protocol
answers it (where it reads the request) and as the app answers it (uvicorn's own protocol, the
request a task of the app's whole stack), interleaved in one process.

    python -m bench.refusal_bench [--requests 2000] [--rounds 9]

A real app (create_app) whose work budget is full (a real experiment admitted: its engine
process is held until the end), fed bytes on a connection without a socket, so the figures are
the server's CPU alone: no load generator shares them, and no system calls (a real flood adds
~40-50 us of those per request). Each round asks both ways `--requests` times (new links, a
new seed each), the order alternating; the medians are printed with their ratio. CPU time, not
wall time: steadier when other work shares the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app import codec
from app.api.runner import Answer, Runner, compute
from app.engine.network.config import ExperimentConfig
from app.engine.network.cost import check_limits
from app.http_protocol import HeaderTimeoutProtocol
from app.main import create_app

HEAVY = "depth=10&width=1024&samples=1500&grad=0&run=relu,he_normal&seed={}"  # load_bench's


class _Transport(asyncio.Transport):
    """A connection without a socket: what the protocol writes is counted, then dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.answers += bytes(data).count(b"HTTP/1.1 503 ")

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _held(release: str, config: ExperimentConfig) -> Answer:
    """The admitted experiment's work: it waits for the file `release` (the budget stays full)."""
    while not os.path.exists(release):
        time.sleep(0.05)
    return compute(config)


async def _cpu_per_refusal(protocol: HttpToolsProtocol, seeds: range) -> float:
    """CPU seconds per request of `seeds`, each asked and answered (a 503) in turn."""
    transport = _Transport()
    protocol.connection_made(transport)
    start = time.process_time()
    for seed in seeds:
        protocol.data_received(
            f"GET /api/v1/simulate?{HEAVY.format(seed)} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        while transport.answers < seed - seeds.start + 1:  # the app's task answers in the loop
            await asyncio.sleep(0)
    spent = time.process_time() - start
    protocol.connection_lost(None)
    return spent / len(seeds)


async def _measure(requests: int, rounds: int, release: Path) -> dict[str, list[float]]:
    first = codec.to_experiment(codec.decode(HEAVY.format(0)))
    macs = check_limits(first, create_app().state.settings.limits).macs
    app = create_app()
    runner = app.state.runner = Runner(1 << 20, 1, macs, partial(_held, str(release)))
    config = Config(app=app, lifespan="off", log_config=None, server_header=False, access_log=False)
    config.load()  # as uvicorn serves it: under its proxy headers middleware
    ways = {"protocol": HeaderTimeoutProtocol, "app": HttpToolsProtocol}
    figures: dict[str, list[float]] = {name: [] for name in ways}
    try:
        admitted = asyncio.ensure_future(runner.answer(first, macs))
        await asyncio.sleep(0)  # the budget is full until it is answered
        seed = 1
        for round_ in range(rounds):
            for name in list(ways) if round_ % 2 == 0 else list(ways)[::-1]:
                protocol = ways[name](config, ServerState(), {})
                figures[name].append(await _cpu_per_refusal(protocol, range(seed, seed + requests)))
                seed += requests
        release.touch()
        await admitted
        assert runner.rejected == 2 * rounds * requests
    finally:
        release.touch()  # else closing would wait for the held engine
        runner.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(_measure(args.requests, args.rounds, Path(folder) / "release"))
    medians = {name: statistics.median(values) * 1e6 for name, values in figures.items()}
    print(
        f"CPU per refused request (a new heavy link each), medians of {args.rounds} rounds of "
        f"{args.requests}, load {os.getloadavg()[0]:.1f}:"
    )
    for name, what in (("app", "the app's stack, as a task"), ("protocol", "the HTTP protocol")):
        print(f"  {what:28} {medians[name]:6.1f} us")
    print(f"  protocol / app {medians['protocol'] / medians['app']:.2f}")


if __name__ == "__main__":
    main()
