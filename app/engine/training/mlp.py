"""A run's network as a classifier: its hidden layers, a linear read-out, softmax cross-entropy.

Parameters live in one dict, W1, b1, ..., W{L+1}, b{L+1} (the book's names; L+1 is the read-out),
which optimizers update in place. The hidden weights are drawn exactly as network.forward draws
them for the run at position 0 (same stream, same order), so training starts from the network the
dashboard shows; the read-out is drawn after them by the same initializer. A `Pass` holds the
arrays of one batch size, so a training step allocates almost nothing: at batch 128 the matrix
products are short and fresh arrays' page faults and Python overhead would be felt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..layers.activations import ACTIVATIONS, Activation, Params
from ..layers.initializers import BIASES, INITIALIZERS
from ..network.config import RunConfig
from ..network.forward import lsuv_rescale, weight_rng

Array = NDArray[np.floating]


@dataclass(frozen=True)
class HiddenLayer:
    activation: Activation
    params: Params
    pieces: int  # maxout's k: z has pieces * units columns
    units: int

    def f(self, z: Array, out: Array) -> Array:
        if self.activation.name == "relu":
            return np.maximum(z, 0, out=out)
        pre = z.reshape(len(z), self.pieces, self.units) if self.pieces > 1 else z
        np.copyto(out, self.activation.f(pre, self.params), casting="same_kind")
        return out

    def backprop(self, g: Array, z: Array, a: Array, out: Array) -> Array:
        """dL/dz from g = dL/da: g times f'(z) (maxout: g routed to each unit's winning piece)."""
        if self.activation.name == "relu":
            return np.multiply(g, a > 0, out=out)  # f'(z) = 1 exactly where relu(z) > 0
        if self.pieces > 1:
            mask = self.activation.df(z.reshape(len(z), self.pieces, self.units), self.params)
            return np.multiply(mask, g[:, None, :], out=out.reshape(mask.shape)).reshape(out.shape)
        return np.multiply(g, self.activation.df(z, self.params), out=out, casting="same_kind")


@dataclass
class Pass:
    """The arrays of one forward and backward pass at one batch size (reused across steps)."""

    z: list[Array]  # hidden pre-activations, then the logits
    a: list[Array]  # hidden activations
    dz: list[Array]  # dL/dz of each hidden layer, then of the logits
    g: list[Array]  # dL/da of each hidden layer


class MLP:
    """The run's hidden layers (features -> widths) plus a linear read-out to `classes` logits."""

    def __init__(
        self,
        run: RunConfig,
        features: int,
        classes: int,
        init_data: Array | None = None,
        dtype: type[np.floating] = np.float32,
    ) -> None:
        self.dtype = dtype
        self.hidden: list[HiddenLayer] = []
        for j, units in enumerate(run.widths):
            activation = ACTIVATIONS[run.activation_at(j)]
            params = run.activation_params_at(j)
            self.hidden.append(HiddenLayer(activation, params, activation.pieces(params), units))
        self.params = draw_params(run, features, classes, self.hidden, init_data, dtype)
        self.depth = len(self.hidden) + 1  # weight matrices, the read-out included
        self.bias = "b1" in self.params
        self._passes: dict[int, Pass] = {}

    def weight_names(self) -> list[str]:
        return [f"W{k}" for k in range(1, self.depth + 1)]

    def new_grads(self) -> dict[str, Array]:
        return {key: np.zeros_like(p) for key, p in self.params.items()}

    def _new_pass(self, batch: int, backward: bool) -> Pass:
        shapes = [(batch, layer.pieces * layer.units) for layer in self.hidden]
        shapes.append((batch, self.params[f"W{self.depth}"].shape[1]))
        units = [(batch, layer.units) for layer in self.hidden]
        return Pass(
            z=[np.empty(s, self.dtype) for s in shapes],
            a=[np.empty(s, self.dtype) for s in units],
            dz=[np.empty(s, self.dtype) for s in shapes] if backward else [],
            g=[np.empty(s, self.dtype) for s in units] if backward else [],
        )

    def _pass(self, batch: int) -> Pass:
        cached = self._passes.get(batch)
        if cached is None:
            cached = self._passes[batch] = self._new_pass(batch, backward=True)
        return cached

    def forward(self, x: Array, keep: bool = True) -> Pass:
        """Logits (the Pass's last z) for inputs x; `keep=False` uses fresh arrays (evaluation at
        other batch sizes need not be cached)."""
        n = len(x)
        p = self._pass(n) if keep else self._new_pass(n, backward=False)
        a = x
        for j, layer in enumerate(self.hidden):
            z = np.matmul(a, self.params[f"W{j + 1}"], out=p.z[j])
            if self.bias:
                z += self.params[f"b{j + 1}"]
            a = layer.f(z, p.a[j])
        logits = np.matmul(a, self.params[f"W{self.depth}"], out=p.z[-1])
        if self.bias:
            logits += self.params[f"b{self.depth}"]
        return p

    def output_loss(self, logits: Array, y: NDArray[np.intp], out: Array | None) -> tuple[float, Array]:
        """The mean loss of the logits against labels y and its gradient dL/dlogits (into `out`):
        softmax cross-entropy here; a network with another read-out gives its own."""
        return softmax_cross_entropy(logits, y, out=out)

    def backward(self, x: Array, p: Pass, y: NDArray[np.intp], grads: dict[str, Array] | None) -> float:
        """The mean output loss of the pass's logits against labels y; fills p.dz and, unless
        grads is None, every parameter's gradient (in place)."""
        loss, d = self.output_loss(p.z[-1], y, out=p.dz[-1])
        for k in range(self.depth, 0, -1):
            a_in = x if k == 1 else p.a[k - 2]
            if grads is not None:
                np.matmul(a_in.T, d, out=grads[f"W{k}"])
                if self.bias:
                    np.add.reduce(d, axis=0, out=grads[f"b{k}"])
            if k == 1:
                break
            layer = self.hidden[k - 2]
            g = np.matmul(d, self.params[f"W{k}"].T, out=p.g[k - 2])
            d = layer.backprop(g, p.z[k - 2], p.a[k - 2], out=p.dz[k - 2])
        return loss

    def loss_and_grads(self, x: Array, y: NDArray[np.intp], grads: dict[str, Array]) -> float:
        """One training step's forward and backward pass: the batch loss; gradients into grads."""
        return self.backward(x, self.forward(x), y, grads)

    def evaluate(self, x: Array, y: NDArray[np.intp], keep: bool = False) -> tuple[float, float, Pass]:
        """(mean cross-entropy, accuracy, the pass) on x, y; with `keep` the pass's arrays are
        this batch size's own, ready for `backward`."""
        p = self.forward(x, keep=keep)
        logits = p.z[-1]
        correct = np.count_nonzero(logits.argmax(axis=1) == y)
        loss, _ = softmax_cross_entropy(logits, y, out=None)
        return loss, float(correct) / len(y), p


