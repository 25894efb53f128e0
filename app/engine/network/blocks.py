"""A network of layers built from a run with an Architecture: plain stacks with normalization
layers, and residual blocks.

The network is a list of layers (layers/: Dense, Pointwise, the norms, Residual holding its
branch). Weights come from the run's own generator in the plain stack's order (each dense layer's
weights, then its biases), so a plain stack with BatchNorm has the very weights of the same stack
without it, and columns compare the norm alone.

Rows: every layer that carries a signal is one row of the answer, in forward order. A row's `pre`
is what the layer receives, its `post` what it gives, and its gradient dL/d(pre), as a plain
layer's row shows z, f(z) and dL/dz:

- an activation: z (or the norm's output) and f(z)
- a norm: before and after it
- the stem and each branch's output projection (dense layers not followed by their activation):
  their input and output
- a residual block's sum: the block's input x and its output x + s F(x)

A dense layer followed by its activation or norm is not a row of its own: its output is the next
row's `pre`, and its weights' gradient is reported on that row. Where one tensor is read twice (x
by the skip and by the branch), the row's gradient is the whole dL/dx.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

import numpy as np
from numpy.typing import NDArray

from ..draws import standard_normal
from ..layers.activations import ACTIVATIONS
from ..layers.dense import Dense
from ..layers.initializers import BIASES, INITIALIZERS, LSUV_MAX_PASSES
from ..layers.norm import NORMS, BatchNorm, Norm
from ..layers.pointwise import Maxout, Pointwise
from ..layers.residual import Residual, Step
from .architecture import Architecture, fixup_scale
from .backward import _normalize as normalize_power_of_two
from .config import RunConfig
from .forward import lsuv_rescale, weight_rng

Array = NDArray[np.floating]
AnyLayer = Dense | Pointwise | Maxout | Norm | Residual


@dataclass(frozen=True)
class RowSpec:
    """What a row is, known before any weight is drawn."""

    layer_type: str  # dense, activation, batch_norm, layer_norm, rms_norm, residual
    name: str  # where it sits: "layer 2 · batch_norm", "block 3 · relu 1"
    activation: str  # the activation's name for an activation row, else the layer type
    units: int = 0  # the width of what it gives (a norm before maxout: k pieces a unit)


@dataclass(frozen=True)
class Row:
    index: int
    spec: RowSpec
    pre: Array
    post: Array
    bounds: tuple[float | None, float | None]


@dataclass
class Network:
    run: RunConfig
    layers: list[AnyLayer]
    specs: list[RowSpec]
    # Weak keys: a streamed network drops each layer once it has run, and its entries with it.
    rows: WeakKeyDictionary[object, int] = field(default_factory=WeakKeyDictionary)  # layer -> its row
    # A row's layer -> the dense layer whose output is its pre (a dense row reports its own weights;
    # it is not stored here, where it would keep itself alive as its own key's value).
    feeds: WeakKeyDictionary[object, Dense] = field(default_factory=WeakKeyDictionary)

    def fed_rows(self) -> dict[int, Dense]:
        """Each row's feeding dense layer, of a built network."""
        fed = {}
        for layer in _flat(self.layers):
            dense = layer if isinstance(layer, Dense) else self.feeds.get(layer)
            if layer in self.rows and dense is not None:
                fed[self.rows[layer]] = dense
        return fed

    def parameters(self) -> Iterator[tuple[str, AnyLayer, str]]:
        """(where, layer, name) of every parameter, for gradient checks and optimizers."""
        for i, layer in enumerate(_flat(self.layers)):
            for name in layer.params:
                yield f"{i}.{type(layer).__name__}.{name}", layer, name


def _flat(layers: list[AnyLayer]) -> Iterator[AnyLayer]:
    for layer in layers:
        yield layer
        if isinstance(layer, Residual):
            yield from _flat(layer.children())  # type: ignore[arg-type]


def architecture(run: RunConfig) -> Architecture:
    return run.arch if run.arch is not None else Architecture()


