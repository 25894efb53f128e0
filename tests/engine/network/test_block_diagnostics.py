"""The diagnostics of layer networks (block_diagnostics.py, diagnostics.py): the Jacobian through
every layer type against central differences in float64 and against PyTorch's autograd, pairs
through the network /simulate shows, a bare layer network measured as its plain stack, the cost."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from app import codec
from app.engine.layers.dense import Dense
from app.engine.layers.norm import BatchNorm, LayerNorm, RMSNorm
from app.engine.layers.pointwise import Maxout, Pointwise
from app.engine.layers.residual import Residual
from app.engine.measure.correlation import pair_correlations
from app.engine.network.architecture import Architecture
from app.engine.network.block_diagnostics import RowSignal, walk
from app.engine.network.blocks import Network, build, trace
from app.engine.network.config import ExperimentConfig, make_run
from app.engine.network.cost import BudgetError, Limits
from app.engine.network.diagnostics import (
    LAYER_NETWORK_NOTE,
    check_diagnostics_limits,
    diagnostics_cost,
    make_options,
    run_diagnostics,
)

ARCHS: list[dict[str, Any]] = [
    {"norm": "batch"},
    {"norm": "layer", "norm_at": "after"},
    {"norm": "rms"},
    {"norm": "batch", "activation": "maxout", "pieces": 3},
    {"norm": "layer", "norm_at": "after", "activation": "maxout"},
    {"block": "residual", "branch": 2, "branch_scale": 0.7},
    {"block": "residual", "norm": "batch", "norm_at": "pre"},
    {"block": "residual", "norm": "batch", "norm_at": "post", "branch": 2},
    {"block": "residual", "norm": "layer", "norm_at": "pre", "branch": 2},
    {"block": "residual", "norm": "rms", "norm_at": "post"},
    {"block": "residual", "norm": "layer", "res_init": "rezero"},
]


def _name(arch: dict[str, object]) -> str:
    return ",".join(f"{k}:{v}" for k, v in arch.items())


def _config(query: str) -> ExperimentConfig:
    return codec.to_experiment(codec.decode(query))


def _net(arch: dict[str, Any]) -> tuple[Network, np.ndarray, np.ndarray]:
    fields = {"activation": "tanh", "init": "xavier", "bias": "normal", "bias_std": 0.3, **arch}
    run = make_run({**fields, "depth": 2, "width": 5, "input_dim": 4, "samples": 12})
    net = build(run, 0, np.float64)
    rng = np.random.default_rng(7)
    for _, layer, name in net.parameters():  # away from gamma 1, beta 0 and ReZero's 0
        p = layer.params[name]
        if not np.any(p) or name in ("gamma", "beta"):
            p += rng.standard_normal(p.shape) * 0.3
    own = np.random.default_rng(1).standard_normal((12, 4))
    extra = np.random.default_rng(2).standard_normal((3, 4))
    return net, own, extra


def _row_layers(net: Network) -> dict[int, object]:
    out: dict[int, object] = {}

    def visit(layers: list[Any]) -> None:
        for layer in layers:
            if layer in net.rows:
                out[net.rows[layer]] = layer
            if isinstance(layer, Residual):
                visit(layer.children())

    visit(list(net.layers))
    return out


def _outputs(net: Network, own: np.ndarray, extra: np.ndarray) -> dict[int, np.ndarray]:
    """Each row's output for the extra rows (an activation row's signal is its input z)."""
    layers = _row_layers(net)
    out = {}
    for row in walk(net, own, extra, None, 0):
        layer = layers[row.index]
        activation = isinstance(layer, Pointwise | Maxout)
        out[row.index] = layer.forward(row.measured) if activation else row.measured  # type: ignore[attr-defined]
    return out


@pytest.mark.parametrize("arch", ARCHS, ids=_name)
def test_jacobian_of_every_row_matches_central_differences(arch: dict[str, Any]) -> None:
    net, own, extra = _net(arch)
    rows = list(walk(net, own, extra, None, 2))
    assert [r.index for r in rows] == list(range(len(net.specs)))
    h = 1e-6
    for i in range(extra.shape[1]):
        up, down = extra.copy(), extra.copy()
        up[:2, i] += h
        down[:2, i] -= h
        hi, lo = _outputs(net, own, up), _outputs(net, own, down)
        for row in rows:
            assert row.jac is not None
            numeric = (hi[row.index][:2] - lo[row.index][:2]) / (2 * h)
            jac = np.broadcast_to(row.jac, (2, *row.jac.shape[1:]))
            np.testing.assert_allclose(jac[:, :, i], numeric, rtol=1e-5, atol=1e-8, err_msg=row.spec.name)


def test_batch_norm_normalizes_the_pairs_with_the_networks_own_batch() -> None:
    """The extra rows through a BatchNorm get the own batch's statistics: the own batch itself
    as extra rows gives the network's forward pass (what /simulate shows), a pair alone does too."""
    net, own, _ = _net({"norm": "batch"})
    forward = list(trace(net, own))
    signals = list(walk(net, own, own, None, 0))
    for row, signal in zip(forward, signals, strict=True):
        np.testing.assert_allclose(
            signal.measured, row.pre if row.spec.layer_type == "activation" else row.post
        )
    one = list(walk(net, own, own[3:5], None, 0))
    for whole, pair in zip(signals, one, strict=True):
        np.testing.assert_allclose(pair.measured, whole.measured[3:5], rtol=1e-12)
    with pytest.raises(ValueError, match="own batch"):
        list(walk(net, None, own, None, 0))


