"""The backward pass: the gradient of the loss with respect to every layer's z, and the weights'.

The loss's gradient at the output is either a standard normal vector per sample ("normal": the
mean-field convention, a random linear read-out) or a - y for random targets y ~ N(0, 1) ("mse",
the gradient of half the squared error). Vanishing gradients (a 50-layer sigmoid network reaches
1e-36) would turn into float32 subnormals, on which matrix products run ~5x slower, or flush to
zero and hide the early layers. So each layer's gradient is rescaled by a power of two (exact in
floating point) to a maximum near 1, and the exponent is kept beside it: statistics are scaled
back with ldexp.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..draws import standard_normal
from ..layers.activations import ACTIVATIONS
from . import pass_kernels
from .config import RunConfig
from .forward import Layer
from .memo import DRAWS

Array = NDArray[np.floating]
GRADIENT_STREAM = 2  # the upstream gradient's random stream, beside inputs (0) and weights (1)


@dataclass(frozen=True)
class LayerGradient:
    delta: Array  # dL/dz, divided by 2**exponent; shape of the layer's z (every maxout piece)
    exponent: int
    weight_norm: float  # Frobenius norm of dL/dW
    weight_std: float  # std of dL/dW
    grad_data_ratio: float | None  # std(dL/dW) / std(W); None when the weights are constant


def scale_back(x: float, exponent: int) -> float:
    """x * 2**exponent: 0 (or a subnormal) where that underflows, inf where it overflows (the
    true value of a vanished or exploded gradient, as float64 has it)."""
    try:
        return math.ldexp(x, exponent)
    except OverflowError:
        return math.copysign(math.inf, x)


def _normalize(x: Array, in_place: bool = False) -> tuple[Array, int]:
    """x / 2**e with max |x / 2**e| in [0.5, 1), and e; x unchanged when it is 0 or not finite.
    With `in_place` the caller gives x up, and it is scaled where it is when that is exact."""
    return _scaled(x, pass_kernels.peak(x), in_place)


def _scaled(x: Array, peak: float, in_place: bool) -> tuple[Array, int]:
    """_normalize of x whose max |x| (NaN when a value is NaN) is `peak`."""
    if peak == 0.0 or not math.isfinite(peak):
        return x, 0
    exponent = math.frexp(peak)[1]
    if -exponent in _EXACT_POWERS.get(x.dtype.char, ()):
        # Times 2**-e is x / 2**e rounded once, as ldexp rounds it (only subnormals round at all),
        # a third of the CPU of np.ldexp's loop; where x is given up, no fresh array.
        out = x if in_place and x.flags.writeable else None
        return np.multiply(x, x.dtype.type(2.0**-exponent), out=out), exponent
    return np.ldexp(x, -exponent).astype(x.dtype, copy=False), exponent


# The powers of two each dtype holds as normal numbers: a multiplier is exact there.
_EXACT_POWERS = {"f": range(-126, 128), "d": range(-1022, 1024)}


_SCRATCH = threading.local()
# At most 8 MB kept per thread: a larger network's products dwarf its read-out's page faults.
SCRATCH_VALUES = 1 << 20


def _draw_scratch(shape: tuple[int, ...]) -> NDArray[np.float64]:
    size = math.prod(shape)
    held: NDArray[np.float64] | None = getattr(_SCRATCH, "draws", None)
    if held is None or held.size < size:
        held = _SCRATCH.draws = np.empty(size, np.float64)
    return held[:size].reshape(shape)


def upstream_gradient(run: RunConfig, position: int, output: Array, loss: str) -> Array:
    """dL/da at the last layer, from the run's own random stream."""

    def draw() -> Array:
        rng = np.random.default_rng([run.seed, GRADIENT_STREAM, position])
        if output.dtype == np.float64 or output.size > SCRATCH_VALUES:
            return standard_normal(rng, output.shape, np.float64).astype(output.dtype, copy=False)
        # Drawn into this thread's float64 scratch (the very numbers: `out` only says where): a
        # fresh 0.8 MB array per run is 200 page faults at the texts' size.
        return standard_normal(rng, output.shape, np.float64, out=_draw_scratch(output.shape)).astype(
            output.dtype
        )

    # The draw depends on the seed, position and shape only (1.2 ms at 1000 x 100): a slider
    # dragged over the network's settings reuses it.
    key = ("upstream", run.seed, position, output.shape, output.dtype.str)
    noise: Array = DRAWS.get(key, draw)  # type: ignore[assignment]
    return noise if loss == "normal" else output - noise


