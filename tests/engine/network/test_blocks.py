"""Layer networks (blocks.py): built from the link fields, their rows, and their gradients through
every layer type and placement, against central differences in float64 and against PyTorch's
autograd on the same weights (where torch is installed)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from app.engine.layers.dense import Dense
from app.engine.layers.norm import BatchNorm, LayerNorm, RMSNorm
from app.engine.layers.pointwise import Maxout, Pointwise
from app.engine.layers.residual import Residual
from app.engine.network.blocks import Network, backward, build, output, scaled_backward, trace
from app.engine.network.config import make_run
from app.engine.params import ConfigError

ARCHS: list[dict[str, Any]] = [
    {"norm": "batch"},
    {"norm": "layer"},
    {"norm": "rms"},
    {"norm": "batch", "norm_at": "after"},
    {"norm": "layer", "norm_at": "after"},
    {"norm": "rms", "norm_at": "after"},
    {"block": "residual"},
    {"block": "residual", "branch": 2, "branch_scale": 0.5},
    *(
        {"block": "residual", "norm": n, "norm_at": at, "branch": b}
        for n in ("batch", "layer", "rms")
        for at in ("pre", "post")
        for b in (1, 2)
    ),
    {"block": "residual", "res_init": "depth", "branch": 2},
    {"block": "residual", "res_init": "rezero", "norm": "layer"},
    {"block": "residual", "res_init": "fixup", "branch": 2},
]


def _name(arch: dict[str, object]) -> str:
    return ",".join(f"{k}:{v}" for k, v in arch.items())


def _net(arch: dict[str, object], activation: str = "tanh", **more: object) -> tuple[Network, np.ndarray]:
    fields = {"activation": activation, "init": "xavier", "bias": "normal", "bias_std": 0.3}
    run = make_run({**fields, "depth": 3, "width": 6, "input_dim": 5, "samples": 8, **arch, **more})
    net = build(run, 0, np.float64)
    x = np.random.default_rng(4).standard_normal((8, 5))
    # Fixup's and ReZero's zeros would leave parts of the gradient checked at 0 only: move them.
    rng = np.random.default_rng(7)
    for _, layer, name in net.parameters():
        p = layer.params[name]
        if not np.any(p) or name in ("gamma", "beta"):
            p += rng.standard_normal(p.shape) * 0.3
    return net, x


@pytest.mark.parametrize("arch", ARCHS, ids=_name)
def test_gradients_match_central_differences(arch: dict[str, object]) -> None:
    net, x = _net(arch)
    out = output(net, x, keep=True)
    r = np.random.default_rng(1).standard_normal(out.shape)
    _, dx = backward(net, r)

    def loss() -> float:
        return float(np.sum(r * output(net, x)))

    h = 1e-6

    def numeric(a: np.ndarray) -> np.ndarray:
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            keep = a[i]
            a[i] = keep + h
            up = loss()
            a[i] = keep - h
            down = loss()
            a[i] = keep
            g[i] = (up - down) / (2 * h)
        return g

    np.testing.assert_allclose(dx, numeric(x), rtol=1e-5, atol=1e-8)
    checked = 0
    for where, layer, name in net.parameters():
        np.testing.assert_allclose(
            np.asarray(layer.grads[name]), numeric(layer.params[name]), rtol=1e-5, atol=1e-8, err_msg=where
        )
        checked += 1
    assert checked >= 6


@pytest.mark.parametrize("arch", ARCHS, ids=_name)
def test_rows_cover_every_signal_in_order(arch: dict[str, object]) -> None:
    net, x = _net(arch)
    rows = list(trace(net, x, keep=True))
    assert [r.index for r in rows] == list(range(len(net.specs)))
    fed_rows = net.fed_rows()
    for before, after in itertools.pairwise(rows):
        fed = after.index in fed_rows and after.spec.layer_type != "dense"  # by a dense that is no row
        if after.spec.layer_type == "residual":  # x + s F(x), F the projection's output just before
            block = next(b for b in net.layers if net.rows.get(b) == after.index)
            assert isinstance(block, Residual) and before.spec.name.endswith("projection")
            np.testing.assert_allclose(after.post, after.pre + block.scale * before.post, rtol=1e-12)
        elif not fed:
            np.testing.assert_array_equal(after.pre, before.post)
    grads, _ = backward(net, np.ones_like(rows[-1].post))
    assert sorted(grads) == [r.index for r in rows]
    for row in rows:
        assert grads[row.index].shape == row.pre.shape


def test_plain_rows_are_norm_then_activation_with_the_plain_weights() -> None:
    """A plain stack with BatchNorm draws the weights of the same stack without it, and without
    the norm its rows are the plain path's layers, value for value."""
    from app.engine.network.forward import forward

    fields = {
        "activation": "relu",
        "init": "xavier",
        "bias": "normal",
        "depth": 3,
        "width": 6,
        "input_dim": 5,
    }
    plain = make_run(fields)
    net = build(make_run({**fields, "norm": "batch"}), 0)
    assert [s.layer_type for s in net.specs] == ["batch_norm", "activation"] * 3
    assert [s.name for s in net.specs][:2] == ["layer 1 · batch_norm", "layer 1 · relu"]
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    layers = list(forward(plain, x, 0))
    dense = [layer for layer in net.layers if isinstance(layer, Dense)]
    for ours, theirs in zip(dense, layers, strict=True):
        np.testing.assert_array_equal(ours.weights, theirs.weights)
        np.testing.assert_array_equal(ours.params["b"], theirs.bias)
    # The same run as a layer network without norm: z and f(z), bit for bit.
    bare = build(plain, 0)
    for row, layer in zip(trace(bare, x), layers, strict=True):
        np.testing.assert_array_equal(row.pre, layer.z)
        np.testing.assert_array_equal(row.post, layer.a)


