"""The residual block, y = x + s * F(x), a layer that holds its branch F.

F is a list of layers (in this engine: m times an activation and a dense layer, the pre-activation
ordering of He et al. 2016, so F ends in the dense "output projection"). The block may hold a
normalization layer too:

- pre-norm:  y = x + s * F(N(x))      (the skip carries x untouched; Pre-LN, Xiong et al. 2020)
- post-norm: y = N(x + s * F(x))      (the original Transformer's and ResNet's placement)

s is a number, or a learnable scalar (ReZero, Bachlechner et al. 2020: s = 0 at init, so the
block starts as the identity). `trace` runs the forward pass step by step, yielding each inner
layer with its input and output, then the block's own sum; `backward` takes dL/dy and gives dL/dx,
telling `record` each inner layer's input gradient as it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]
Placement = Literal["pre", "post"]


class Layer(Protocol):
    layer_type: str
    params: dict[str, Array]
    grads: dict[str, Array]

    def forward(self, x: Array, keep: bool = False) -> Array: ...

    def backward(self, g: Array) -> Array: ...


@dataclass
class Step:
    """One layer's forward step: what it received and what it gave."""

    layer: object  # the layer (a Residual for its sum x + s F)
    pre: Array
    post: Array


Record = Callable[[object, Array], None]


class Residual:
    layer_type = "residual"

    def __init__(
        self,
        branch: Sequence[Layer],
        scale: float,
        norm: Layer | None = None,
        norm_at: Placement = "pre",
        learn_scale: bool = False,
    ) -> None:
        self.branch = list(branch)
        self.norm = norm
        self.norm_at = norm_at
        self.learn_scale = learn_scale
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self._scale = float(scale)
        if learn_scale:
            self.params["scale"] = np.array(scale, dtype=np.float64)
        self._f: Array | None = None

    @property
    def scale(self) -> float:
        return float(self.params["scale"]) if self.learn_scale else self._scale

    def children(self) -> list[object]:
        inner: list[object] = list(self.branch)
        if self.norm is not None:
            inner.insert(0 if self.norm_at == "pre" else len(inner), self.norm)
        return inner

    def trace(self, x: Array, keep: bool = False) -> Generator[Step, None, Array]:
        h = x
        if self.norm is not None and self.norm_at == "pre":
            h = self.norm.forward(x, keep)
            yield Step(self.norm, x, h)
        for layer in self.branch:
            out = layer.forward(h, keep)
            yield Step(layer, h, out)
            h = out
        if keep:
            self._f = h
        y: Array = x + x.dtype.type(self.scale) * h
        del h
        yield Step(self, x, y)
        if self.norm is not None and self.norm_at == "post":
            out = self.norm.forward(y, keep)
            yield Step(self.norm, y, out)
            y = out
        return y

    def forward(self, x: Array, keep: bool = False) -> Array:
        steps = self.trace(x, keep)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                out: Array = done.value
                return out

    def backward(self, g_out: Array, record: Record | None = None) -> Array:
        """dL/dx from g = dL/dy. `record(layer, dL/d(its input))` for every inner layer; for the
        sum and the inner layer that reads x (read by the skip too) that is the whole dL/dx."""
        g: Array = g_out
        if self.norm is not None and self.norm_at == "post":
            g = self.norm.backward(g)
            if record is not None:
                record(self.norm, g)  # the sum's output is read by the norm alone
        f = self._f
        if f is None:
            raise RuntimeError("Residual.backward needs forward(x, keep=True) first")
        if self.learn_scale:
            self.grads["scale"] = np.array(float(np.sum(g * f, dtype=np.float64)))
        d: Array = g * g.dtype.type(self.scale)
        for layer in reversed(self.branch[1:]):
            d = layer.backward(d)
            if record is not None:
                record(layer, d)
        d = self.branch[0].backward(d)
        first: object = self.branch[0]  # the layer that reads x beside the skip
        if self.norm is not None and self.norm_at == "pre":
            if record is not None:
                record(first, d)
            d = self.norm.backward(d)
            first = self.norm
        dx: Array = g + d
        if record is not None:
            record(first, dx)
            record(self, dx)
        return dx
