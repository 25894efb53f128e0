"""The seeds' claims, reproduced end to end through make_experiment and run_experiment."""

from __future__ import annotations

import gc
import io
import math
import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.engine.layers.activations import ACTIVATIONS
from app.engine.layers.initializers import INITIALIZERS
from app.engine.measure.stats import PERCENTILES, Extent, TensorStats, scan
from app.engine.network import experiment
from app.engine.network.backward import LayerGradient, backward, upstream_gradient
from app.engine.network.config import ExperimentConfig, RunConfig, make_experiment
from app.engine.network.cost import Limits, check_limits
from app.engine.network.experiment import ExperimentResult, RunResult, run_experiment
from app.engine.network.forward import forward, input_samples
from app.engine.network.labels import default_label
from app.engine.network.memo import DRAWS, RUNS
from app.engine.network.result import gradient_stats as _gradient_stats

ROOT = Path(__file__).resolve().parents[3]

# Saito ch. 6: 1000 samples of 100 standard-normal features, 5 layers of 100 units, no bias.
SAITO = {"samples": 1000, "input_dim": 100, "depth": 5, "width": 100, "bias": "none", "input": "normal"}


def _post(run: RunResult) -> list[TensorStats]:
    return [layer.post for layer in run.layers]


def _stds(run: RunResult) -> list[float]:
    stds = [s.std for s in _post(run)]
    assert all(s is not None for s in stds)
    return [float(s) for s in stds if s is not None]


def _run(shared: dict[str, Any], runs: list[dict[str, Any]], **kwargs: Any) -> ExperimentResult:
    cfg = make_experiment(shared, runs, **kwargs)
    check_limits(cfg, Limits())  # every experiment here is one the server would accept
    return run_experiment(cfg)


@pytest.fixture(scope="module")
def saito() -> ExperimentResult:
    return _run(
        SAITO,
        [
            {"activation": "sigmoid", "init": "normal", "std": 1.0},
            {"activation": "sigmoid", "init": "normal", "std": 0.01},
            {"activation": "sigmoid", "init": "xavier"},
            {"activation": "tanh", "init": "xavier"},
            {"activation": "relu", "init": "normal", "std": 0.01},
            {"activation": "relu", "init": "xavier"},
            {"activation": "relu", "init": "he_normal"},
        ],
    )


def test_experiment_saito_shape(saito: ExperimentResult) -> None:
    assert len(saito.runs) == 7
    for run in saito.runs:
        assert [layer.index for layer in run.layers] == [1, 2, 3, 4, 5]
        for layer in run.layers:
            assert layer.units == 100
            assert layer.pre.count == layer.post.count == 100_000
            assert int(layer.post.counts.sum()) == 100_000
            assert len(layer.post.edges) == 31


def test_experiment_saito_sigmoid_std1_saturates(saito: ExperimentResult) -> None:
    """E1: activations pile up at 0 and 1."""
    for stats in _post(saito.runs[0]):
        assert stats.saturated_fraction is not None
        assert stats.saturated_fraction > 0.5
        # The two outer bins of the 30 on (0, 1) hold a large share of the mass.
        assert (stats.counts[0] + stats.counts[-1]) / stats.count > 0.4


def test_experiment_saito_sigmoid_std001_piles_at_half(saito: ExperimentResult) -> None:
    """E2: activations concentrate near 0.5 (layer 1: std 0.25 * 0.1; then about 0.012)."""
    for j, stats in enumerate(_post(saito.runs[1])):
        assert stats.std is not None
        assert stats.mean is not None
        assert stats.percentiles is not None
        assert stats.std < (0.03 if j == 0 else 0.015)
        assert abs(stats.mean - 0.5) < 0.01
        assert 0.45 < stats.percentiles[1] < stats.percentiles[-2] < 0.55  # 6.68% .. 93.32%
        assert stats.saturated_fraction == 0.0


def test_experiment_saito_sigmoid_xavier_between(saito: ExperimentResult) -> None:
    """E3: a wider spread than std 0.01, without the saturation of std 1."""
    for wide, narrow, xavier in zip(
        _post(saito.runs[0]), _post(saito.runs[1]), _post(saito.runs[2]), strict=True
    ):
        assert narrow.std is not None and wide.std is not None and xavier.std is not None
        assert 2 * narrow.std < xavier.std < wide.std / 2
        assert xavier.saturated_fraction is not None
        assert xavier.saturated_fraction < 0.01


def test_experiment_saito_tanh_xavier_symmetric(saito: ExperimentResult) -> None:
    """E4: a symmetric, well-spread bell in every layer."""
    for stats in _post(saito.runs[3]):
        assert stats.mean is not None and stats.std is not None and stats.percentiles is not None
        assert abs(stats.mean) < 0.02
        assert 0.2 < stats.std < 0.7
        p = np.array(stats.percentiles[1:-1])
        np.testing.assert_allclose(p, -p[::-1], atol=0.05)


def test_experiment_saito_relu_std001_collapses(saito: ExperimentResult) -> None:
    """E5: activations collapse towards 0 with depth (each layer: 0.01 * sqrt(100 / 2))."""
    stds = _stds(saito.runs[4])
    assert stds[-1] < 1e-3 * stds[0]
    for before, after in pairwise(stds):
        assert after < 0.15 * before


