"""The runner: cache by canonical experiment, shared work in engine processes, admission within
a budget, gzip, aliases within their bytes."""

from __future__ import annotations

import asyncio
import gzip
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from app import codec
from app.api.runner import (
    ALIAS_SHARE,
    ENGINE_NICENESS,
    Answer,
    EngineCrashedError,
    OverloadedError,
    Runner,
    compute,
)
from app.engine.network.config import ExperimentConfig
from app.engine.network.cost import BudgetError, Limits
from app.main import create_app
from app.presets import PRESETS
from app.settings import Settings, load_settings
from tests.event_loop import run as run_async

SMALL = "depth=2&width=20&samples=50&run=relu,he_normal"


def _config(query: str) -> ExperimentConfig:
    return codec.to_experiment(codec.decode(query))


@contextmanager
def _runner(
    cache_bytes: int = 1 << 20,
    max_pending_macs: int = 10**12,
    work: Callable[[ExperimentConfig], Answer] = compute,
) -> Iterator[Runner]:
    runner = Runner(cache_bytes, 1, max_pending_macs, work)
    try:
        yield runner
    finally:
        runner.close()


# Work for the engine processes in the tests below (module level: they are sent by reference).
def _pid_answer(config: ExperimentConfig) -> Answer:
    return Answer(str(os.getpid()).encode(), None)


def _niceness(config: ExperimentConfig) -> Answer:
    policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else None
    return Answer(f"{os.nice(0)} {policy}".encode(), None)


def _over_a_limit(config: ExperimentConfig) -> Answer:
    raise BudgetError("runs[0].depth", "over the engine's own limit", "max_depth")


def _crash_on_seed_13(config: ExperimentConfig) -> Answer:
    if config.runs[0].seed == 13:
        os._exit(3)  # as a process killed by the kernel, or a fault in native code, would end
    return compute(config)


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def test_runner_caches_by_canonical_experiment_with_counters() -> None:
    with TestClient(create_app(Settings())) as client:
        first = client.get(f"/api/v1/simulate?{SMALL}")
        # the same experiment spelled differently (defaults given, keys reordered) is a hit
        again = client.get("/api/v1/simulate?run=relu,he_normal&samples=50&width=20&depth=2&grad=1")
        assert first.headers["x-cache"] == "miss" and again.headers["x-cache"] == "hit"
        assert first.content == again.content
        status = client.get("/api/v1/status").json()
    assert status["cache"]["hits"] == 1 and status["cache"]["misses"] == 1
    assert status["cache"]["entries"] == 1 and 0 < status["cache"]["bytes"] <= status["cache"]["max_bytes"]
    assert status["work"]["running_or_waiting"] == 0 and status["work"]["pending_macs"] == 0


def test_runner_answers_are_byte_identical_across_servers() -> None:
    bodies = []
    for _ in range(2):
        with TestClient(create_app(Settings())) as client:
            bodies.append(client.get(f"/api/v1/simulate?{SMALL}", headers={"Accept-Encoding": "gzip"}))
    assert bodies[0].content == bodies[1].content  # gzip with mtime 0: deterministic too