def test_residual_rows_name_the_block_input_branch_and_output() -> None:
    net, _ = _net({"block": "residual", "norm": "layer", "branch": 2})
    names = [s.name for s in net.specs[:6]]
    assert names == [
        "stem",
        "block 1 · layer_norm (pre)",
        "block 1 · tanh 1",
        "block 1 · tanh 2",
        "block 1 · projection",
        "block 1 · x + s F(x)",
    ]


def test_rezero_and_fixup_start_as_the_identity() -> None:
    for arch in ({"res_init": "rezero"}, {"res_init": "fixup", "branch": 2}):
        run = make_run({"activation": "relu", "init": "he_normal", "block": "residual", "depth": 4, **arch})
        net = build(run, 0, np.float32)
        x = np.random.default_rng(0).standard_normal((20, 100)).astype(np.float32)
        rows = list(trace(net, x))
        stem = rows[0].post
        for row in rows:
            if row.spec.layer_type == "residual":
                np.testing.assert_array_equal(row.post, stem)


def test_depth_init_scales_each_output_projection_by_one_over_sqrt_2l() -> None:
    base = {"activation": "relu", "init": "he_normal", "block": "residual", "depth": 8}
    plain, scaled = (build(make_run({**base, **extra}), 0) for extra in ({}, {"res_init": "depth"}))
    for a, b in zip(plain.layers[1:], scaled.layers[1:], strict=True):
        assert isinstance(a, Residual) and isinstance(b, Residual)
        wa, wb = a.branch[-1].params["W"], b.branch[-1].params["W"]
        np.testing.assert_allclose(wb, wa / math.sqrt(16), rtol=1e-6)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"norm_at": "pre"}, "norm_at", "before or after for block=plain"),
        ({"block": "residual", "norm_at": "after"}, "norm_at", "pre or post for block=residual"),
        ({"block": "residual", "width": [10, 20]}, "width", "one width"),
        ({"res_init": "depth"}, "res_init", "residual blocks"),
        ({"block": "residual", "res_init": "fixup", "norm": "layer"}, "norm", "Fixup"),
        ({"norm": "group"}, "norm", "one of none, batch, layer, rms"),
        ({"block": "residual", "branch": 3}, "branch", "between 1 and 2"),
        ({"block": "residual", "activation": "maxout"}, "activation", "no dense layer before it"),
        ({"block": "residual", "init": "lsuv", "res_init": "depth"}, "res_init", "undo depth"),
        ({"block": "residual", "init": "lsuv", "res_init": "fixup"}, "res_init", "undo fixup"),
        ({"block": "residual", "output_activation": "sigmoid"}, "output_activation", "plain stacks"),
    ],
)
def test_bad_architectures_name_the_field(fields: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_run({"activation": "relu", "init": "he_normal", **fields})
    assert err.value.field == field and words in err.value.message


def test_canonical_fields_drop_defaults_and_unread_values() -> None:
    def fields(**given: object) -> dict[str, object]:
        run = make_run({"activation": "relu", "init": "he_normal", **given})
        keys = ("block", "branch", "norm", "norm_at", "branch_scale", "res_init")
        return {k: v for k, v in run.as_dict().items() if k in keys}

    assert fields(block="plain", norm="none") == {}
    assert make_run({"activation": "relu", "init": "he_normal", "norm": "none"}).arch is None
    assert fields(norm="batch", norm_at="before") == {"norm": "batch"}
    assert fields(block="residual", branch=1, branch_scale=1.0) == {"block": "residual"}
    assert fields(block="residual", res_init="rezero", branch_scale=0.3) == {
        "block": "residual",
        "res_init": "rezero",
    }
    assert fields(block="plain", branch=2) == {}  # a plain stack reads no branch
    assert fields(block="residual", norm="rms", norm_at="post") == {
        "block": "residual",
        "norm": "rms",
        "norm_at": "post",
    }


def _torch() -> Any:
    """torch, or a skip of the calling test alone (a module-level skip would skip the central
    differences above too, on every machine without torch)."""
    return pytest.importorskip("torch", reason="the PyTorch comparison runs wherever torch is installed")


def _torch_forward(net: Network, x: Any, rows: dict[int, Any]) -> Any:
    t = _torch()
    F = t.nn.functional  # noqa: N806

    def tensor(a: np.ndarray) -> Any:
        return t.tensor(a, dtype=t.float64, requires_grad=True)

    params: dict[int, dict[str, Any]] = {}

    def p(layer: object, name: str) -> Any:
        own = params.setdefault(id(layer), {})
        if name not in own:
            own[name] = tensor(layer.params[name])  # type: ignore[attr-defined]
        return own[name]

    def keep_pre(layer: object, a: Any) -> None:
        index = net.rows.get(layer)
        if index is not None and index not in rows:
            a.retain_grad()
            rows[index] = a

    def run(layer: object, a: Any) -> Any:
        keep_pre(layer, a)
        if isinstance(layer, Dense):
            z = a @ p(layer, "W")
            return z + p(layer, "b") if "b" in layer.params else z
        if isinstance(layer, Maxout):
            return a.reshape(a.shape[0], layer.pieces, -1).amax(dim=1)
        if isinstance(layer, Pointwise):
            fn = {"relu": t.relu, "tanh": t.tanh, "sigmoid": t.sigmoid, "gelu": F.gelu}[layer.name]
            return fn(a)
        if isinstance(layer, BatchNorm):
            return F.batch_norm(a, None, None, p(layer, "gamma"), p(layer, "beta"), training=True, eps=1e-5)
        if isinstance(layer, LayerNorm):
            return F.layer_norm(a, (a.shape[1],), p(layer, "gamma"), p(layer, "beta"), eps=1e-5)
        if isinstance(layer, RMSNorm):
            return F.rms_norm(a, (a.shape[1],), p(layer, "gamma"), eps=1e-5)
        assert isinstance(layer, Residual)
        h = a
        if layer.norm is not None and layer.norm_at == "pre":
            h = run(layer.norm, a)
        for inner in layer.branch:
            h = run(inner, h)
        s = p(layer, "scale") if layer.learn_scale else layer.scale
        y = a + s * h
        if layer.norm is not None and layer.norm_at == "post":
            y = run(layer.norm, y)
        return y

    a = x
    for layer in net.layers:
        a = run(layer, a)
    net.torch_params = params  # type: ignore[attr-defined]
    return a


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "gelu"])
@pytest.mark.parametrize("arch", ARCHS, ids=_name)
def test_gradients_match_pytorch_autograd(arch: dict[str, object], activation: str) -> None:
    net, x = _net(arch, activation)
    rows = list(trace(net, x, keep=True))
    out = rows[-1].post
    r = np.random.default_rng(1).standard_normal(out.shape)
    grads, dx = backward(net, r)

    torch = _torch()
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    pre: dict[int, Any] = {}
    tout = _torch_forward(net, tx, pre)
    (tout * torch.tensor(r)).sum().backward()
    # GELU: our erf is a fit good to 1.2e-7 (activations.py), torch's is exact
    tol: dict[str, Any] = (
        {"rtol": 1e-4, "atol": 1e-5} if activation == "gelu" else {"rtol": 1e-6, "atol": 1e-10}
    )
    np.testing.assert_allclose(out, tout.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **tol)
    for row in rows:
        np.testing.assert_allclose(row.pre, pre[row.index].detach().numpy(), **tol)
        np.testing.assert_allclose(
            grads[row.index], pre[row.index].grad.numpy(), err_msg=row.spec.name, **tol
        )
    for _, layer, name in net.parameters():
        theirs = net.torch_params[id(layer)][name].grad  # type: ignore[attr-defined]
        np.testing.assert_allclose(np.asarray(layer.grads[name]), theirs.numpy(), err_msg=name, **tol)