def _torch() -> Any:
    return pytest.importorskip("torch", reason="the PyTorch comparison runs wherever torch is installed")


def _torch_row(net: Network, own: np.ndarray, index: int) -> Any:
    """A function of one input sample to row `index`'s output, in PyTorch: BatchNorm in eval mode
    on the own batch's statistics (as the diagnostics hold them)."""
    t = _torch()
    F = t.nn.functional  # noqa: N806
    stats: dict[int, tuple[Any, Any]] = {}
    layers = _row_layers(net)
    for row in trace(net, own):  # each BatchNorm's input on the own batch: its pre
        layer = layers.get(row.index)
        if isinstance(layer, BatchNorm):
            stats[id(layer)] = (t.tensor(row.pre.mean(axis=0)), t.tensor(row.pre.var(axis=0)))

    def tensor(a: np.ndarray) -> Any:
        return t.tensor(a, dtype=t.float64)

    class RowReachedError(Exception):
        def __init__(self, value: Any) -> None:
            self.value = value

    def run(layer: object, a: Any) -> Any:
        if isinstance(layer, Dense):
            z = a @ tensor(layer.params["W"])
            out = z + tensor(layer.params["b"]) if "b" in layer.params else z
        elif isinstance(layer, Maxout):
            out = a.reshape(a.shape[0], layer.pieces, -1).amax(dim=1)
        elif isinstance(layer, Pointwise):
            out = t.tanh(a)
        elif isinstance(layer, BatchNorm):
            mean, var = stats[id(layer)]
            p = layer.params
            out = F.batch_norm(a, mean, var, tensor(p["gamma"]), tensor(p["beta"]), training=False, eps=1e-5)
        elif isinstance(layer, LayerNorm):
            out = F.layer_norm(a, (a.shape[1],), tensor(layer.params["gamma"]), tensor(layer.params["beta"]))
        elif isinstance(layer, RMSNorm):
            out = F.rms_norm(a, (a.shape[1],), tensor(layer.params["gamma"]), eps=1e-5)
        else:
            assert isinstance(layer, Residual)
            h = a
            if layer.norm is not None and layer.norm_at == "pre":
                h = run(layer.norm, a)
            for inner in layer.branch:
                h = run(inner, h)
            out = a + layer.scale * h
            if net.rows.get(layer) == index:
                raise RowReachedError(out)
            if layer.norm is not None and layer.norm_at == "post":
                out = run(layer.norm, out)
            return out
        if net.rows.get(layer) == index:
            raise RowReachedError(out)
        return out

    def f(x: Any) -> Any:
        a = x[None, :]
        try:
            for layer in net.layers:
                a = run(layer, a)
        except RowReachedError as found:
            return found.value[0]
        raise AssertionError(f"row {index} not reached")

    return f


@pytest.mark.parametrize("arch", ARCHS, ids=_name)
def test_jacobian_matches_pytorch_autograd(arch: dict[str, Any]) -> None:
    net, own, extra = _net(arch)
    torch = _torch()
    rows: list[RowSignal] = list(walk(net, own, extra, None, 2))
    for row in rows:
        f = _torch_row(net, own, row.index)
        assert row.jac is not None
        jac = np.broadcast_to(row.jac, (2, *row.jac.shape[1:]))
        for s in range(2):
            theirs = torch.autograd.functional.jacobian(f, torch.tensor(extra[s]))
            np.testing.assert_allclose(jac[s], theirs.numpy(), rtol=1e-7, atol=1e-10, err_msg=row.spec.name)


def test_a_bare_layer_network_is_measured_as_its_plain_stack() -> None:
    """The same run as a layer network without norm: its rows are the plain layers, and the pairs'
    correlations and the Jacobian's values are the plain diagnostics', value for value."""
    config = _config("depth=4&width=60&run=tanh,xavier&run=relu,he_normal,bias:normal")
    bare = replace(config, runs=tuple(replace(run, arch=Architecture()) for run in config.runs))
    options = make_options(jacobian=2, seeds=2)
    plain, layers = run_diagnostics(config, options), run_diagnostics(bare, options)
    for p, q in zip(plain.runs, layers.runs, strict=True):
        assert [c.measured for c in p.correlation] == [c.measured for c in q.correlation]
        assert [c.sd for c in p.correlation] == [c.sd for c in q.correlation]
        assert p.jacobian is not None and q.jacobian is not None
        assert [j.mean_sq for j in p.jacobian.layers] == [j.mean_sq for j in q.jacobian.layers]
        for a, b in zip(p.jacobian.layers, q.jacobian.layers, strict=True):
            assert (a.spectrum is None) == (b.spectrum is None)
            if a.spectrum is not None and b.spectrum is not None:
                assert (a.spectrum.min, a.spectrum.max, a.spectrum.zeros) == (
                    b.spectrum.min,
                    b.spectrum.max,
                    b.spectrum.zeros,
                )
                assert list(a.spectrum.counts) == list(b.spectrum.counts)
        assert all(
            c.name is not None and c.name.startswith(f"layer {j + 1} · ") for j, c in enumerate(q.correlation)
        )
        assert all(c.name is None for c in p.correlation)