# f'(z) g from f(z) where that gives the very bits of df(z) g: sigmoid's s (1 - s) and tanh's
# 1 - t^2 recompute s and t from z otherwise, a transcendental pass per layer for values already
# in `a`. Each kernel writes the product over g and returns its largest |value|.
_DELTA_FROM_OUTPUT: dict[str, Callable[[Array, Array], tuple[Array, float]]] = {
    "sigmoid": pass_kernels.sigmoid_delta,
    "tanh": pass_kernels.tanh_delta,
}


def _delta(run: RunConfig, layer: Layer, g: Array) -> tuple[Array, float]:
    """dL/dz = f'(z) g (maxout: g routed to each unit's winning piece), written over g (given up:
    an array of its own in z's dtype) where it has g's shape, and its largest |value| (NaN when a
    value is NaN). Writing over g, whose pages the product that made it has touched, spares a
    fresh array's page faults: three times the loop's own time at 1000 x 100."""
    if layer.activation == "relu":
        # f'(z) is 1.0 where z > 0, else 0.0: g times that is g * f'(z) exactly (0 * g keeps its
        # sign and NaN as the float product does)
        return pass_kernels.relu_delta(layer.z, g)
    from_output = _DELTA_FROM_OUTPUT.get(layer.activation)
    if from_output is not None:
        return from_output(layer.a, g)
    if layer.pieces > 1:
        return pass_kernels.maxout_delta(layer.z, g, layer.pieces)
    slope = _slope(run, layer)
    # every df gives z's dtype (the cast a no-op): the product in it, as NumPy's of two such arrays
    return pass_kernels.product_delta(slope.astype(g.dtype, copy=False), g)


def _slope(run: RunConfig, layer: Layer) -> Array:
    """f'(z) of an elementwise activation's layer, shaped like z."""
    return ACTIVATIONS[layer.activation].df(layer.z, run.activation_params_at(layer.index))


def backward(
    run: RunConfig, layers: list[Layer], x: Array, upstream: Array
) -> tuple[list[LayerGradient], Array]:
    """Backpropagate `upstream` (dL/da of the last layer) through the run's layers.

    Returns each layer's gradient (first to last) and dL/dx of the inputs (at its true scale).
    """
    grads: list[LayerGradient] = []
    g, exponent = _normalized_upstream(layers, upstream)
    for j in range(len(layers) - 1, -1, -1):
        grad, g = _step(run, layers, j, x, g, exponent, input_gradient=True)
        exponent = grad.exponent
        grads.append(grad)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        # dL/dx of an exploding network is honestly infinite: no warning for that
        return grads[::-1], np.ldexp(g, exponent)


def layer_gradients(
    run: RunConfig, layers: list[Layer], x: Array, upstream: Array
) -> Iterator[LayerGradient]:
    """backward's gradient of each layer, last layer first, without dL/dx (one matrix product
    fewer): a layer's statistics can be taken while the next one down is computed."""
    g, exponent = _normalized_upstream(layers, upstream)
    for j in range(len(layers) - 1, -1, -1):
        grad, g = _step(run, layers, j, x, g, exponent, input_gradient=False)
        exponent = grad.exponent
        yield grad


def _normalized_upstream(layers: list[Layer], upstream: Array) -> tuple[Array, int]:
    """upstream in the layers' dtype, normalized, in a C-contiguous array of its own: the first
    step writes dL/dz over it (`upstream` itself may be a kept draw: memo.DRAWS)."""
    dtype = layers[-1].z.dtype if layers else upstream.dtype
    g, exponent = _normalize(upstream.astype(dtype, copy=False))
    if np.may_share_memory(g, upstream) or not (g.flags.c_contiguous and g.flags.writeable):
        g = np.array(g, dtype, order="C")
    return g, exponent


def _step(
    run: RunConfig, layers: list[Layer], j: int, x: Array, g: Array, exponent: int, input_gradient: bool
) -> tuple[LayerGradient, Array]:
    """Layer j's gradient from g = dL/da_j / 2**exponent (given up: dL/dz is written over it), and
    dL/da_(j-1) in the gradient's units, a fresh array (for j = 0: dL/dx if `input_gradient`,
    else the spent g)."""
    layer = layers[j]
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        full, peak = _delta(run, layer, g)  # g's array (maxout's a fresh one): normalized where it is
        delta, shift = _scaled(full, peak, in_place=True)
        exponent += shift
        a_in = x if j == 0 else layers[j - 1].a
        dw = a_in.T @ delta
        w_std = pass_kernels.std64(layer.weights)
        dw_std = scale_back(pass_kernels.std64(dw), exponent)
        grad = LayerGradient(
            delta=delta,
            exponent=exponent,
            weight_norm=scale_back(float(np.linalg.norm(dw.astype(np.float64))), exponent),
            weight_std=dw_std,
            grad_data_ratio=dw_std / w_std if w_std > 0 else None,
        )
        if j or input_gradient:
            g = delta @ layer.weights.T
    return grad, g