def test_runner_gzips_large_answers_for_clients_that_take_it() -> None:
    with TestClient(create_app(Settings())) as client:
        query = "/api/v1/simulate?range=0,1&run=sigmoid,normal&run=sigmoid,xavier&run=relu,he_normal"
        plain = client.get(query, headers={"Accept-Encoding": "identity"})
        packed = client.get(query, headers={"Accept-Encoding": "gzip, deflate"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip" and packed.headers["vary"] == "Accept-Encoding"
    assert packed.content == plain.content  # httpx decompressed it
    assert int(packed.headers["content-length"]) < len(plain.content) / 3


def test_runner_compute_compresses_only_large_answers() -> None:
    small = compute(_config("depth=1&width=2&samples=2&bins=2&grad=0&theory=0&run=relu,he_normal"))
    assert small.gzip is None or len(small.json) >= 1024
    large = compute(_config(SMALL))
    assert large.gzip is not None and gzip.decompress(large.gzip) == large.json
    assert orjson.loads(large.json)["share"] == "depth=2&width=20&samples=50&run=relu,he_normal"


def test_runner_cache_is_bounded_by_bytes() -> None:
    one = compute(_config(SMALL)).size
    with _runner(cache_bytes=int(2.5 * one)) as runner:

        async def fill() -> None:
            for seed in range(5):
                await runner.answer(_config(f"{SMALL}&seed={seed}"), 1)

        run_async(fill())
        cache = runner.status()["cache"]
    assert cache["misses"] == 5 and cache["entries"] <= 2 and cache["bytes"] <= 2.5 * one
    # an answer larger than the whole cache is served, not kept
    with _runner(cache_bytes=10) as tiny:
        answer, cached = run_async(tiny.answer(_config(SMALL), 1))
        assert not cached and answer.json and tiny.status()["cache"]["entries"] == 0


def test_runner_identical_requests_in_flight_share_one_computation() -> None:
    with _runner() as runner:

        async def both() -> list[tuple[Answer, bool]]:
            return await asyncio.gather(*(runner.answer(_config(SMALL), 1) for _ in range(3)))

        answers = run_async(both())
        status = runner.status()["cache"]
    assert len({a.json for a, _ in answers}) == 1
    assert status["misses"] == 1 and status["shared"] == 2


def test_runner_refuses_work_over_the_pending_budget_with_retry_after() -> None:
    with _runner(max_pending_macs=100) as runner:

        async def flood() -> list[tuple[Answer, bool] | BaseException]:
            jobs = [runner.answer(_config(f"{SMALL}&seed={seed}"), 60) for seed in range(4)]
            return await asyncio.gather(*jobs, return_exceptions=True)

        results = run_async(flood())
        refused = [r for r in results if isinstance(r, OverloadedError)]
        assert len(refused) == 3 and all(r.retry_after >= 1 for r in refused)
        assert isinstance(results[0], tuple)
        assert runner.status()["work"] == {
            "running_or_waiting": 0,
            "pending_macs": 0,
            "max_in_flight": 1,
            "max_pending_macs": 100,
            "rejected": 3,
            "engine_restarts": 0,
        }
        # the budget frees as work ends: the same request is admitted again
        answer, cached = run_async(runner.answer(_config(f"{SMALL}&seed=3"), 60))
        assert not cached and answer.json


def test_runner_refusal_says_what_answer_would_do_without_doing_it() -> None:
    """Runner.refusal, which the HTTP protocol asks where it reads a request, refuses exactly
    what answer() refuses (counted once, with the same Retry-After), and nothing it would
    answer from the cache, share or admit; knows() finds a cached link as typed, counting no hit."""
    links = [f"{SMALL}&seed={seed}" for seed in range(3)]
    with _runner(max_pending_macs=100) as runner:

        async def asked() -> tuple[object, ...]:
            idle = runner.refusal(_config(links[2]), 60)
            await runner.answer(_config(links[0]), 60, (links[0], Limits()))  # cached now
            running = asyncio.ensure_future(runner.answer(_config(links[1]), 60))
            await asyncio.sleep(0)  # admitted: 60 of the 100 are pending until it is answered
            hits = runner.hits
            found = (runner.knows(links[0], Limits()), runner.knows(links[2], Limits()), runner.hits - hits)
            refused = runner.refusal(_config(links[2]), 60)
            others = [runner.refusal(_config(links[0]), 60), runner.refusal(_config(links[1]), 60)]
            within = runner.refusal(_config(links[2]), 40)
            counted = runner.rejected
            with pytest.raises(OverloadedError) as raised:
                await runner.answer(_config(links[2]), 60)
            await running
            return idle, found, refused, others, within, counted, raised.value

        idle, found, refused, others, within, counted, raised = run_async(asked())
    assert idle is None  # nothing pending: an experiment within the limits always runs
    assert found == (True, False, 0)
    assert isinstance(refused, OverloadedError) and isinstance(raised, OverloadedError)
    assert refused.retry_after == raised.retry_after and str(refused) == str(raised)
    assert others == [None, None] and within is None  # cached, in flight, within the budget
    assert counted == 1 and runner.rejected == 2


def test_runner_engine_processes_run_at_a_lower_cpu_priority() -> None:
    """Engines yield the CPU to the server's event loop (health checks, cached answers and
    refusals go first when every core is busy): on Linux they run under SCHED_IDLE, elsewhere
    ENGINE_NICENESS above the server."""
    with _runner(work=_niceness) as runner:
        answer, _ = run_async(runner.answer(_config(SMALL), 1))
    niceness, policy = answer.json.decode().split()
    if hasattr(os, "SCHED_IDLE"):
        assert int(policy) == os.SCHED_IDLE != os.sched_getscheduler(0)
    else:
        assert int(niceness) == min(19, os.nice(0) + ENGINE_NICENESS) > os.nice(0)


def test_runner_always_admits_work_when_idle() -> None:
    with _runner(max_pending_macs=1) as runner:
        answer, _ = run_async(runner.answer(_config(SMALL), 10**9))
    assert answer.json


ENGINE_LINKS = [
    *(PRESETS[name].query for name in sorted(PRESETS)[:4]),
    f"{SMALL}&grad=1&loss=mse",
    "depth=3&width=16&samples=40&run=maxout,he_normal,pieces:3&run=tanh,xavier&range=-1,1",
    "depth=60&width=64&samples=64&run=linear,normal,std:10",  # overflows: counts, not NaN
]


def test_runner_engine_processes_answer_the_bytes_computed_in_process() -> None:
    """Determinism: an engine process gives the bytes this process computes, JSON and gzip alike."""
    with _runner(cache_bytes=64 << 20) as runner:
        for link in ENGINE_LINKS:
            answer, cached = run_async(runner.answer(_config(link), 1))
            assert not cached and answer == compute(_config(link)), link


def test_runner_runs_the_work_in_another_process() -> None:
    with _runner(work=_pid_answer) as runner:
        answer, _ = run_async(runner.answer(_config(SMALL), 1))
    pid = int(answer.json)
    assert pid != os.getpid()


def test_runner_engine_errors_reach_the_client_as_before() -> None:
    """An exception in an engine process is the same exception here: a ConfigError is a 422
    naming its field (pickle alone cannot rebuild ConfigError: its constructor takes other
    arguments than its args)."""
    app = create_app(Settings())
    app.state.runner = Runner(1 << 20, 1, 10**12, work=_over_a_limit)
    with TestClient(app) as client:
        response = client.get(f"/api/v1/simulate?{SMALL}")
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["query", "runs", 0, "depth"],
            "msg": "runs[0].depth: over the engine's own limit (server setting INITSCOPE_MAX_DEPTH)",
            "type": "budget_exceeded",
            "limit": "max_depth",
            "setting": "INITSCOPE_MAX_DEPTH",
        }
    ]