def _dense(
    run: RunConfig,
    fan_in: int,
    units: int,
    rng: np.random.Generator,
    dtype: type[np.floating],
    pieces: int = 1,
) -> Dense:
    """A dense layer drawn as the plain stack draws it: maxout's k weight sets side by side, each
    with its own fans, then the k * units biases."""
    init, params = INITIALIZERS[run.init], run.init_params()
    mats = [init.sample(fan_in, units, rng, params) for _ in range(pieces)]
    w = mats[0] if pieces == 1 else np.concatenate(mats, axis=1)
    b = BIASES[run.bias].sample(units * pieces, rng, run.bias_params())
    return Dense(w.astype(dtype, copy=False), None if b is None else b.astype(dtype, copy=False))


def _activation(run: RunConfig, j: int) -> Pointwise | Maxout:
    name, params = run.activation_at(j), run.activation_params_at(j)
    return Maxout(name, params) if ACTIVATIONS[name].pieces(params) > 1 else Pointwise(name, params)


def _norm(arch: Architecture, units: int, dtype: type[np.floating]) -> Norm:
    return NORMS[arch.norm](units, dtype)


def _layers(
    net: Network, position: int, dtype: type[np.floating], x: Array | None = None
) -> Iterator[AnyLayer]:
    """The run's top-level layers one at a time, weights drawn from its generator (the run's
    position in its experiment) in order; each layer's rows are registered in `net` as it comes.
    LSUV (a data-dependent init) rescales each dense layer on x as it comes (see _lsuv)."""
    arch = architecture(net.run)
    rng = weight_rng(net.run, position)
    build_layers = _build_residual if arch.residual else _build_plain
    layers = build_layers(net, arch, rng, dtype)
    if not INITIALIZERS[net.run.init].data_dependent:
        del x  # a streamed network holds one layer's arrays: not the inputs too
        yield from layers
        return
    if x is None:
        raise ValueError(f"{net.run.init} initialization needs the inputs it scales the layers on")
    gain = float(net.run.init_params()["gain"])
    a = x
    del x
    for layer in layers:
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            a = _lsuv(layer, a, gain)
        yield layer


def _lsuv(layer: AnyLayer, a: Array, gain: float) -> Array:
    """LSUV (Mishkin and Matas 2016) on one layer given its input a: every dense layer in forward
    order, a residual branch's too (on what the branch reads: the pre-norm's output), rescaled as
    the plain stack's are (lsuv_rescale until Var(a W + b) is near 1, then times gain); the layer's
    output with its rescaled weights, for the next. A zero layer (Fixup's last) stays 0."""
    if isinstance(layer, Dense):
        w = lsuv_rescale(a, layer.params["W"], layer.params.get("b"))
        w *= w.dtype.type(gain)
        layer.params["W"] = w
        return layer.forward(a)
    if isinstance(layer, Residual):
        h = a
        if layer.norm is not None and layer.norm_at == "pre":
            h = layer.norm.forward(a)
        for inner in layer.branch:
            h = _lsuv(inner, h, gain)  # type: ignore[arg-type]
        y: Array = a + a.dtype.type(layer.scale) * h
        if layer.norm is not None and layer.norm_at == "post":
            y = layer.norm.forward(y)
        return y
    return layer.forward(a)


def build(
    run: RunConfig, position: int = 0, dtype: type[np.floating] = np.float32, x: Array | None = None
) -> Network:
    """The run's whole network (for a backward pass, or to look at its weights). LSUV scales it
    on x, the run's input samples (what its /simulate answer runs on)."""
    net = Network(run, [], [])
    net.layers.extend(_layers(net, position, dtype, x))
    return net


def stream(
    run: RunConfig, x: Array, position: int = 0, dtype: type[np.floating] = np.float32
) -> Iterator[Row]:
    """Every row for inputs x, each layer drawn just before it runs and dropped after: a
    forward-only experiment holds one layer (and a residual block's input) at a time."""
    net = Network(run, [], [])
    a = x
    del x
    for layer in _layers(net, position, dtype, a):
        a = yield from _run(net, layer, a, False)
        del layer