def test_experiment_saito_relu_xavier_shrinks(saito: ExperimentResult) -> None:
    """E6: the spread shrinks layer by layer (about 1 / sqrt(2) per layer)."""
    stds = _stds(saito.runs[5])
    for before, after in pairwise(stds):
        assert after < 0.85 * before
    assert stds[-1] < 0.4 * stds[0]


def test_experiment_saito_relu_he_keeps_spread(saito: ExperimentResult) -> None:
    """E7: the same spread in every layer."""
    stds = _stds(saito.runs[6])
    for std in stds:
        assert 0.5 * stds[0] < std < 2.0 * stds[0]
    assert all(s.zero_fraction == pytest.approx(0.5, abs=0.1) for s in _post(saito.runs[6]))


def test_experiment_relu_he_deep_keeps_spread() -> None:
    """E7 over 50 layers. At width 100 finite-width fluctuations of log(Var) add up to a standard
    deviation of about sqrt(50 * 5 / 100) ~ 1.6 over 50 layers, so a factor-2 band is a claim
    about wide layers: at width 1000 it is a ~2.5-sigma band."""
    result = _run(
        {**SAITO, "depth": 50, "width": 1000, "samples": 100}, [{"activation": "relu", "init": "he_normal"}]
    )
    stds = _stds(result.runs[0])
    assert len(stds) == 50
    for std in stds:
        assert 0.5 * stds[0] < std < 2.0 * stds[0]


def test_experiment_relu_std001_deep_collapses() -> None:
    result = _run(
        {**SAITO, "depth": 50},
        [{"activation": "relu", "init": "normal", "std": 0.01}, {"activation": "relu", "init": "he_normal"}],
    )
    small = result.runs[0].layers
    first_std = small[0].post.std
    assert first_std is not None
    for layer in small[10:]:
        assert layer.post.max is not None
        assert layer.post.max < 1e-9 * first_std
    # The collapsed run shares its layers' range with the healthy one and still bins every value.
    for a, b in zip(small, result.runs[1].layers, strict=True):
        assert a.post.edges[0] == b.post.edges[0]
        assert a.post.edges[-1] == b.post.edges[-1]
        assert int(a.post.counts.sum()) == a.post.count == 100_000


# ---------------------------------------------------------------- Nielsen


# Nielsen's setup: 1000 inputs, half of them 1; many units, so pooled variances are precise.
NIELSEN = {
    "input": "binary",
    "input_fraction": 0.5,
    "input_dim": 1000,
    "depth": 1,
    "width": 4000,
    "samples": 500,
}


def test_experiment_nielsen_n1_variance_501() -> None:
    """N1: 500 of 1000 inputs are 1; weights and bias N(0, 1): Var(z) = 500 + 1; sigmoid saturates.

    The pooled variance over 4000 units has a relative standard error of about 1.1%."""
    result = _run(
        NIELSEN,
        [{"activation": "sigmoid", "init": "normal", "std": 1.0, "bias": "normal", "bias_std": 1.0}],
    )
    pre = result.runs[0].layers[0].pre
    assert pre.std is not None and pre.mean is not None
    assert pre.std**2 == pytest.approx(501.0, rel=0.05, abs=0)
    assert abs(pre.mean) < 0.1 * math.sqrt(501.0)
    post = result.runs[0].layers[0].post
    assert post.saturated_fraction is not None
    # P(|z| > 3.48) for z ~ N(0, 501): the sigmoid is within 3% of 0 or 1.
    assert post.saturated_fraction == pytest.approx(0.877, abs=0.03)


def test_experiment_nielsen_n2_variance_1_5() -> None:
    """N2: weights N(0, 1/1000) (the texts' Xavier), bias N(0, 1): Var(z) = 0.5 + 1 = 1.5, and
    most z in (-1, 1) where the sigmoid is steep: P(|N(0, 1.5)| < 1) = 58.6%."""
    result = _run(
        NIELSEN,
        [{"activation": "sigmoid", "init": "xavier", "bias": "normal", "bias_std": 1.0}],
        pre_range=[-1.0, 1.0],
    )
    pre = result.runs[0].layers[0].pre
    assert pre.std is not None and pre.percentiles is not None
    assert pre.std**2 == pytest.approx(1.5, rel=0.05, abs=0)
    sigma = math.sqrt(1.5)
    assert PERCENTILES[2] == 15.87
    assert PERCENTILES[6] == 84.13
    assert pre.percentiles[2] == pytest.approx(-sigma, rel=0.05, abs=0)
    assert pre.percentiles[6] == pytest.approx(sigma, rel=0.05, abs=0)
    inside = int(pre.counts.sum()) / pre.count
    assert inside == pytest.approx(0.586, abs=0.03)
    assert pre.below + pre.above + int(pre.counts.sum()) == pre.count
    assert pre.below == pytest.approx(pre.above, rel=0.1, abs=0)
    post = result.runs[0].layers[0].post
    assert post.saturated_fraction is not None
    assert post.saturated_fraction < 0.05


