"""The cache of seeded draws: copies out, bounded in bytes, least recently used dropped first."""

from __future__ import annotations

import numpy as np

from app.engine.network.memo import DRAWS, RUNS, ArrayCache, WorkCache


def test_memo_makes_once_and_hands_out_copies() -> None:
    cache = ArrayCache(max_bytes=1 << 20)
    made: list[int] = []

    def make() -> np.ndarray:
        made.append(1)
        return np.arange(10, dtype=np.float32)

    first = cache.get("k", make)
    first[0] = 99.0  # a caller's change reaches neither the cache nor the next caller
    second = cache.get("k", make)
    assert len(made) == 1
    np.testing.assert_array_equal(second, np.arange(10, dtype=np.float32))
    assert not np.shares_memory(first, second)


def test_memo_bounded_in_bytes_least_recent_dropped() -> None:
    cache = ArrayCache(max_bytes=3 * 400, max_entry_bytes=400)
    for key in "abc":
        cache.get(key, lambda: np.zeros(100, np.float32))  # 400 bytes each
    cache.get("a", lambda: np.ones(100, np.float32))  # a is used again: b is now the oldest
    cache.get("d", lambda: np.zeros(100, np.float32))
    assert len(cache) == 3 and cache.nbytes == 1200
    assert cache.get("b", lambda: np.full(100, 7.0, np.float32))[0] == 7.0  # b was dropped
    assert cache.get("a", lambda: np.full(100, 7.0, np.float32))[0] == 0.0  # a was kept


def test_memo_does_not_keep_large_arrays() -> None:
    cache = ArrayCache(max_bytes=1 << 20, max_entry_bytes=100)
    cache.get("big", lambda: np.zeros(1000, np.float32))
    assert len(cache) == 0 and cache.nbytes == 0


def test_memo_clear_forgets_everything() -> None:
    cache = ArrayCache()
    cache.get("k", lambda: np.zeros(10, np.float32))
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0
    assert cache.get("k", lambda: np.ones(10, np.float32))[0] == 1.0


class _Work:
    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes


def test_work_cache_hands_out_the_same_object_bounded_in_bytes() -> None:
    cache: WorkCache[_Work] = WorkCache(max_bytes=300, max_entry_bytes=150)
    works = {key: _Work(100) for key in "abc"}
    for key, work in works.items():
        cache.put(key, work)
    taken = cache.take("a")
    assert taken is works["a"]  # not a copy, and out of the cache while in use
    assert cache.take("a") is None and len(cache) == 2 and cache.nbytes == 200
    cache.put("a", taken)  # back, as the most recently used
    cache.put("d", _Work(100))
    assert len(cache) == 3 and cache.nbytes == 300
    assert cache.take("b") is None  # the least recently used went first
    cache.put("a", _Work(50))  # replacing an entry counts its bytes once
    assert cache.nbytes == 250
    cache.put("big", _Work(151))
    assert cache.take("big") is None and cache.nbytes == 250


def test_work_cache_measures_an_item_when_stored_and_bounds_their_number() -> None:
    cache: WorkCache[_Work] = WorkCache(max_bytes=1000, max_entry_bytes=1000, max_entries=2)
    work = _Work(100)
    cache.put("a", work)
    taken = cache.take("a")
    assert taken is work
    work.nbytes = 300  # it grew while in use (a repeated run's new summaries)
    cache.put("a", work)
    assert cache.nbytes == 300
    cache.put("b", _Work(1))
    cache.put("c", _Work(1))  # a third entry: the oldest goes, whatever the bytes
    assert len(cache) == 2 and cache.nbytes == 2 and cache.take("a") is None


def test_clearing_the_draws_clears_the_work_made_from_them() -> None:
    runs: WorkCache[_Work] = WorkCache()
    draws = ArrayCache(dependents=(runs,))
    runs.put("k", _Work(10))
    draws.clear()
    assert len(runs) == 0 and runs.nbytes == 0
    RUNS.put("k", _Work(10))
    DRAWS.clear()  # the benchmarks' "first request" also forgets the runs' kept work
    assert len(RUNS) == 0