def _row(net: Network, layer: object, spec: RowSpec, fed_by: Dense | None = None) -> None:
    net.rows[layer] = len(net.specs)
    net.specs.append(spec)
    if fed_by is not None:
        net.feeds[layer] = fed_by


def _build_plain(
    net: Network, arch: Architecture, rng: np.random.Generator, dtype: type[np.floating]
) -> Iterator[AnyLayer]:
    run = net.run
    fan_in = run.input_dim
    for j, units in enumerate(run.widths):
        name = run.activation_at(j)
        act = _activation(run, j)
        pieces = act.pieces if isinstance(act, Maxout) else 1
        dense = _dense(run, fan_in, units, rng, dtype, pieces)
        yield dense
        fed: Dense | None = dense
        where = f"layer {j + 1}"
        if arch.norm != "none" and arch.norm_at == "before":  # maxout: over each of its k pieces
            norm = _norm(arch, units * pieces, dtype)
            spec = RowSpec(norm.layer_type, f"{where} · {norm.layer_type}", norm.layer_type, units * pieces)
            _row(net, norm, spec, fed)
            yield norm
            fed = None
        _row(net, act, RowSpec("activation", f"{where} · {name}", name, units), fed)
        yield act
        if arch.norm != "none" and arch.norm_at == "after":
            norm = _norm(arch, units, dtype)
            _row(net, norm, RowSpec(norm.layer_type, f"{where} · {norm.layer_type}", norm.layer_type, units))
            yield norm
        fan_in = units


def _build_residual(
    net: Network, arch: Architecture, rng: np.random.Generator, dtype: type[np.floating]
) -> Iterator[AnyLayer]:
    run = net.run
    width = run.widths[0]
    blocks = run.depth
    stem = _dense(run, run.input_dim, width, rng, dtype)
    _row(net, stem, RowSpec("dense", "stem", "dense", width))
    yield stem
    name = run.activation
    params = run.activation_params()
    for k in range(blocks):
        where = f"block {k + 1}"
        norm = _norm(arch, width, dtype) if arch.norm != "none" else None
        if norm is not None and arch.norm_at == "pre":
            _row(
                net,
                norm,
                RowSpec(norm.layer_type, f"{where} · {norm.layer_type} (pre)", norm.layer_type, width),
            )
        branch: list[AnyLayer] = []
        fed: Dense | None = None
        for i in range(arch.branch):
            act = Pointwise(name, params)
            _row(net, act, RowSpec("activation", f"{where} · {name} {i + 1}", name, width), fed)
            dense = _dense(run, width, width, rng, dtype)
            last = i == arch.branch - 1
            if arch.res_init == "fixup":
                dense = _fixup(dense, i == 0, last, fixup_scale(blocks, arch.branch), rng, dtype)
            elif arch.res_init == "depth" and last:
                dense.params["W"] *= dense.params["W"].dtype.type(1.0 / math.sqrt(2 * blocks))
            branch += [act, dense]
            fed = dense
        projection = branch[-1]
        _row(net, projection, RowSpec("dense", f"{where} · projection", "dense", width))
        block = Residual(
            branch, arch.branch_scale, norm, "pre" if arch.norm_at == "pre" else "post", arch.learn_scale
        )
        _row(net, block, RowSpec("residual", f"{where} · x + s F(x)", "residual", width))
        if norm is not None and arch.norm_at == "post":
            spec = RowSpec(norm.layer_type, f"{where} · {norm.layer_type} (post)", norm.layer_type, width)
            _row(net, norm, spec)
        yield block
    if arch.norm != "none" and arch.norm_at == "pre":
        # Pre-norm stacks end in a norm of the residual stream, as Pre-LN Transformers do (GPT-2's
        # ln_f; Xiong et al. 2020, fig. 1): the stream's scale grows with depth, the output's does not.
        final = _norm(arch, width, dtype)
        _row(net, final, RowSpec(final.layer_type, f"final · {final.layer_type}", final.layer_type, width))
        yield final