# ---------------------------------------------------------------- Ng: symmetry


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize(
    ("init", "params"), [("zeros", {}), ("constant", {"value": 0.5}), ("constant", {"value": -0.02})]
)
def test_experiment_ng_constant_init_one_distinct_unit(
    activation: str, init: str, params: dict[str, Any]
) -> None:
    """Claim A: with all weights equal, every unit of a layer computes the same function."""
    result = _run(
        {**SAITO, "bias": "zeros", "width": 50}, [{"activation": activation, "init": init, **params}]
    )
    for layer in result.runs[0].layers:
        assert layer.distinct_units == 1


def test_experiment_ng_hidden_tanh_sigmoid_output_symmetric() -> None:
    result = _run(
        {**SAITO, "bias": "zeros"},
        [{"activation": "tanh", "output_activation": "sigmoid", "init": "zeros"}],
    )
    layers = result.runs[0].layers
    assert [layer.distinct_units for layer in layers] == [1] * 5
    assert layers[-1].activation == "sigmoid"
    assert layers[-1].post.min == layers[-1].post.max == 0.5


def test_experiment_ng_small_random_init_breaks_symmetry() -> None:
    """Claim B: W = randn * 0.01, b = 0 breaks the symmetry: every unit differs."""
    result = _run({**SAITO, "bias": "zeros"}, [{"activation": "tanh", "init": "normal", "std": 0.01}])
    for layer in result.runs[0].layers:
        assert layer.distinct_units == 100


def test_experiment_dead_relu_units() -> None:
    """Claim D: ReLU units zero for every sample are dead; zero init kills them all, He none."""
    result = _run(
        {**SAITO, "bias": "zeros"},
        [{"activation": "relu", "init": "zeros"}, {"activation": "relu", "init": "he_normal"}],
    )
    assert [layer.dead_units for layer in result.runs[0].layers] == [100] * 5
    assert result.runs[1].layers[0].dead_units == 0


def test_experiment_large_weights_saturate_tanh() -> None:
    """Claim C: large weights push z into tanh's flat tails."""
    result = _run(
        SAITO,
        [{"activation": "tanh", "init": "normal", "std": 1.0}, {"activation": "tanh", "init": "xavier"}],
    )
    for big, good in zip(result.runs[0].layers, result.runs[1].layers, strict=True):
        assert big.post.saturated_fraction is not None and good.post.saturated_fraction is not None
        assert big.post.saturated_fraction > 0.5
        assert big.post.saturated_fraction > 5 * good.post.saturated_fraction


# ---------------------------------------------------------------- determinism and precision

DIGEST_SCRIPT = """
import hashlib
import numpy as np
from app.engine.network.config import make_experiment
from app.engine.network.experiment import run_experiment

def digest():
    cfg = make_experiment(
        {"samples": 300, "input_dim": 40, "depth": 4, "width": 30, "bias": "normal", "seed": 1234},
        [
            {"activation": "tanh", "init": "xavier"},
            {"activation": "relu", "init": "he_uniform", "input": "uniform"},
            {"activation": "maxout", "pieces": 3, "init": "orthogonal", "input": "binary"},
            {"activation": "gelu", "init": "lsuv", "output_activation": "sigmoid"},
            {"activation": "selu", "init": "lecun_normal", "bins": 17},
        ],
    )
    parts = []
    for run in run_experiment(cfg).runs:
        for layer in run.layers:
            for s in (layer.pre, layer.post):
                parts.append(repr((s.counts.tolist(), s.edges.tolist(), s.mean, s.std, s.percentiles,
                                   s.zero_fraction, s.saturated_fraction)))
            parts.append(repr((layer.dead_units, layer.distinct_units)))
    return hashlib.sha256("\\n".join(parts).encode()).hexdigest()
"""


