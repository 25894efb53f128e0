"""Layer networks' mean-field predictions (block_theory.py) against Monte Carlo at width 1000."""

from __future__ import annotations

import math

import pytest

from app import codec
from app.engine.network.block_theory import BATCH_NORM_NOTE, block_theory
from app.engine.network.blocks import build, row_count
from app.engine.network.config import make_run
from app.engine.network.experiment import run_experiment

WIDE = "width=1000&input_dim=1000&samples=400&grad=0&theory=1"
ARCHS = [
    "tanh,xavier,norm:layer",
    "relu,he_normal,norm:rms",
    "relu,he_normal,norm:layer,norm_at:after",
    "relu,he_normal,norm:rms,norm_at:after",
    "tanh,xavier,block:residual",
    "tanh,xavier,block:residual,branch:2",
    "relu,he_normal,block:residual,res_init:depth",
    "tanh,xavier,block:residual,branch_scale:0.5,bias:normal,bias_std:0.2",
    "relu,he_normal,block:residual,norm:layer",
    "gelu,he_normal,block:residual,norm:rms,branch:2",
    "relu,he_normal,block:residual,norm:layer,norm_at:post",
    "tanh,xavier,block:residual,res_init:rezero",
    "relu,he_normal,block:residual,res_init:fixup,branch:2",
    # LSUV (each dense layer scaled to unit variance on the run's inputs, as the plain stack's
    # theory models it) and maxout (k pieces a unit; the norm before it sees every piece)
    "tanh,lsuv,norm:layer,norm_at:after",
    "tanh,lsuv,block:residual,norm:rms,branch:2",
    "maxout,he_normal,norm:layer",
    "maxout,he_normal,pieces:3,norm:rms,norm_at:after",
]


def _check_within(measured: float | None, predicted: float, where: str) -> None:
    assert measured is not None
    if predicted < 1e-6:
        assert measured < 1e-6, where
    else:
        assert abs(measured / predicted - 1) < 0.05, (
            f"{where}: measured {measured:.4g}, predicted {predicted:.4g}"
        )


@pytest.mark.parametrize("arch", ARCHS)
def test_every_rows_prediction_is_within_5_percent_of_monte_carlo_at_width_1000(arch: str) -> None:
    run, *more = arch.split(",bias:")
    shared = f"{WIDE}&depth=8" + (f"&bias={more[0].replace(',bias_std:', '&bias_std=')}" if more else "")
    result = run_experiment(codec.to_experiment(codec.decode(f"{shared}&run={run}")))
    measured = result.runs[0]
    theory = measured.theory
    assert theory is not None and theory.note == ""
    assert len(theory.layers) == len(measured.layers) == row_count(measured.config)
    for row, t in zip(measured.layers, theory.layers, strict=True):
        _check_within(row.pre.std, math.sqrt(t.q), f"{row.name} pre")
        _check_within(row.post.std, math.sqrt(t.variance), f"{row.name} post")
        if t.mean == 0.0:
            continue  # zero by symmetry over the weights: at one draw, the units' fixed offsets
        # A mean made by f is held to 5% of the signal's root mean square (those offsets, one per
        # unit at width 1000, move it by about its scale / sqrt(1000) a layer)
        assert row.post.mean is not None
        scale = math.sqrt(t.variance + t.mean**2)
        assert abs(row.post.mean - t.mean) < 0.05 * scale, (
            f"{row.name} mean {row.post.mean:.4g} vs {t.mean:.4g}"
        )


def _sums(fields: dict[str, object]) -> list[float]:
    """The predicted variance of each block's output x + s F(x), 50 tanh blocks."""
    run = make_run({"activation": "tanh", "init": "xavier", "block": "residual", "depth": 50, **fields})
    kinds = [spec.layer_type for spec in build(run).specs]
    return [t.variance for t, kind in zip(block_theory(run).layers, kinds, strict=True) if kind == "residual"]


def test_residual_variance_grows_linearly_at_scale_1_and_stays_bounded_with_1_over_sqrt_2l() -> None:
    grow = _sums({})
    assert len(grow) == 50
    # tanh's E[f^2] tends to 1: each block adds about sigma_w^2 = 1 (Xavier), so q_l grows like l
    assert 0.8 < grow[-1] - grow[-2] < 1.0 and 35 < grow[-1] < 50
    bounded = _sums({"res_init": "depth"})
    assert max(bounded) < 1.5 and bounded[-1] - bounded[-2] < 0.01
    assert _sums({"res_init": "rezero"}) == [_sums({"res_init": "rezero"})[0]] * 50  # the identity


