"""The runner spreads an experiment over two threads only while it runs alone in the engines, and
hands each engine its next experiment ahead of its turn."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from app import codec
from app.api.runner import QUEUED_PER_ENGINE, SPREAD_THREADS, Answer, Runner
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


def test_runner_hands_each_engine_its_next_experiment_ahead() -> None:
    """With one engine busy, the next experiment already waits in the engine's pipe (it starts
    there when the first ends, without a round trip through the server); the one after waits in
    the server, its cost still counted."""
    handed = 1 + QUEUED_PER_ENGINE  # to the one engine: the one it runs and those queued
    assert handed < 3  # (so the third waits in the server)
    held = 2_000_001 + 2 * (time.monotonic_ns() % 10**6)
    runner = Runner(1 << 20, 1, 10**12, work=_threads_answer)
    try:

        async def scenario() -> tuple[list[int], list[bytes]]:
            tasks = [asyncio.ensure_future(runner.answer(_config(seed), 1)) for seed in (held, 6, 8)]
            deadline = time.monotonic() + 60
            while runner._active < handed and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            seen = [runner._active, runner.pending_macs, len(runner._running)]
            _flag(held).touch()
            answers = [answer.json for answer, _ in await asyncio.gather(*tasks)]
            return seen, answers

        seen, answers = run_async(scenario())
        assert seen == [handed, 3, 3]  # handed to the engine, the third waiting; all three counted
        # the first ran alone; the second was handed over beside it, so it runs on one thread
        assert answers[:2] == [str(SPREAD_THREADS).encode(), b"1"]
        assert runner._active == 0 and runner.pending_macs == 0
    finally:
        _flag(held).unlink(missing_ok=True)
        runner.close()