def test_experiment_deterministic_across_processes() -> None:
    digests = []
    # another hash seed, and another BLAS thread count (as on a machine with more CPUs)
    for hash_seed, threads in (("1", "1"), ("2", "2")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OPENBLAS_NUM_THREADS": threads}
        out = subprocess.run(
            [sys.executable, "-c", DIGEST_SCRIPT + "\nprint(digest())"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        digests.append(out.stdout.strip())
    namespace: dict[str, Any] = {}
    exec(DIGEST_SCRIPT, namespace)
    digests.append(namespace["digest"]())
    assert len(digests[0]) == 64
    assert digests[0] == digests[1] == digests[2]


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_experiment_float32_matches_float64(activation: str) -> None:
    cfg = make_experiment(
        {"samples": 500, "input_dim": 100, "depth": 5, "width": 100, "bias": "normal", "bias_std": 0.1},
        [{"activation": activation, "init": "xavier"}],
    )
    r32, r64 = run_experiment(cfg), run_experiment(cfg, dtype=np.float64)
    for l32, l64 in zip(r32.runs[0].layers, r64.runs[0].layers, strict=True):
        for s32, s64 in ((l32.pre, l64.pre), (l32.post, l64.post)):
            assert (
                s64.std is not None and s32.std is not None and s32.mean is not None and s64.mean is not None
            )
            assert s32.std == pytest.approx(s64.std, rel=1e-3, abs=0)
            assert abs(s32.mean - s64.mean) <= 1e-3 * s64.std
            assert s32.percentiles is not None and s64.percentiles is not None
            np.testing.assert_allclose(s32.percentiles, s64.percentiles, atol=1e-3 * s64.std)
            assert int(np.abs(s32.counts - s64.counts).sum()) <= 1e-3 * s64.count
        assert l32.dead_units == l64.dead_units
        assert l32.distinct_units == l64.distinct_units


# ---------------------------------------------------------------- shared ranges


def test_experiment_shared_post_ranges() -> None:
    result = _run(
        {**SAITO, "width": 40, "samples": 300},
        [
            {"activation": "relu", "init": "he_normal"},
            {"activation": "leaky_relu", "init": "xavier", "bins": 12},
            {"activation": "elu", "init": "normal", "std": 0.5},
            {"activation": "sigmoid", "init": "normal", "std": 1.0},
            {"activation": "tanh", "init": "xavier", "bins": 7},
            {"activation": "tanh", "output_activation": "linear", "init": "xavier", "depth": 3},
        ],
    )
    runs = result.runs
    for j in range(5):
        present = [run for run in runs if j < len(run.layers)]
        layers = [run.layers[j] for run in present]
        # z is unbounded for every activation: one range for all runs of this layer.
        assert len({(layer.pre.edges[0], layer.pre.edges[-1]) for layer in layers}) == 1
        assert layers[0].pre.edges[0] == min(layer.pre.min for layer in layers if layer.pre.min is not None)
        assert layers[0].pre.edges[-1] == max(layer.pre.max for layer in layers if layer.pre.max is not None)
        unbounded = [
            layer for layer in layers if None in ACTIVATIONS[layer.activation].bounds({"alpha": 1.0})
        ]
        assert {layer.activation for layer in unbounded} >= {"relu", "leaky_relu", "elu"}
        assert len({(layer.post.edges[0], layer.post.edges[-1]) for layer in unbounded}) == 1
        assert unbounded[0].post.edges[0] == min(
            layer.post.min for layer in unbounded if layer.post.min is not None
        )
        assert unbounded[0].post.edges[-1] == max(
            layer.post.max for layer in unbounded if layer.post.max is not None
        )
        for run, layer in zip(present, layers, strict=True):
            assert len(layer.post.edges) == run.config.bins + 1
            assert len(layer.pre.edges) == run.config.bins + 1
            assert int(layer.post.counts.sum()) == layer.post.count
            assert int(layer.pre.counts.sum()) == layer.pre.count
        np.testing.assert_allclose(runs[3].layers[j].post.edges, np.linspace(0.0, 1.0, 31))
        np.testing.assert_allclose(runs[4].layers[j].post.edges, np.linspace(-1.0, 1.0, 8))
    # The output layer of the tanh -> linear run is unbounded: it joins the shared range.
    last = runs[5].layers[2]
    assert last.activation == "linear"
    assert last.post.edges[0] == runs[0].layers[2].post.edges[0]
    assert last.post.edges[-1] == runs[0].layers[2].post.edges[-1]
    np.testing.assert_allclose(runs[5].layers[1].post.edges, np.linspace(-1.0, 1.0, 31))


def test_experiment_explicit_ranges() -> None:
    result = _run(
        {**SAITO, "width": 40, "samples": 300},
        [{"activation": "relu", "init": "he_normal"}, {"activation": "sigmoid", "init": "normal"}],
        post_range=[0.0, 1.0],
        pre_range=[-2.0, 2.0],
    )
    for run in result.runs:
        for layer in run.layers:
            np.testing.assert_allclose(layer.post.edges, np.linspace(0.0, 1.0, 31))
            np.testing.assert_allclose(layer.pre.edges, np.linspace(-2.0, 2.0, 31))
            for stats in (layer.pre, layer.post):
                assert stats.below + stats.above + int(stats.counts.sum()) == stats.count
    relu_first = result.runs[0].layers[0]
    assert relu_first.post.above > 0  # He-initialized ReLU values beyond 1
    assert relu_first.post.below == 0
    assert relu_first.pre.below > 0
    assert relu_first.pre.above > 0


def test_experiment_constant_layer_range() -> None:
    """A layer with one value everywhere gets a unit-wide range centred on it."""
    result = _run(
        {**SAITO, "bias": "constant", "bias_value": 0.25}, [{"activation": "linear", "init": "zeros"}]
    )
    for layer in result.runs[0].layers:
        assert layer.pre.min == layer.pre.max == 0.25
        assert layer.pre.edges[0] == pytest.approx(-0.25)
        assert layer.pre.edges[-1] == pytest.approx(0.75)
        assert layer.pre.std == 0.0
        assert int(layer.pre.counts.sum()) == layer.pre.count


def test_experiment_huge_constant_layer() -> None:
    """Binary inputs with a fixed number of ones and a constant power-of-two weight give every
    unit and sample the same exact value, 2**64 at layer 5 (linear activation)."""
    result = _run(
        {"input": "binary", "input_dim": 128, "samples": 50, "depth": 5, "width": 128},
        [{"activation": "linear", "init": "constant", "value": 64.0}],
    )
    last = result.runs[0].layers[-1]
    assert last.pre.min == last.pre.max == 2.0**64
    assert int(last.pre.counts.sum()) == last.pre.count


def test_experiment_runs_of_different_depths() -> None:
    result = _run(
        {**SAITO, "width": 20, "samples": 100},
        [
            {"activation": "tanh", "init": "xavier", "depth": 2},
            {"activation": "relu", "init": "he_normal", "width": [5, 6, 7, 8]},
        ],
    )
    assert [len(run.layers) for run in result.runs] == [2, 4]
    assert [layer.units for layer in result.runs[1].layers] == [5, 6, 7, 8]


def test_experiment_same_inputs_for_every_run() -> None:
    """Constant weights make layer 1's z a function of the inputs only: equal across runs that
    share input settings, different for a run with its own seed."""
    result = _run(
        {**SAITO, "width": 10, "samples": 200, "init": "constant", "value": 0.1, "bins": 10},
        [{"activation": "tanh"}, {"activation": "relu", "depth": 2}, {"activation": "sigmoid", "seed": 1}],
    )
    a, b, c = (run.layers[0].pre for run in result.runs)
    assert a.mean == b.mean
    assert a.std == b.std
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.mean != c.mean


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("init", ["xavier", "normal"])
def test_experiment_invariants(activation: str, init: str) -> None:
    """Whatever the network does, every summary is internally consistent."""
    result = _run(
        {**SAITO, "width": 30, "samples": 200, "bias": "normal"}, [{"activation": activation, "init": init}]
    )
    for layer in result.runs[0].layers:
        assert layer.activation == activation
        assert 0 <= layer.dead_units <= layer.units
        assert layer.distinct_units is not None
        assert 1 <= layer.distinct_units <= layer.units
        for stats in (layer.pre, layer.post):
            assert stats.count + stats.nan_count + stats.inf_count > 0
            assert int(stats.counts.sum()) + stats.below + stats.above == stats.count
            assert stats.min is not None and stats.max is not None and stats.mean is not None
            assert stats.std is not None and stats.percentiles is not None
            assert stats.min <= stats.mean <= stats.max
            assert list(stats.percentiles) == sorted(stats.percentiles)
            assert (stats.std > 0) == (stats.min < stats.max)
            assert 0.0 <= stats.zero_fraction <= 1.0
        low, high = ACTIVATIONS[activation].bounds(result.runs[0].config.activation_params())
        assert layer.post.saturated_fraction is None or (low is not None and high is not None)


def test_experiment_overflow_reported_not_raised() -> None:
    """Exploding networks overflow to inf and NaN: counted per layer, never a warning."""
    result = _run(
        {"samples": 200, "input_dim": 100, "depth": 20, "width": 100},
        [{"activation": "linear", "init": "normal", "std": 100.0}, {"activation": "tanh", "init": "xavier"}],
    )
    exploded = result.runs[0].layers[-1]
    assert exploded.post.nan_count + exploded.post.inf_count == 200 * 100
    assert exploded.post.count == 0
    assert exploded.distinct_units is None
    healthy = result.runs[1].layers[-1]
    assert healthy.post.count == 200 * 100
    assert healthy.post.nan_count == healthy.post.inf_count == 0


def _true_gradients(run: RunConfig, position: int) -> list[np.ndarray]:
    """dL/dz of every layer at its true scale in float64 (underflowing to 0 where it does), as
    run_experiment computes it."""
    x = input_samples(run, np.float32)
    layers = list(forward(run, x, position, np.float32))
    grads, _ = backward(run, layers, x, upstream_gradient(run, position, layers[-1].a, "normal"))
    with np.errstate(under="ignore"):
        return [np.ldexp(g.delta.astype(np.float64), g.exponent) for g in grads]


VANISHING = {"activation": "tanh", "init": "xavier", "gain": 0.01}  # the gradient shrinks ~100x a layer


def test_experiment_vanished_gradient_underflows_to_zero() -> None:
    """200 tanh layers with Xavier x 0.01: going back, dL/dz falls below float64's subnormals
    (2**-1074) by layer ~40. Those values are 0; the layers in between are subnormal; every
    statistic is that of the true values in float64."""
    result = _run({"depth": 200, "width": 10, "samples": 10}, [VANISHING])
    truth = _true_gradients(result.config.runs[0], 0)
    for layer, values in zip(result.runs[0].layers, truth, strict=True):
        grad = layer.grad
        assert grad is not None
        assert int(grad.counts.sum()) == grad.count == 100 and grad.below == grad.above == 0
        assert (grad.min, grad.max) == (float(values.min()), float(values.max()))
        assert grad.zero_fraction == float(np.mean(values == 0.0))
        assert grad.std is not None and grad.mean is not None
        shift = -math.frexp(float(np.abs(values).max()))[1]  # std of the values times 2**shift, exact
        std = math.ldexp(float(np.ldexp(values, shift).std()), -shift)
        assert grad.std == pytest.approx(std, rel=1e-5, abs=0)
        assert np.all(np.isfinite(grad.edges)) and np.all(np.diff(grad.edges) >= 0)
    first = result.runs[0].layers[0].grad
    assert first is not None
    assert first.min == first.max == first.mean == first.std == 0.0 and first.zero_fraction == 1.0
    assert any(0.0 < abs(float(v.max())) < 2.0**-1022 for v in truth)  # some layer is subnormal


def test_experiment_vanished_gradient_beside_a_healthy_one() -> None:
    """Gradient histograms share a range across runs: a healthy run's range is ~1e1300 times
    the vanished run's own, which float64 cannot express in the vanished run's units."""
    result = _run(
        {"depth": 200, "width": 10, "samples": 10},
        [VANISHING, {"activation": "tanh", "init": "xavier"}],
    )
    for j in (0, 45, 150, 199):
        vanished, healthy = (run.layers[j].grad for run in result.runs)
        assert vanished is not None and healthy is not None
        np.testing.assert_array_equal(vanished.edges, healthy.edges)
        assert int(vanished.counts.sum()) == vanished.count == 100
    first = result.runs[0].layers[0].grad
    assert first is not None and first.std == 0.0
    middle = int(np.searchsorted(first.edges, 0.0, side="right")) - 1
    assert first.counts[middle] == 100  # every value is 0: all in the bin that holds 0


def test_experiment_gradient_beyond_float64_is_infinite() -> None:
    """A stored gradient 2**1100 times its delta is past float64's largest value where |delta| >
    2**-76: those values are inf (counted, as the forward pass counts its own), the rest binned
    beside a healthy run's on one range ~1e300 wide."""
    config = make_experiment({"depth": 1, "width": 10, "samples": 10}, [VANISHING, VANISHING])
    delta = np.linspace(-0.9, 0.9, 100, dtype=np.float32).reshape(10, 10)
    delta[0, :4] = [1e-30, -2e-30, 3e-31, 0.0]  # 1e301 and so on: finite
    grads = {
        0: LayerGradient(delta, 1100, 0.0, 0.0, None),
        1: LayerGradient(delta, 0, 0.0, 0.0, None),
    }
    exploded, healthy = (_gradient_stats(config, grads)[i] for i in (0, 1))
    assert (exploded.count, exploded.inf_count) == (4, 96)
    assert exploded.min is not None and exploded.mean is not None and exploded.std is not None
    assert exploded.max == math.ldexp(float(np.float32(1e-30)), 1100) and exploded.min < -1e301
    assert int(exploded.counts.sum()) == 4 and int(healthy.counts.sum()) == healthy.count == 100
    np.testing.assert_array_equal(exploded.edges, healthy.edges)
    assert all(math.isfinite(v) for v in (*exploded.edges, exploded.mean, exploded.std))


# ---------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("fields", "label"),
    [
        ({"activation": "sigmoid", "init": "normal", "std": 1.0}, "sigmoid, N(0, 1)"),
        ({"activation": "sigmoid", "init": "normal", "std": 0.01}, "sigmoid, N(0, 0.01²)"),
        ({"activation": "tanh", "output_activation": "sigmoid", "init": "xavier"}, "tanh → sigmoid, Xavier"),
        ({"activation": "relu", "init": "he_normal"}, "relu, He"),
        ({"activation": "relu", "init": "he_normal", "mode": "fan_out"}, "relu, He (fan_out)"),
        ({"activation": "relu", "init": "xavier", "gain": 2.0}, "relu, Xavier × 2"),
        ({"activation": "relu", "init": "zeros"}, "relu, W = 0"),
    ],
)
def test_experiment_default_label(fields: dict[str, Any], label: str) -> None:
    cfg = make_experiment(SAITO, [fields])
    assert default_label(cfg.runs[0]) == label


@pytest.mark.parametrize("init", list(INITIALIZERS))
def test_experiment_label_every_initializer(init: str) -> None:
    result = _run(
        {**SAITO, "depth": 1, "width": 4, "samples": 10},
        [{"activation": "relu", "init": init}, {"activation": "relu", "init": init, "label": "mine"}],
    )
    assert result.runs[0].label.startswith("relu, ")
    assert len(result.runs[0].label) > len("relu, ")
    assert result.runs[1].label == "mine"


def _bits(result: ExperimentResult) -> bytes:
    """The result's pickle without pickle's memo: every float and array in full, wherever an object
    is shared (two threads may each fill a cache with equal objects: which ones a result shares is
    no result)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True
    pickler.dump(result)
    return buffer.getvalue()


THREADED = make_experiment(
    {"depth": 4, "width": 60, "samples": 200, "bias": "normal"},
    [
        {"activation": "relu", "init": "he_normal"},
        {"activation": "tanh", "init": "xavier", "depth": 3},
        {"activation": "maxout", "init": "lsuv"},  # several draws a layer; weights rescaled
        {"activation": "sigmoid", "init": "normal", "std": 1e-30, "depth": 2},  # gradients vanish
    ],
)


@pytest.mark.parametrize("axes", ["shared", "run"])
@pytest.mark.parametrize("gradients", [True, False])
def test_experiment_summary_thread_gives_the_same_results(
    monkeypatch: pytest.MonkeyPatch, gradients: bool, axes: str
) -> None:
    """Summarized in line, in a thread beside the next layer's product, or spread over two
    threads (each run's steps and each summary a task): the same results, bit for bit."""
    config = replace(THREADED, gradients=gradients, axes=axes)
    monkeypatch.setattr(experiment, "PIPELINE_MACS", 1 << 62)
    DRAWS.clear()  # and the runs' work kept from before: every pass below is a first one
    in_line = _bits(run_experiment(config))
    DRAWS.clear()
    assert _bits(run_experiment(config, threads=2)) == in_line
    monkeypatch.setattr(experiment, "PIPELINE_MACS", 0)  # every experiment gets the thread
    for draw_ahead in (True, False):  # which also draws the weights, or not
        monkeypatch.setattr(experiment, "DRAW_AHEAD", draw_ahead)
        DRAWS.clear()
        assert _bits(run_experiment(config)) == in_line
    DRAWS.clear()
    with experiment.spreading(2):  # as an engine alone asks (app/api/runner.py)
        assert experiment.threads_asked() == 2
        assert _bits(run_experiment(config)) == in_line
    assert experiment.threads_asked() == 1


@pytest.mark.parametrize("lanes", ["spread", "summaries' thread"])
def test_experiment_spread_repeated_runs_and_explicit_ranges(
    monkeypatch: pytest.MonkeyPatch, lanes: str
) -> None:
    """Spread over two threads, or summarized (and scanned) in a thread beside the products, a
    repeated run's kept work (memo.RUNS) and explicit ranges give the bits of a first request in
    line."""
    shared = {**SAITO, "samples": 300, "depth": 3, "width": 40}
    threads = 2 if lanes == "spread" else 1
    for post_range in ((0.0, 1.0), None):
        swept = make_experiment(shared, [{**SWEPT[0], "std": 0.7}, *SWEPT[1:]], post_range=post_range)
        DRAWS.clear()
        first = _bits(run_experiment(swept))
        with monkeypatch.context() as patched:
            if lanes != "spread":  # every experiment gets the summaries' thread
                patched.setattr(experiment, "PIPELINE_MACS", 0)
            DRAWS.clear()
            run_experiment(make_experiment(shared, SWEPT, post_range=post_range), threads=threads)
            assert len(RUNS) == 3
            assert _bits(run_experiment(swept, threads=threads)) == first  # runs 1 and 2 repeated


@pytest.mark.parametrize("gradients", [True, False])
def test_experiment_summaries_thread_scans_off_the_chain(
    monkeypatch: pytest.MonkeyPatch, gradients: bool
) -> None:
    """With a summaries' thread beside the products, every extent (each layer's z and a, each
    dL/dz) is scanned in that thread, none in the caller's, which computes the layers."""
    monkeypatch.setattr(experiment, "PIPELINE_MACS", 0)
    scanned_in: list[str] = []

    def recording_scan(x: np.ndarray) -> Extent:
        scanned_in.append(threading.current_thread().name)
        return scan(x)

    monkeypatch.setattr(experiment, "scan", recording_scan)
    DRAWS.clear()
    config = replace(THREADED, gradients=gradients)
    run_experiment(config)
    layers = sum(run.depth for run in config.runs)
    assert len(scanned_in) == layers * (3 if gradients else 2)
    assert threading.current_thread().name not in scanned_in
    assert all(name.startswith("summarize") for name in scanned_in)


def test_experiment_spread_experiments_at_once_share_the_workers() -> None:
    """Experiments spread from several threads at once (the workers take every one's tasks, and
    each caller runs tasks while it waits): each result is the one it has alone."""
    configs = [
        replace(THREADED, runs=tuple(replace(run, seed=seed) for run in THREADED.runs)) for seed in range(6)
    ]
    DRAWS.clear()
    alone = [_bits(run_experiment(config)) for config in configs]
    DRAWS.clear()
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda c: _bits(run_experiment(c, threads=2)), configs))
    assert together == alone


def test_experiment_spread_errors_reach_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task's exception is raised in the caller, and the workers go on with the next
    experiment."""

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise FloatingPointError("a summary failed")

    config = make_experiment({**SAITO, "samples": 50, "depth": 2, "width": 10}, SWEPT)
    DRAWS.clear()
    expected = _bits(run_experiment(config))
    monkeypatch.setattr(experiment, "unit_counts", failing)
    DRAWS.clear()
    with pytest.raises(FloatingPointError, match="a summary failed"):
        run_experiment(config, threads=2)
    monkeypatch.undo()
    DRAWS.clear()
    assert _bits(run_experiment(config, threads=2)) == expected


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("gradients", [True, False])
def test_experiment_leaves_no_cyclic_garbage(threads: int, gradients: bool) -> None:
    """Every array of an experiment is freed when its last reference goes: none is held in a
    reference cycle until the garbage collector's next full pass (a spread experiment's tasks
    once were, and an engine grew by 300 MB over 250 requests)."""
    config = replace(THREADED, gradients=gradients)
    run_experiment(config, threads=threads)  # caches of shapes, the workers' thread
    DRAWS.clear()
    gc.collect()
    gc.disable()
    try:
        run_experiment(config, threads=threads)
        assert gc.collect() == 0
    finally:
        gc.enable()


def _spread_in_child(config: ExperimentConfig, out: Any) -> None:
    out.send(_bits(run_experiment(config, threads=2)))


def test_experiment_spread_in_a_forked_process() -> None:
    """A process forked after its parent spread an experiment has none of its threads: it starts
    its own workers and gives the same result (an engine is forked from a server process)."""
    config = make_experiment({**SAITO, "samples": 100, "depth": 2, "width": 20}, SWEPT)
    DRAWS.clear()
    expected = _bits(run_experiment(config, threads=2))
    DRAWS.clear()
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_spread_in_child, args=(config, send))
    child.start()
    try:
        assert receive.poll(120), "the forked process did not finish"
        assert receive.recv() == expected
    finally:
        child.join(timeout=10)


def test_in_line_tasks_return_futures_already_done() -> None:
    """The in-line executor's futures hold the task's result and behave as a finished Future: no
    waiting, no cancelling, callbacks at once, and no second result."""
    ran: list[int] = []

    def task(a: int, b: int = 0) -> int:
        ran.append(a + b)
        return a + b

    future = experiment._InLine().submit(task, 2, b=3)
    assert ran == [5]  # run at submit, in the caller's thread
    assert future.done() and not future.running() and not future.cancelled()
    assert future.result() == 5 and future.result(timeout=0) == 5 and future.exception() is None
    assert not future.cancel()
    seen: list[object] = []
    future.add_done_callback(lambda done: seen.append(done.result()))
    assert seen == [5]
    with pytest.raises(RuntimeError, match="already done"):
        future.set_result(6)
    with pytest.raises(RuntimeError, match="already done"):
        future.set_exception(ValueError())
    with pytest.raises(ValueError, match="raised at once"):  # a task's error reaches the submitter
        experiment._InLine().submit(_raises)


def _raises() -> None:
    raise ValueError("raised at once")


def _counting_forward(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patches experiment.forward to record the position of every run it computes."""
    positions: list[int] = []
    real = forward

    def counted(run: RunConfig, x: Any, position: int, *args: Any, **kwargs: Any) -> Any:
        positions.append(position)
        return real(run, x, position, *args, **kwargs)

    monkeypatch.setattr("app.engine.network.experiment.forward", counted)
    return positions


