"""The cache of seeded draws: copies out, bounded in bytes, least recently used dropped first."""

from __future__ import annotations

import numpy as np

from app.engine.network.memo import ArrayCache


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