# Plain stacks with norms take maxout (a norm before it normalizes each of its k pieces).
MAXOUT_ARCHS: list[dict[str, Any]] = [
    {"norm": n, "norm_at": at} for n in ("batch", "layer", "rms") for at in ("before", "after")
]


@pytest.mark.parametrize("arch", MAXOUT_ARCHS, ids=_name)
def test_maxout_gradients_match_central_differences_and_pytorch(arch: dict[str, object]) -> None:
    net, x = _net(arch, "maxout", pieces=3)
    rows = list(trace(net, x, keep=True))
    assert [r.post.shape[1] for r in rows] == [s.units for s in net.specs]
    first = rows[0] if arch["norm_at"] == "before" else None
    if first is not None:  # the norm sees every piece: 3 x 6 units
        assert first.pre.shape == (8, 18) and first.spec.units == 18
    out = rows[-1].post
    r = np.random.default_rng(1).standard_normal(out.shape)
    grads, dx = backward(net, r)

    def loss() -> float:
        return float(np.sum(r * output(net, x)))

    h = 1e-6
    for a, analytic in [(x, dx)] + [(layer.params[n], layer.grads[n]) for _, layer, n in net.parameters()]:
        numeric = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            keep = a[i]
            a[i] = keep + h
            up = loss()
            a[i] = keep - h
            down = loss()
            a[i] = keep
            numeric[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)

    torch = _torch()
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    pre: dict[int, Any] = {}
    tout = _torch_forward(net, tx, pre)
    (tout * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    for row in rows:
        np.testing.assert_allclose(grads[row.index], pre[row.index].grad.numpy(), rtol=1e-8, atol=1e-12)


def test_maxout_layer_network_draws_the_plain_stacks_weights() -> None:
    """Without a norm-free shortcut to compare, the dense layers of a maxout stack with LayerNorm
    hold the plain maxout stack's weights and biases, piece for piece."""
    from app.engine.network.forward import forward

    fields = {"activation": "maxout", "pieces": 3, "init": "he_normal", "bias": "normal", "depth": 3}
    fields |= {"width": 7, "input_dim": 5}
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    plain = list(forward(make_run(fields), x, 0))
    dense = [
        layer for layer in build(make_run({**fields, "norm": "layer"}), 0).layers if isinstance(layer, Dense)
    ]
    for ours, theirs in zip(dense, plain, strict=True):
        np.testing.assert_array_equal(ours.weights, theirs.weights)
        np.testing.assert_array_equal(ours.params["b"], theirs.bias)


LSUV_ARCHS: list[dict[str, Any]] = [
    {"norm": "batch"},
    {"norm": "layer", "norm_at": "after"},
    {"block": "residual"},
    {"block": "residual", "branch": 2, "norm": "layer"},
    {"block": "residual", "branch": 2, "norm": "rms", "norm_at": "post"},
    {"block": "residual", "res_init": "rezero"},
]


@pytest.mark.parametrize("arch", LSUV_ARCHS, ids=_name)
def test_lsuv_gives_every_dense_layer_unit_variance_on_the_inputs(arch: dict[str, object]) -> None:
    """LSUV over the dense layers in forward order, through norms and into the branches: each
    dense layer's output has variance within LSUV's tolerance of 1 on the run's inputs, times
    gain^2; the same inputs give the same weights; no inputs, no network."""
    from app.engine.layers.initializers import LSUV_TOLERANCE

    fields = {"activation": "tanh", "init": "lsuv", "gain": 1.5, "bias": "normal", "bias_std": 0.1}
    run = make_run({**fields, "depth": 4, "width": 64, "input_dim": 32, "samples": 300, **arch})
    x = np.random.default_rng(3).standard_normal((300, 32)).astype(np.float32)
    net = build(run, 0, np.float32, x)
    seen: list[float] = []
    dense_out: dict[int, float] = {}

    # Each dense layer's output on the network's own forward pass: hook the layers' forward.
    for _, layer, name in net.parameters():
        if isinstance(layer, Dense) and name == "W" and id(layer) not in dense_out:
            dense_out[id(layer)] = math.nan
            original = layer.forward

            def hooked(
                a: np.ndarray, keep: bool = False, _f: Any = original, _l: Dense = layer
            ) -> np.ndarray:
                # the weights' part alone: gain scales W, not the bias (as the plain stack's LSUV)
                z = a @ _l.params["W"]
                seen.append(float(z.var(dtype=np.float64)))
                out: np.ndarray = _f(a, keep)
                return out

            layer.forward = hooked  # type: ignore[method-assign,assignment]
    output(net, x)
    assert len(seen) == len(dense_out) >= 4
    bias_var = 0.1**2
    for v in seen:  # Var(aW + b) near 1 before gain; the weights' part is then times gain^2
        assert abs(v / 1.5**2 + bias_var - 1.0) < LSUV_TOLERANCE + 0.02
    again = build(run, 0, np.float32, x)
    for (_, a, n), (_, b, _) in zip(net.parameters(), again.parameters(), strict=True):
        np.testing.assert_array_equal(a.params[n], b.params[n])
    plain = build(
        make_run({**fields, "init": "orthogonal", "depth": 4, "width": 64, "input_dim": 32, **arch}), 0
    )
    assert any(
        not np.array_equal(a.params["W"], b.params["W"])
        for (_, a, n), (_, b, _) in zip(net.parameters(), plain.parameters(), strict=True)
        if n == "W"
    )
    with pytest.raises(ValueError, match="needs the inputs"):
        build(run, 0)


def test_lsuv_layer_network_without_norm_is_the_plain_lsuv_stack() -> None:
    """A plain layer network (no norm) scaled by LSUV has the plain stack's LSUV weights."""
    from dataclasses import replace

    from app.engine.network.architecture import Architecture
    from app.engine.network.forward import forward

    run = make_run({"activation": "tanh", "init": "lsuv", "depth": 3, "width": 40, "input_dim": 20})
    x = np.random.default_rng(0).standard_normal((200, 20)).astype(np.float32)
    plain = list(forward(run, x, 0))
    net = build(replace(run, arch=Architecture()), 0, np.float32, x)
    dense = [layer for layer in net.layers if isinstance(layer, Dense)]
    for ours, theirs in zip(dense, plain, strict=True):
        np.testing.assert_array_equal(ours.weights, theirs.weights)


@pytest.mark.parametrize("arch", ARCHS, ids=_name)
def test_scaled_backward_is_backward_by_powers_of_two(arch: dict[str, object]) -> None:
    """The power-of-two rescaling changes no value: every row's gradient, every parameter's and
    dL/dx, scaled back, are backward's bit for bit (in float64, far from under- and overflow)."""
    net, x = _net(arch)
    out = output(net, x, keep=True)
    r = np.random.default_rng(1).standard_normal(out.shape) * 1e3
    rows, dx = backward(net, r)
    params = {where: np.array(layer.grads[name]) for where, layer, name in net.parameters()}
    scaled, exponents, sdx, e = scaled_backward(net, r)
    assert any(g.exponent != 0 for g in scaled.values())
    assert sorted(scaled) == sorted(rows)
    for i, g in scaled.items():
        np.testing.assert_array_equal(np.ldexp(g.delta, g.exponent), rows[i])
    np.testing.assert_array_equal(np.ldexp(sdx, e), dx)
    for where, layer, name in net.parameters():
        np.testing.assert_array_equal(
            np.ldexp(layer.grads[name], exponents[layer]), params[where], err_msg=where
        )


# 50 sigmoid layers, weights N(0, 0.02^2), RMSNorm after each activation: dL/d(row 0) is ~3e-54,
# below float32's smallest subnormal (1.4e-45): an unscaled float32 backward gives exact zeros.
VANISHING = {
    "activation": "sigmoid",
    "init": "normal",
    "std": 0.02,
    "norm": "rms",
    "norm_at": "after",
    "depth": 50,
    "width": 64,
    "input_dim": 64,
    "samples": 200,
}


def _reference(fields: dict[str, Any], scale: float) -> tuple[Network, np.ndarray, dict[int, np.ndarray]]:
    """The float32 network run with keep, its upstream gradient (times scale), and every row's
    gradient of the same network in float64."""
    run = make_run(fields)
    x = np.random.default_rng(0).standard_normal((run.samples, run.input_dim))
    n32, n64 = build(run, 0, np.float32), build(run, 0, np.float64)
    out = output(n32, x.astype(np.float32), keep=True)
    output(n64, x, keep=True)
    upstream = np.random.default_rng(1).standard_normal(out.shape) * scale
    exact, _ = backward(n64, upstream)
    return n32, upstream, exact


def _assert_close_everywhere(n32: Network, upstream: np.ndarray, exact: dict[int, np.ndarray]) -> None:
    scaled, _, _, _ = scaled_backward(n32, upstream.astype(np.float32))
    for i, g in scaled.items():
        true = np.ldexp(g.delta.astype(np.float64), g.exponent)
        peak = np.abs(exact[i]).max()
        assert peak > 0 and np.isfinite(peak)
        assert np.abs(true - exact[i]).max() <= 1e-3 * peak, i  # float32 against float64, 100 layers


def test_scaled_backward_keeps_vanishing_gradients_that_float32_loses() -> None:
    n32, upstream, exact = _reference(VANISHING, 1.0)
    assert np.abs(exact[0]).max() < 1e-50
    plain, _ = backward(n32, upstream.astype(np.float32))
    assert not np.any(plain[0])  # the unscaled float32 pass: all zeros
    _assert_close_everywhere(n32, upstream, exact)


def test_scaled_backward_keeps_exploding_gradients_that_float32_overflows() -> None:
    """BatchNorm after each of 100 sigmoid layers grows the gradient ~300 times; an upstream
    gradient of 2^120 (1.3e36, finite in float32) then passes float32's largest value."""
    fields = {**VANISHING, "init": "xavier", "norm": "batch", "depth": 100}
    n32, upstream, exact = _reference(fields, 2.0**120)
    plain, _ = backward(n32, upstream.astype(np.float32))
    assert not np.all(np.isfinite(plain[0]))
    _assert_close_everywhere(n32, upstream, exact)
