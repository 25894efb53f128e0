"""The blocks bench's norm figures: every layer variant and step is timed and printed in units of
the pass, and the sizes it reports take the norm layers' kernels."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import bench.blocks_bench as blocks_bench
from app.engine.layers import norm as norm_module
from app.engine.layers import norm_kernels


@pytest.fixture(autouse=True)
def _small_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each timed call flushes the caches by reading twice the largest cache: on a machine that
    reports its host's whole L3 (480 MiB here) that is ~1 GB a call, half a minute a test. These
    tests check what the bench prints, not how well it flushes: the 64 MiB floor does."""
    monkeypatch.setattr(blocks_bench, "_last_level_cache_bytes", lambda: 0)


@pytest.mark.parametrize(("cache", "flushed"), [(0, 64 << 20), (16 << 20, 64 << 20), (48 << 20, 96 << 20)])
def test_cache_state_reads_twice_the_largest_cache_and_at_least_64_mib(
    monkeypatch: pytest.MonkeyPatch, cache: int, flushed: int
) -> None:
    monkeypatch.setattr(blocks_bench, "_last_level_cache_bytes", lambda: cache)
    assert blocks_bench.CacheState()._sweep.nbytes == flushed


def _ratios(text: str) -> dict[str, float]:
    """name -> passes from the indented lines under a 'one pass' header."""
    ratios = {}
    for line in text.splitlines():
        found = re.match(r"\s*\S+ {3}(.+?)\s+(\d+\.\d\d)(\s|$)", line)
        if found and "one pass" not in line and "aim" not in line:
            ratios[found.group(1).strip()] = float(found.group(2))
    return ratios


def test_norm_passes_prints_every_variant(capsys: pytest.CaptureFixture[str]) -> None:
    blocks_bench.norm_passes("40x1x12", 40, 12, repeats=1)
    out = capsys.readouterr().out
    ratios = _ratios(out)
    expected = {f"{kind}: {what}" for kind in ("batch", "layer", "rms") for what in ("forward", "backward")}
    expected |= {
        f"{kind}: scaled {what}" for kind in ("batch", "layer", "rms") for what in ("forward", "backward")
    }
    expected.add("batch: training forward")
    expected |= {f"{kind}: backward at init" for kind in ("batch", "layer", "rms")}
    assert set(ratios) == expected
    assert all(math.isfinite(r) and r > 0 for r in ratios.values())
    # each line's verdict on the aim (<= 1 pass) is its own number's, and the last line counts them
    verdicts = re.findall(r"(\d+\.\d\d)  (meets|MISSES)", out)
    assert len(verdicts) == len(expected)
    assert all((float(r) <= 1.0) == (word == "meets") or abs(float(r) - 1) < 0.01 for r, word in verdicts)
    met = sum(word == "meets" for _, word in verdicts)
    assert f"aim (<= 1 pass per norm layer): {met} of {len(expected)} meet it" in out


def test_steps_prints_the_unit_and_each_step(capsys: pytest.CaptureFixture[str]) -> None:
    blocks_bench.steps("40x1x12", 40, 12, repeats=1)
    ratios = _ratios(capsys.readouterr().out)
    assert ratios["unit: z - z.mean(axis=0)"] == 1.0
    assert {"its z.mean(axis=0)", "copy", "layer squares (ij,ij->i)", "y += beta (in place)"} <= set(ratios)
    assert len(ratios) == 13 and all(r > 0 for r in ratios.values())


@pytest.mark.parametrize(("samples", "width"), [(1000, 100), (1000, 512), (4096, 512)])
def test_the_bench_sizes_take_the_kernels(samples: int, width: int) -> None:
    """The layers the bench times at its sizes are the kernels' (as a network's are)."""
    x = np.random.default_rng(0).standard_normal((samples, width), dtype=np.float32)
    for kind, norm_class in norm_module.NORMS.items():
        layer = blocks_bench._scaled(norm_class(width))
        layer.forward(x, keep=True)
        assert layer._src is not None and layer._inv is not None, kind
        assert norm_kernels.fits(x, *layer.params.values()), kind
        assert norm_kernels.fits(x, layer._src, layer._inv, layer.params["gamma"]), kind


def test_against_times_the_layers_of_a_revision_beside(capsys: pytest.CaptureFixture[str]) -> None:
    """--against REV: each line carries the same layer as it was at REV (here HEAD, in git)."""
    old = blocks_bench.norm_module_at("HEAD")
    assert old is not norm_module and sorted(old.NORMS) == sorted(norm_module.NORMS)
    assert old.norm_kernels is not norm_kernels and old.norm_kernels.EPS == norm_kernels.EPS  # HEAD's
    blocks_bench.norm_passes("40x1x12", 40, 12, repeats=1, against="HEAD")
    out = capsys.readouterr().out
    assert "shuffled rounds" in out
    lines = [
        line for line in out.splitlines() if ": " in line and "one pass" not in line and "aim" not in line
    ]
    assert len(lines) == 16  # 3 norms x (forward, backward, at init, scaled both), training
    for line in lines:
        now, before = re.findall(r"\d+\.\d\d", line)
        assert "@HEAD:" in line and float(now) > 0 and float(before) > 0