SWEPT: list[dict[str, Any]] = [
    {"activation": "sigmoid", "init": "normal", "std": 1.0},
    {"activation": "sigmoid", "init": "xavier"},
    {"activation": "relu", "init": "he_normal"},
]


@pytest.mark.parametrize("post_range", [(0.0, 1.0), None])
def test_experiment_repeated_runs_reuse_their_work(
    monkeypatch: pytest.MonkeyPatch, post_range: tuple[float, float] | None
) -> None:
    """A slider over run 0's std: runs 1 and 2 repeat the request before exactly, so their layers,
    gradients, extents, unit counts and unmoved summaries come from memo.RUNS, and the answer
    has the very bits of a first request (pickles compare every float and array exactly)."""
    shared = {**SAITO, "samples": 300, "depth": 3, "width": 40}
    DRAWS.clear()
    run_experiment(make_experiment(shared, SWEPT, post_range=post_range))
    assert len(RUNS) == 3
    swept = make_experiment(shared, [{**SWEPT[0], "std": 0.7}, *SWEPT[1:]], post_range=post_range)
    positions = _counting_forward(monkeypatch)
    repeated = pickle.dumps(run_experiment(swept))
    assert positions == [0]  # only the changed run was computed
    DRAWS.clear()
    assert len(RUNS) == 0
    assert pickle.dumps(run_experiment(swept)) == repeated
    assert positions == [0, 0, 1, 2]


