"""The spread bench: both thread counts sampled in turn, samples set aside when other processes
used the CPU meanwhile, and its report."""

from __future__ import annotations

import re

import bench.spread_bench as spread_bench


def test_spread_bench_samples_both_and_reports_the_ratio() -> None:
    config = spread_bench.sized("60x2x8")
    found = spread_bench.measure(config, repeats=2, seconds=120, foreign_ms=1e9)  # every sample kept
    assert [len(found[t].wall) for t in (1, 2)] == [2, 2]
    assert all(found[t].set_aside == 0 and min(found[t].wall) > 0 for t in (1, 2))
    text = spread_bench.report("60x2x8", found, 1e9)
    assert re.search(r"2 thread\(s\): wall median +[\d.]+ min +[\d.]+ ms, CPU median", text)
    assert re.search(r"spread / one thread, wall medians: \d+\.\d\d", text)


def test_spread_bench_sets_aside_samples_others_shared() -> None:
    """Allowed far less than no CPU of others, no sample is quiet: all are set aside and said so."""
    found = spread_bench.measure(spread_bench.sized("60x2x8"), repeats=1, seconds=0.5, foreign_ms=-1e9)
    assert all(not found[t].wall and found[t].set_aside > 0 for t in (1, 2))
    text = spread_bench.report("60x2x8", found, -1e9)
    assert "no quiet sample" in text and "spread / one thread" not in text


def test_spread_bench_counts_every_process() -> None:
    before = spread_bench.busy_seconds()
    sum(i * i for i in range(3_000_000))  # ~0.1 s of this process's CPU
    assert spread_bench.busy_seconds() > before
