"""An activation as a layer: y = f(z) elementwise, backward g * f'(z) (the book's Relu, Sigmoid).

The formulas are the registry's (activations.py); this class only keeps z for the backward pass.
Maxout is not elementwise: its z holds k pieces per unit, side by side as the plain stack lays them
out (z[:, p * units + u] is unit u's piece p), and Maxout takes each unit's largest; its backward
routes g to the winning piece (the first one on ties), the others get 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..params import ParamValue
from .activations import ACTIVATIONS

Array = NDArray[np.floating]


class _Activation:
    """What both activation layers hold: the registry's activation, its parameters, no weights, and
    z when the backward pass will need it."""

    layer_type = "activation"

    def __init__(self, name: str, params: dict[str, ParamValue]) -> None:
        self.name = name
        self.activation = ACTIVATIONS[name]
        self.act_params = params
        self.pieces = self.activation.pieces(params)
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self._z: Array | None = None

    def bounds(self) -> tuple[float | None, float | None]:
        return self.activation.bounds(self.act_params)

    def _kept(self) -> Array:
        if self._z is None:
            raise RuntimeError(f"{type(self).__name__}.backward needs forward(z, keep=True) first")
        return self._z


class Pointwise(_Activation):
    def __init__(self, name: str, params: dict[str, ParamValue]) -> None:
        super().__init__(name, params)
        if self.pieces != 1:
            raise ValueError(f"{name} is not elementwise")

    def forward(self, z: Array, keep: bool = False) -> Array:
        if keep:
            self._z = z
        return self.activation.f(z, self.act_params).astype(z.dtype, copy=False)

    def backward(self, g: Array) -> Array:
        slope = self.activation.df(self._kept(), self.act_params)
        return (slope * g).astype(g.dtype, copy=False)


class Maxout(_Activation):
    def __init__(self, name: str, params: dict[str, ParamValue]) -> None:
        super().__init__(name, params)
        if self.pieces < 2:
            raise ValueError(f"{name} is elementwise: use Pointwise")

    def _split(self, z: Array) -> Array:
        return z.reshape(z.shape[0], self.pieces, z.shape[1] // self.pieces)

    def forward(self, z: Array, keep: bool = False) -> Array:
        if keep:
            self._z = z
        return self.activation.f(self._split(z), self.act_params).astype(z.dtype, copy=False)

    def backward(self, g: Array) -> Array:
        z = self._kept()
        mask = self.activation.df(self._split(z), self.act_params)
        return (mask * g[:, None, :]).reshape(z.shape).astype(g.dtype, copy=False)