def test_experiment_work_reused_only_for_the_same_run_position_and_loss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run's weights and read-out come from streams of its position, and its gradients from the
    loss: the same settings at another position, or under another loss, are another run."""
    shared = {**SAITO, "samples": 200, "depth": 2, "width": 30}
    DRAWS.clear()
    run_experiment(make_experiment(shared, SWEPT[:2]))
    positions = _counting_forward(monkeypatch)
    for config in (
        make_experiment(shared, SWEPT[1::-1]),  # swapped
        make_experiment(shared, SWEPT[:2], loss="mse"),
        make_experiment(shared, SWEPT[:2], gradients=False),  # no backward pass: nothing reused
    ):
        positions.clear()
        reused = pickle.dumps(run_experiment(config))
        assert positions == [0, 1]
        DRAWS.clear()
        assert pickle.dumps(run_experiment(config)) == reused
        run_experiment(make_experiment(shared, SWEPT[:2]))  # the original runs, kept again
    DRAWS.clear()
    run_experiment(make_experiment(shared, SWEPT[:2], gradients=False))
    assert len(RUNS) == 0  # a forward pass recycles its layers' arrays: nothing is kept


def test_experiment_runs_too_large_to_keep_are_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose layers alone exceed memo.RUNS's entry limit keeps neither them nor its
    gradients past the pass (its peak memory stays what it was), and is computed again."""
    shared = {**SAITO, "samples": 200, "depth": 2, "width": 30}
    monkeypatch.setattr(RUNS, "max_entry_bytes", 1000)
    DRAWS.clear()
    first = pickle.dumps(run_experiment(make_experiment(shared, SWEPT[:1])))
    assert len(RUNS) == 0
    positions = _counting_forward(monkeypatch)
    assert pickle.dumps(run_experiment(make_experiment(shared, SWEPT[:1]))) == first
    assert positions == [0]


def test_experiment_kept_work_counts_its_summaries() -> None:
    """A deep run of one unit with many bins holds little but its summaries (bins and edges per
    layer and tensor): memo.RUNS counts them, so its byte bound holds for such runs too."""
    shared = {"samples": 1, "depth": 60, "width": 1, "input_dim": 1, "bins": 200}
    DRAWS.clear()
    run_experiment(make_experiment(shared, [{"activation": "tanh", "init": "xavier"}]))
    assert len(RUNS) == 1
    summaries = 60 * 2 * (200 * 8 + 201 * 8)  # pre and post: counts (int64) and edges (float64)
    assert RUNS.nbytes >= summaries
    DRAWS.clear()