def softmax_cross_entropy(logits: Array, y: NDArray[np.intp], out: Array | None) -> tuple[float, Array]:
    """Mean cross-entropy of softmax(logits) against labels y, and its gradient dL/dlogits
    (softmax - one_hot) / n, computed with the log-sum-exp shift so no exp overflows. `out` may be
    `logits` itself."""
    n = len(logits)
    rows = np.arange(n)
    shifted = np.subtract(logits, logits.max(axis=1, keepdims=True), out=out)
    true = shifted[rows, y].astype(np.float64)
    e = np.exp(shifted, out=shifted)
    total = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(total[:, 0].astype(np.float64)) - true))
    e *= (1.0 / n) / total  # softmax / n
    e[rows, y] -= e.dtype.type(1.0 / n)
    return loss, e


def draw_params(
    run: RunConfig,
    features: int,
    classes: int,
    hidden: list[HiddenLayer],
    init_data: Array | None,
    dtype: type[np.floating],
) -> dict[str, Array]:
    """W1, b1, ..., W{L+1}, b{L+1}: hidden layers as network.forward draws them (weights then bias
    per layer, from weight_rng(run, 0)), then the read-out. Data-dependent initializers (LSUV)
    rescale each layer on `init_data`, read-out included."""
    rng = weight_rng(run, 0)
    init = INITIALIZERS[run.init]
    init_params = run.init_params()
    bias_init = BIASES[run.bias]
    params: dict[str, Array] = {}
    a = None if init_data is None else init_data.astype(dtype, copy=False)
    fan_in = features
    sizes = [(layer.units, layer.pieces) for layer in hidden] + [(classes, 1)]
    for k, (units, pieces) in enumerate(sizes, start=1):
        mats = [init.sample(fan_in, units, rng, init_params) for _ in range(pieces)]
        w = (mats[0] if pieces == 1 else np.concatenate(mats, axis=1)).astype(dtype, copy=False)
        b_raw = bias_init.sample(units * pieces, rng, run.bias_params())
        b = None if b_raw is None else b_raw.astype(dtype, copy=False)
        if init.data_dependent:
            if a is None:
                raise ValueError(f"{run.init} initialization needs init_data")
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                w = lsuv_rescale(a, w, b)
                w *= w.dtype.type(init_params["gain"])
                if k < len(sizes):
                    z = a @ w if b is None else a @ w + b
                    a = hidden[k - 1].f(z, np.empty((len(z), units), dtype))
        params[f"W{k}"] = np.ascontiguousarray(w)
        if b is not None:
            params[f"b{k}"] = b
        fan_in = units
    return params
