"""The runner spreads an experiment over two threads only while it runs alone in the engines."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from app import codec
from app.api.runner import SPREAD_THREADS, Answer, Runner
from app.engine.network.config import ExperimentConfig
from app.engine.network.experiment import threads_asked
from tests.event_loop import run as run_async

SMALL = "depth=2&width=20&samples=50&run=relu,he_normal"


def _flag(seed: int) -> Path:
    return Path(tempfile.gettempdir()) / f"initscope-test-spread-{seed}"


# Work for the engine processes (module level: sent by reference). An odd seed holds its engine
# until the test lays its flag down; the answer is the threads the experiment would spread over.
def _threads_answer(config: ExperimentConfig) -> Answer:
    seed = config.runs[0].seed
    deadline = time.monotonic() + 60
    while seed % 2 and not _flag(seed).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return Answer(str(threads_asked()).encode(), None)


def _config(seed: int) -> ExperimentConfig:
    return codec.to_experiment(codec.decode(f"{SMALL}&seed={seed}"))


def test_runner_spreads_only_an_experiment_alone_in_the_engines() -> None:
    held = 1_000_001 + 2 * (time.monotonic_ns() % 10**6)  # odd, and this run's own flag
    runner = Runner(1 << 20, 2, 10**12, work=_threads_answer)
    try:

        async def scenario() -> list[bytes]:
            first = asyncio.ensure_future(runner.answer(_config(held), 1))
            while runner._active == 0:  # in an engine now
                await asyncio.sleep(0.01)
            beside, _ = await runner.answer(_config(2), 1)  # while the first runs
            _flag(held).touch()
            alone_first, _ = await first
            after, _ = await runner.answer(_config(4), 1)  # alone again
            return [alone_first.json, beside.json, after.json]

        assert run_async(scenario()) == [str(SPREAD_THREADS).encode(), b"1", str(SPREAD_THREADS).encode()]
        assert runner._active == 0
    finally:
        _flag(held).unlink(missing_ok=True)
        runner.close()