def test_runner_a_crashed_engine_is_a_500_and_the_next_experiment_runs_in_a_new_pool() -> None:
    crash, fine = _config(f"{SMALL}&seed=13"), _config(f"{SMALL}&seed=1")
    with _runner(work=_crash_on_seed_13) as runner:

        async def crash_then_run() -> Answer:
            with pytest.raises(EngineCrashedError):
                await asyncio.wait_for(runner.answer(crash, 1), timeout=60)  # no hang
            answer, _ = await asyncio.wait_for(runner.answer(fine, 1), timeout=60)
            return answer

        assert run_async(crash_then_run()) == compute(fine)
        status = runner.status()
        assert status["work"]["engine_restarts"] == 1 and status["work"]["pending_macs"] == 0
        assert status["cache"]["entries"] == 1  # the crash left nothing behind

    app = create_app(Settings())
    app.state.runner = Runner(1 << 20, 1, 10**12, work=_crash_on_seed_13)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get(f"/api/v1/simulate?{SMALL}&seed=13").status_code == 500
        again = client.get(f"/api/v1/simulate?{SMALL}&seed=1")
        assert again.status_code == 200 and again.content == compute(fine).json


def test_runner_engine_processes_end_with_the_app() -> None:
    app = create_app(Settings())
    app.state.runner = Runner(1 << 20, 2, 10**12, work=_pid_answer)
    with TestClient(app) as client:
        pids = {int(client.get(f"/api/v1/simulate?{SMALL}&seed={seed}").content) for seed in range(4)}
        assert pids and os.getpid() not in pids and all(_alive(pid) for pid in pids)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids)