def _fixup(
    dense: Dense, first: bool, last: bool, factor: float, rng: np.random.Generator, dtype: type[np.floating]
) -> Dense:
    """Fixup's branch layer: the last one 0, the first He-scaled times `factor`, biases 0."""
    w = dense.params["W"]
    if last:
        weights = np.zeros_like(w)
    else:
        fan_in = w.shape[0]
        std = math.sqrt(2.0 / fan_in) * factor
        weights = (standard_normal(rng, w.shape) * np.float32(std)).astype(dtype)
    bias = None if "b" not in dense.params else np.zeros_like(dense.params["b"])
    return Dense(weights, bias)


def _bounds(layer: object) -> tuple[float | None, float | None]:
    return layer.bounds() if isinstance(layer, Pointwise | Maxout) else (None, None)


def trace(net: Network, x: Array, keep: bool = False) -> Iterator[Row]:
    """Every row of a built network for inputs x, first to last. Without `keep` no layer holds
    its arrays for a backward pass: the caller holds a row until it asks for the next."""
    a = x
    del x
    for layer in net.layers:
        a = yield from _run(net, layer, a, keep)


def _run(net: Network, layer: AnyLayer, a: Array, keep: bool) -> Generator[Row, None, Array]:
    """One top-level layer on a: its rows, then its output."""
    if isinstance(layer, Residual):
        steps = layer.trace(a, keep)
        del a
        while True:
            try:
                step = next(steps)
            except StopIteration as done:
                result: Array = done.value
                return result
            row = _as_row(net, step)
            del step
            if row is not None:
                yield row
            del row
    out = layer.forward(a, keep)
    row = _as_row(net, Step(layer, a, out))
    del a
    if row is not None:
        yield row
    return out


def _as_row(net: Network, step: Step) -> Row | None:
    index = net.rows.get(step.layer)
    if index is None:
        return None
    return Row(index, net.specs[index], step.pre, step.post, _bounds(step.layer))


def output(net: Network, x: Array, keep: bool = False) -> Array:
    """The network's output for inputs x (the last row's post)."""
    last: Array = x
    for row in trace(net, x, keep):
        last = row.post
    return last


def backward(net: Network, upstream: Array) -> tuple[dict[int, Array], Array]:
    """Backpropagate dL/d(output) through a network run with `keep`: every row's dL/d(pre), and
    dL/dx of the inputs, at their true scale (a training's). Each layer keeps its parameters'
    gradients in `grads`."""
    rows, _, dx, _ = _backward(net, upstream, rescale=False)
    return {i: g.delta for i, g in rows.items()}, dx


@dataclass(frozen=True)
class RowGradient:
    delta: Array  # dL/d(the row's pre) / 2**exponent
    exponent: int


def scaled_backward(
    net: Network, upstream: Array
) -> tuple[dict[int, RowGradient], dict[object, int], Array, int]:
    """backward with the plain stack's power-of-two rescaling (backward.py): before each
    top-level layer (a plain layer, a residual block) the gradient is divided by the power of two
    that brings its largest value into [0.5, 1), exactly, so that a deep network's vanishing
    gradient never becomes float32 subnormals (5x slower products, then zeros) nor an exploding
    one inf. Returns every row's gradient with its exponent, each layer's exponent (its `grads`
    are in those units), and dL/dx with its exponent."""
    return _backward(net, upstream, rescale=True)