def test_batch_norm_has_no_prediction_and_says_so() -> None:
    for fields in ({"norm": "batch"}, {"norm": "batch", "block": "residual"}):
        theory = block_theory(make_run({"activation": "relu", "init": "he_normal", **fields}))
        assert theory.note == BATCH_NORM_NOTE and "no prediction" in theory.note
        assert all(math.isnan(t.q) and math.isnan(t.variance) for t in theory.layers)
        assert theory.phase is None and theory.q_star is None


@pytest.mark.parametrize(
    "arch",
    [
        "tanh,xavier,norm:layer",
        "relu,he_normal,norm:layer,norm_at:after",
        "tanh,xavier,block:residual",
        "relu,he_normal,block:residual,branch:2,norm:layer",
        "tanh,xavier,block:residual,norm:rms,norm_at:post",
        "tanh,lsuv,block:residual,norm:layer",
    ],
)
def test_layer_networks_c_map_matches_wide_networks(arch: str) -> None:
    """The pairs' correlation at every row (the diagnostics' measurement), averaged over four
    width-1000 networks, within 0.02 of block_correlation's C-map, as the plain stack's is."""
    import numpy as np

    from app.engine.network.diagnostics import make_options, run_diagnostics

    measured, predicted = [], None
    for seed in range(4):
        query = f"depth=4&width=1000&input_dim=1000&samples=2&seed={seed}&bias=normal&bias_std=0.3&run={arch}"
        options = make_options(c0=[0.1, 0.5, 0.9, 0.99], pairs=16, jacobian=0)
        run = run_diagnostics(codec.to_experiment(codec.decode(query)), options).runs[0]
        measured.append([layer.measured for layer in run.correlation])
        predicted = [layer.predicted for layer in run.correlation]
    gap = np.abs(np.mean(np.array(measured, dtype=float), axis=0) - np.array(predicted, dtype=float))
    assert not np.isnan(gap).any() and gap.max() < 0.02


def test_no_c_map_past_batch_norm_or_maxout() -> None:
    from app.engine.network.block_theory import block_correlation

    c0 = (0.2, 0.8)
    batch = make_run({"activation": "tanh", "init": "xavier", "norm": "batch", "depth": 3})
    assert block_correlation(batch, c0) == [(None, None)] * row_count(batch)
    maxout = make_run({"activation": "maxout", "init": "he_normal", "norm": "layer", "depth": 3})
    rows = block_correlation(maxout, c0)
    assert len(rows) == row_count(maxout) and rows[0][0] is not None and rows[2:] == [(None, None)] * 4


@pytest.mark.parametrize(
    "arch",
    [
        "tanh,xavier,norm:layer",
        "relu,he_normal,norm:layer,norm_at:after",
        "tanh,xavier,norm:rms,norm_at:after",
        "tanh,xavier,block:residual",
        "relu,he_normal,block:residual,branch:2,norm:layer",
        "tanh,xavier,block:residual,norm:rms,norm_at:post",
        "relu,he_normal,block:residual,res_init:depth",
        "tanh,lsuv,block:residual,norm:layer",
    ],
)
def test_layer_networks_jacobian_follows_mean_field(arch: str) -> None:
    """Every row's measured mean squared singular value (8 samples, width 500) within 25% of
    block_jacobian's, as the plain stack's Jacobian is tested; BatchNorm: no prediction."""
    from app.engine.network.block_theory import block_jacobian
    from app.engine.network.diagnostics import make_options, run_diagnostics

    query = f"depth=4&width=500&input_dim=300&samples=8&bias=normal&bias_std=0.2&run={arch}"
    run = run_diagnostics(codec.to_experiment(codec.decode(query)), make_options([0.5], 1, 8)).runs[0]
    assert run.jacobian is not None
    for layer in run.jacobian.layers:
        assert layer.mean_sq is not None and layer.predicted_mean_sq is not None
        assert layer.mean_sq == pytest.approx(layer.predicted_mean_sq, rel=0.25), layer.name
    batch = make_run({"activation": "relu", "init": "he_normal", "norm": "batch", "depth": 3})
    assert block_jacobian(batch) == [None] * row_count(batch)
