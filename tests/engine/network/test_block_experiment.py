"""Experiments with layer networks: rows summarized in lock step, memory, cost and determinism."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from app import codec
from app.engine.network.block_experiment import run_block_experiment
from app.engine.network.blocks import row_count
from app.engine.network.config import ExperimentConfig
from app.engine.network.cost import experiment_cost
from app.engine.network.experiment import run_experiment
from app.presets import PRESETS


def _config(query: str) -> ExperimentConfig:
    return codec.to_experiment(codec.decode(query))


def _peak(config: ExperimentConfig) -> int:
    run_experiment(config)  # the inputs' draw is memoized: measure the work, not the first draw
    tracemalloc.start()
    try:
        run_experiment(config)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "arch", ["he_normal,block:residual,norm:layer,branch:2", "he_normal,norm:batch", "lsuv,norm:layer"]
)
def test_forward_only_peak_memory_is_one_layer_whatever_the_depth(arch: str) -> None:
    shallow, deep = (
        _peak(_config(f"depth={d}&width=256&samples=500&grad=0&run=relu,{arch}")) for d in (5, 40)
    )
    assert deep < 1.25 * shallow, (shallow, deep)
    layer = 500 * 256 * 4
    assert deep < 12 * layer


@pytest.mark.parametrize(
    "query",
    [
        "depth=10&width=128&samples=300&run=relu,he_normal,block:residual,norm:batch,branch:2",
        "depth=10&width=128&samples=300&grad=0&run=tanh,xavier,block:residual,norm:layer,norm_at:post",
        "depth=10&width=128&samples=300&run=sigmoid,normal,norm:batch&run=sigmoid,normal",
    ],
)
def test_cost_bounds_the_measured_memory_and_counts_the_rows(query: str) -> None:
    config = _config(query)
    cost = experiment_cost(config)
    assert _peak(config) <= cost.memory_bytes
    result = run_experiment(config)
    for run, run_result in zip(config.runs, result.runs, strict=True):
        assert len(run_result.layers) == row_count(run)


def test_rows_share_their_ranges_across_runs_and_carry_their_types() -> None:
    config = _config("depth=3&run=relu,he_normal,norm:layer&run=relu,he_normal,norm:rms,norm_at:after")
    result = run_experiment(config)
    a, b = result.runs
    assert [layer.layer_type for layer in a.layers] == ["layer_norm", "activation"] * 3
    assert [layer.layer_type for layer in b.layers] == ["activation", "rms_norm"] * 3
    assert result.rows is not None
    assert [row.key for row in result.rows] == ["1|norm before", "1|act", "1|norm after"] + [
        f"{p}|{role}" for p in (2, 3) for role in ("norm before", "act", "norm after")
    ]
    for row in result.rows:  # the activations pair; a norm row has a range of its own
        cells = [run.layers[j] for run, j in zip(result.runs, row.cells, strict=True) if j is not None]
        assert len(cells) == (2 if row.key.endswith("|act") else 1)
        for kind in ("pre", "grad"):
            stats = [getattr(layer, kind) for layer in cells]
            assert {(s.edges[0], s.edges[-1]) for s in stats} == {
                (min(s.min for s in stats), max(s.max for s in stats))
            }
    # The dense layer feeding a norm reports its weights' gradient on the norm's row.
    assert a.layers[0].weight_grad is not None and a.layers[1].weight_grad is None
    assert b.layers[0].weight_grad is not None and b.layers[1].weight_grad is None


def test_rows_bn_deep_relu_plain_gradients_share_a_range_only_with_their_paired_rows() -> None:
    """bn-deep-relu: the BatchNorm run's norm rows and the plain run's layers are different rows.
    Paired by index, plain layer j shared its dL/dz range with the BN run's row j (layer j/2's norm
    or ReLU, whose gradient BatchNorm makes explode) and was one bar at every depth; paired by the
    table it shares one only with the BN run's ReLU of the same layer. Near the input that one is
    still ~1e4 times wider (the explosion the preset shows), near the output the plain run's own
    spread fills the bins."""
    result = run_experiment(PRESETS["bn-deep-relu"].experiment)
    assert result.rows is not None
    bn, plain = result.runs
    paired = spread = 0
    for row in result.rows:
        j_bn, j_plain = row.cells
        if j_plain is None:
            continue
        assert j_bn is not None and bn.layers[j_bn].layer_type == "activation"
        g_plain, g_bn = plain.layers[j_plain].grad, bn.layers[j_bn].grad
        assert g_plain is not None and g_bn is not None
        assert g_plain.min is not None and g_plain.max is not None
        assert g_bn.min is not None and g_bn.max is not None
        low, high = min(g_plain.min, g_bn.min), max(g_plain.max, g_bn.max)
        assert (g_plain.edges[0], g_plain.edges[-1]) == (g_bn.edges[0], g_bn.edges[-1])
        assert (g_plain.edges[0], g_plain.edges[-1]) == (pytest.approx(low), pytest.approx(high))
        if g_plain.max - g_plain.min > 0.1 * (high - low):  # a tenth of the range: 3 of 30 bins
            assert int(np.count_nonzero(g_plain.counts)) > 1, row
            spread += 1
        paired += 1
    assert paired == len(plain.layers) == 50
    assert spread >= 8  # the last layers (41-50 today); by index no layer had two bars
    last = plain.layers[-1].grad
    assert last is not None and int(np.count_nonzero(last.counts)) > 10


def test_a_plain_run_beside_a_layer_network_shows_the_plain_paths_values() -> None:
    both = run_experiment(_config("depth=4&run=tanh,xavier&run=tanh,xavier,norm:batch"))
    alone = run_experiment(_config("depth=4&run=tanh,xavier"))
    for mixed, plain in zip(both.runs[0].layers, alone.runs[0].layers, strict=True):
        assert mixed.post.mean == plain.post.mean and mixed.post.std == plain.post.std
        assert mixed.pre.std == plain.pre.std
        assert mixed.grad is not None and plain.grad is not None
        assert mixed.grad.std == pytest.approx(plain.grad.std, rel=1e-6)


def test_the_same_link_gives_the_same_numbers() -> None:
    query = (
        "depth=6&run=relu,he_normal,block:residual,norm:batch"
        "&run=gelu,he_normal,block:residual,res_init:rezero"
    )
    one, two = (run_block_experiment(_config(query)) for _ in range(2))
    for ra, rb in zip(one.runs, two.runs, strict=True):
        for la, lb in zip(ra.layers, rb.layers, strict=True):
            assert np.array_equal(la.post.counts, lb.post.counts) and la.post.std == lb.post.std
            assert la.grad is not None and lb.grad is not None and la.grad.std == lb.grad.std


def test_rezero_branches_get_no_gradient_and_the_sum_passes_it_whole() -> None:
    result = run_experiment(_config("depth=5&loss=mse&run=relu,he_normal,block:residual,res_init:rezero"))
    rows = result.runs[0].layers
    sums = [r for r in rows if r.layer_type == "residual"]
    inside = [r for r in rows if r.layer_type == "activation"]
    assert all(r.grad is not None and r.grad.std == sums[-1].grad.std for r in sums)  # type: ignore[union-attr]
    assert all(r.grad is not None and r.grad.std == sums[0].grad.std for r in inside)  # type: ignore[union-attr]
    projections = [r for r in rows if r.name and r.name.endswith("projection")]
    assert all(r.grad is not None and r.grad.std == 0.0 for r in projections)


def test_vanishing_gradients_are_summarized_at_their_true_scale() -> None:
    """50 sigmoid layers with RMSNorm after each: the first rows' dL/dz is ~1e-54, zeros in an
    unscaled float32 pass; the experiment keeps each row's gradient by a power of two and reports
    its statistics (and dL/dW's) at the true scale, as float64 computes them."""
    from app.engine.network.backward import upstream_gradient
    from app.engine.network.blocks import backward, build, output
    from app.engine.network.forward import input_samples

    query = "depth=50&width=64&input_dim=64&samples=200&run=sigmoid,normal,std:0.02,norm:rms,norm_at:after"
    config = _config(query)
    rows = run_experiment(config).runs[0].layers
    run = config.runs[0]
    net = build(run, 0, np.float64)
    x = input_samples(run).astype(np.float64)
    out = output(net, x, keep=True)
    upstream = upstream_gradient(run, 0, out.astype(np.float32), config.loss).astype(np.float64)
    exact, _ = backward(net, upstream)
    for j in (0, 1, 50, len(rows) - 1):
        grad = rows[j].grad
        assert grad is not None and grad.std is not None
        true_std = float(exact[j].std())
        assert true_std > 0 and abs(grad.std - true_std) <= 1e-3 * true_std, (j, grad.std, true_std)
    assert float(exact[0].std()) < 1e-50
    dense = net.layers[0]
    weight = rows[0].weight_grad
    assert weight is not None and 0 < weight.norm < 1e-45
    assert abs(weight.norm - float(np.linalg.norm(dense.grads["W"]))) <= 1e-3 * weight.norm