def _backward(
    net: Network, upstream: Array, rescale: bool
) -> tuple[dict[int, RowGradient], dict[object, int], Array, int]:
    grads: dict[int, RowGradient] = {}
    exponents: dict[object, int] = {}
    exponent = 0

    def record(layer: object, g: Array) -> None:
        index = net.rows.get(layer)
        if index is not None:
            grads[index] = RowGradient(g, exponent)

    g = upstream
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for layer in reversed(net.layers):
            if rescale:
                g, shift = normalize_power_of_two(g)
                exponent += shift
            if isinstance(layer, Residual):
                g = layer.backward(g, record)
                for inner in _flat(layer.children()):  # type: ignore[arg-type]
                    exponents[inner] = exponent
            else:
                g = layer.backward(g)
                record(layer, g)
            exponents[layer] = exponent
    return grads, exponents, g, exponent


def set_training(net: Network, on: bool) -> None:
    """BatchNorm's moving averages follow each forward pass while training."""
    for layer in _flat(net.layers):
        if isinstance(layer, BatchNorm):
            layer.track = on


def without_parameter_gradients(net: Network) -> None:
    """The norms skip their scale's and shift's gradients (an experiment at init reads only the
    dense layers'): 0.3-0.55 of a pass less per LayerNorm or RMSNorm backward."""
    for layer in _flat(net.layers):
        if isinstance(layer, Norm):
            layer.parameter_gradients = False


def _pieces(run: RunConfig, j: int) -> int:
    return ACTIVATIONS[run.activation_at(j)].pieces(run.activation_params_at(j))


def dense_sizes(run: RunConfig) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of every dense layer of the run's network, in order, without drawing a
    weight: the stem and each branch layer, or (plain) each layer with maxout's k pieces a unit."""
    arch = architecture(run)
    if arch.residual:
        width = run.widths[0]
        return [(run.input_dim, width)] + [(width, width)] * (run.depth * arch.branch)
    outs = [w * _pieces(run, j) for j, w in enumerate(run.widths)]
    return list(zip((run.input_dim, *run.widths[:-1]), outs, strict=True))


def row_count(run: RunConfig) -> int:
    """How many rows build(run) makes, without drawing a weight."""
    arch = architecture(run)
    norm = 0 if arch.norm == "none" else 1
    if not arch.residual:
        return run.depth * (1 + norm)
    final = 1 if norm and arch.norm_at == "pre" else 0  # pre-norm stacks' final norm
    return 1 + run.depth * (arch.branch + 2 + norm) + final


# Arrays of a layer's size each row holds for the backward pass: the layer's cache (its input, or
# a norm's x-hat), the row's pre and post, and its gradient, with temporaries while it is made.
ROW_COPIES = 5
SKIP_COPIES = 2  # a residual block also holds its input x for the skip, and x + s F(x)


def block_cost(run: RunConfig, itemsize: int, gradients: bool, z_copies: int) -> tuple[int, int]:
    """(multiply-adds, peak bytes) of a layer network: the dense layers' products, and the arrays
    one row holds at a time (all rows, with the backward pass)."""
    arch = architecture(run)
    if arch.residual:
        width = run.widths[0]
        macs = run.samples * (run.input_dim * width + run.depth * arch.branch * width * width)
        weights = max(run.input_dim, width) * width
        widest = width
    else:
        fans = (run.input_dim, *run.widths[:-1])
        outs = [w * _pieces(run, j) for j, w in enumerate(run.widths)]  # maxout: k pieces a unit
        macs = run.samples * sum(f * o for f, o in zip(fans, outs, strict=True))
        weights = max(f * o for f, o in zip(fans, outs, strict=True))
        widest = max(outs)
    if INITIALIZERS[run.init].data_dependent:  # LSUV: up to its passes per dense layer, and a walk
        macs *= 2 + LSUV_MAX_PASSES
    memory = itemsize * run.samples * (run.input_dim + (z_copies + SKIP_COPIES) * widest)
    if gradients:
        macs *= 3  # dL/dW and dL/da of every dense layer (dL/dx of the inputs too)
        memory += itemsize * run.samples * widest * ROW_COPIES * row_count(run)
        memory += itemsize * weights * 2 * (run.depth * arch.branch + 1)  # weights and their gradients
    return macs, memory