def test_layer_network_rows_measure_the_pairs_through_the_simulated_network() -> None:
    """A residual LayerNorm network with LSUV: each row's correlation is that of the pairs through
    the network built (and scaled) on the run's samples; rows are named and predicted."""
    from app.engine.measure.correlation import pair_inputs
    from app.engine.network.diagnostics import PAIR_STREAM
    from app.engine.network.forward import input_samples
    from app.engine.network.inputs import INPUTS

    config = _config("depth=3&width=40&samples=300&run=tanh,lsuv&block=residual&norm=layer&branch=2")
    run = config.runs[0]
    options = make_options([0.2, 0.8], 4, 0)
    result = run_diagnostics(config, options).runs[0]
    assert result.jacobian is None and result.theory.note == LAYER_NETWORK_NOTE
    assert [c.name for c in result.correlation][:3] == [
        "stem",
        "block 1 · layer_norm (pre)",
        "block 1 · tanh 1",
    ]
    assert all(isinstance(p, float) and -1 <= p <= 1 for c in result.correlation for p in c.predicted)
    net = build(run, 0, np.float32, input_samples(run))
    rng = np.random.default_rng([run.seed, PAIR_STREAM, 0])
    pairs = pair_inputs(
        options.c0, 4, run.input_dim, INPUTS[run.input].second_moment(run.input_params()), rng
    )
    for row, layer in zip(trace(net, pairs), result.correlation, strict=True):
        tensor = row.pre if row.spec.layer_type == "activation" else row.post
        assert pair_correlations(tensor, 2, 4)[0] == list(layer.measured)


def test_residual_jacobian_grows_and_rezero_is_the_identity_map() -> None:
    """Measured Jacobians say what the theory of residual networks says: ReZero's network is its
    stem at init (every block's J is the stem's), while an unscaled ReLU stack's J grows with depth."""
    zero = run_diagnostics(
        _config("depth=6&width=64&run=relu,he_normal&block=residual&res_init=rezero"),
        make_options(jacobian=2),
    ).runs[0]
    assert zero.jacobian is not None
    sums = [
        j.mean_sq
        for j, c in zip(zero.jacobian.layers, zero.correlation, strict=True)
        if c.layer_type == "residual"
    ]
    assert len(sums) == 6 and len(set(sums)) == 1
    grow = run_diagnostics(
        _config("depth=6&width=64&run=relu,he_normal&block=residual"), make_options(jacobian=2)
    ).runs[0]
    assert grow.jacobian is not None
    sums = [
        j.mean_sq
        for j, c in zip(grow.jacobian.layers, grow.correlation, strict=True)
        if c.layer_type == "residual"
    ]
    assert all(b is not None and a is not None and b > a for a, b in itertools.pairwise(sums))


def test_layer_network_cost_grows_and_is_refused_over_budget() -> None:
    config = _config("depth=10&width=500&run=tanh,xavier&block=residual&norm=batch&branch=2")
    small = diagnostics_cost(config, make_options([0.5], 1, 0))
    big = diagnostics_cost(config, make_options([0.5] * 8, 64, 8, 4))
    assert big.macs > 10 * small.macs and big.memory_bytes > small.memory_bytes
    assert big.response_values > small.response_values
    check_diagnostics_limits(config, make_options([0.5], 1, 0), Limits())
    with pytest.raises(BudgetError) as err:
        check_diagnostics_limits(config, make_options(), Limits(max_macs=small.macs))
    assert err.value.limit == "max_macs" and "multiply-adds" in err.value.message


@pytest.mark.parametrize(
    "query",
    [
        "depth=6&width=300&samples=1000&run=relu,he_normal,norm:batch",
        "depth=3&width=256&input_dim=784&run=tanh,lsuv,block:residual,norm:layer,branch:2",
        # wider than EXACT_MAX: J on 256 random directions
        "depth=2&width=1100&input_dim=1100&samples=200&run=relu,he_normal,block:residual,norm:batch",
    ],
)
def test_cost_bounds_the_measured_memory(query: str) -> None:
    import tracemalloc

    config, options = _config(query), make_options(jacobian=4)
    run_diagnostics(config, options)  # the inputs' draw is memoized: measure the work
    tracemalloc.start()
    try:
        run_diagnostics(config, options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= diagnostics_cost(config, options).memory_bytes
