"""The dense (affine) layer, z = x W + b, forward and backward side by side (the book's Affine).

`forward` keeps its input only when asked to (`keep`): an experiment that runs no backward pass
holds one layer at a time. A forward without `keep` leaves what the last kept one cached (a
training evaluates the test set between a probe's pass and its backward); every layer type does
so. `backward` takes dL/dz and gives dL/dx, keeping dL/dW and dL/db.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]


class Dense:
    layer_type = "dense"

    def __init__(self, weights: Array, bias: Array | None) -> None:
        self.params: dict[str, Array] = {"W": weights}
        if bias is not None:
            self.params["b"] = bias
        self.grads: dict[str, Array] = {}
        self._x: Array | None = None

    @property
    def weights(self) -> Array:
        return self.params["W"]

    def forward(self, x: Array, keep: bool = False) -> Array:
        if keep:  # a forward without keep leaves the last kept one's input (an evaluation between)
            self._x = x
        z = x @ self.params["W"]
        if "b" in self.params:
            z += self.params["b"]
        return z

    def backward(self, g: Array) -> Array:
        if self._x is None:
            raise RuntimeError("Dense.backward needs forward(x, keep=True) first")
        self.grads["W"] = self._x.T @ g
        if "b" in self.params:
            self.grads["b"] = g.sum(axis=0)
        return g @ self.params["W"].T