def test_runner_aliases_are_bounded_by_bytes_and_reported() -> None:
    """Every spelling of a link is remembered (so it is answered without decoding), within
    1/ALIAS_SHARE of the cache's bytes; /api/v1/status counts them."""
    cache_bytes = 1 << 20
    with TestClient(create_app(Settings(cache_bytes=cache_bytes))) as client:
        spellings = [f"depth=2&width=20&samples={'0' * (2000 + i)}50&run=relu,he_normal" for i in range(200)]
        for query in spellings:
            assert client.get(f"/api/v1/simulate?{query}").status_code == 200
        assert client.get(f"/api/v1/simulate?{spellings[-1]}").headers["x-cache"] == "hit"
        cache = client.get("/api/v1/status").json()["cache"]
    aliases = cache["aliases"]
    assert aliases["max_bytes"] == cache_bytes // ALIAS_SHARE
    assert 0 < aliases["bytes"] <= aliases["max_bytes"] and 0 < aliases["entries"] < len(spellings)
    assert aliases["entries"] * 2000 < aliases["bytes"]  # each counts its spelling, at least
    assert cache["entries"] == 1 and cache["max_bytes"] + aliases["max_bytes"] == cache_bytes
    assert cache["hits"] == len(spellings)  # the same link, however spelled


def test_runner_overloaded_answer_is_a_503_with_retry_after() -> None:
    from app.api.errors import overloaded_response

    response = overloaded_response(OverloadedError(7))
    assert response.status_code == 503 and response.headers["retry-after"] == "7"
    detail = orjson.loads(response.body)["detail"][0]
    assert (
        detail["type"] == "overloaded" and detail["retry_after"] == 7 and "retry after 7 s" in detail["msg"]
    )


@pytest.mark.parametrize("path", ["/api/v1/export/csv", "/api/v1/export/report"])
def test_runner_exports_share_the_cache(path: str) -> None:
    with TestClient(create_app(Settings())) as client:
        client.get(f"/api/v1/simulate?{SMALL}")
        assert client.get(f"{path}?{SMALL}").status_code == 200
        assert client.get("/api/v1/status").json()["cache"]["hits"] == 1


def test_runner_a_link_seen_before_is_still_checked_against_the_limits_in_force() -> None:
    app = create_app(Settings())
    with TestClient(app) as client:
        assert client.get(f"/api/v1/simulate?{SMALL}").status_code == 200
        assert client.get(f"/api/v1/simulate?{SMALL}").headers["x-cache"] == "hit"  # by the link as typed
        app.state.settings = load_settings({"INITSCOPE_MAX_DEPTH": "1"})  # what every route reads
        refused = client.get(f"/api/v1/simulate?{SMALL}")
        assert refused.status_code == 422 and refused.json()["detail"][0]["limit"] == "max_depth"


def _sized_answer(config: ExperimentConfig) -> Answer:
    return Answer(b"x" * 40_000, None)


def test_runner_refusal_follows_the_cache_as_it_evicts() -> None:
    """refusal() finds a link's answer by its config (no encoding): an answer the cache drops for
    room, or never keeps (too large), is refused like any new link once the budget is full; the
    one kept and the one running are not."""
    links = [f"{SMALL}&seed={seed}" for seed in range(4)]
    with _runner(cache_bytes=64_000, max_pending_macs=100, work=_sized_answer) as runner:

        async def asked() -> list[list[bool]]:
            refused: list[list[bool]] = []
            await runner.answer(_config(links[0]), 60)
            await runner.answer(_config(links[1]), 60)  # room for one 40 kB answer: 0 is dropped
            for running_link, done in ((links[2], None), (links[3], links[2])):
                running = asyncio.ensure_future(runner.answer(_config(running_link), 60))
                await asyncio.sleep(0)  # admitted: the budget is full until it is answered
                refused.append([runner.refusal(_config(link), 60) is not None for link in links])
                await running
                assert done is None or runner.refusal(_config(done), 60) is None  # idle budget
            return refused

        first, second = run_async(asked())
    assert first == [True, False, False, True]  # 0 dropped, 1 kept, 2 running, 3 new
    assert second == [True, True, False, False]  # 2 kept (1 dropped for it), 3 running
    with _runner(cache_bytes=16_000, max_pending_macs=100, work=_sized_answer) as runner:

        async def too_large() -> bool:
            await runner.answer(_config(links[0]), 60)  # answered, never kept
            running = asyncio.ensure_future(runner.answer(_config(links[1]), 60))
            await asyncio.sleep(0)
            refused = runner.refusal(_config(links[0]), 60) is not None
            await running
            return refused

        assert run_async(too_large())
