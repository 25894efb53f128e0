"""An activation as a layer: y = f(z) elementwise, backward g * f'(z) (the book's Relu, Sigmoid).

The formulas are the registry's (activations.py); this class only keeps z for the backward pass.
Maxout is not elementwise (its z holds k pieces per unit) and is not a layer here.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..params import ParamValue
from .activations import ACTIVATIONS

Array = NDArray[np.floating]


class Pointwise:
    layer_type = "activation"

    def __init__(self, name: str, params: dict[str, ParamValue]) -> None:
        activation = ACTIVATIONS[name]
        if activation.pieces(params) != 1:
            raise ValueError(f"{name} is not elementwise")
        self.name = name
        self.activation = activation
        self.act_params = params
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self._z: Array | None = None

    def bounds(self) -> tuple[float | None, float | None]:
        return self.activation.bounds(self.act_params)

    def forward(self, z: Array, keep: bool = False) -> Array:
        if keep:
            self._z = z
        return self.activation.f(z, self.act_params).astype(z.dtype, copy=False)

    def backward(self, g: Array) -> Array:
        if self._z is None:
            raise RuntimeError("Pointwise.backward needs forward(z, keep=True) first")
        slope = self.activation.df(self._z, self.act_params)
        return (slope * g).astype(g.dtype, copy=False)
