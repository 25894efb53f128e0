"""Normalization layers, forward and backward side by side: BatchNorm, LayerNorm, RMSNorm.

Each standardizes its input and applies a learnable scale (gamma, 1 at init) and shift (beta, 0
at init; RMSNorm has no shift, as in Zhang and Sennrich 2019 and torch.nn.RMSNorm):

- BatchNorm (Ioffe and Szegedy 2015): each unit over the batch, with the batch's own mean and
  variance (training mode; what the initialization experiments run). `running` keeps the moving
  averages a trained network is evaluated with.
- LayerNorm (Ba et al. 2016): each sample over its units, mean and variance.
- RMSNorm: each sample over its units, by its root mean square (no centring).

Forward and backward of a network's layers (C-ordered, one dtype, 2 to 8192 units) run as
compiled kernels (norm_kernels.py): LayerNorm and RMSNorm in one pass over the layer (at widths
whose pairwise sums split into whole steps of 16 values, 512 say, a pipeline of rows in one
loop); BatchNorm in three reads of x forward and two of g and x-hat (or x) backward (its
statistics need every row first). A scaled layer keeps its input and statistics rather than writing x-hat: the
backward kernels make x-hat again as they read it. They add in NumPy's orders, so every answer
keeps its bits (tests/engine/layers/test_norm.py holds the formulas the layers had, and compares
them bit for bit). Other layouts and dtypes (a float64 gradient through a float32 layer, a transposed
or strided array, one unit, wider layers) keep the NumPy steps below: four passes forward (the
sum, x - mean, the sum of squares, the scaling; RMSNorm two), four to eight backward.
bench/blocks_bench.py --norms-only measures them in passes over the layer.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray

from . import norm_kernels
from .norm_kernels import EPS as EPS  # the layers' constant, public here as before

Array = NDArray[np.floating]


def _column_sums(x: Array) -> Array:
    """x.sum(axis=0) bit for bit (tested over shapes, dtypes and layouts), faster where einsum adds
    the rows one after another, each column on its own, as np.add.reduce does: a C-ordered array
    of two columns or more (one column is a contiguous sum, which NumPy adds pairwise and einsum
    with several accumulators, so their bits differ). Measured against np.add.reduce: 0.2-0.7 of
    its time up to width 256, about even from 512 (memory-bound)."""
    if x.ndim == 2 and x.shape[1] > 1 and x.flags.c_contiguous:
        total: Array = np.einsum("ij->j", x)
        return total
    sums: Array = np.add.reduce(x, axis=0, dtype=x.dtype)
    return sums


@functools.lru_cache(maxsize=64)
def _constant_bytes(dtype: np.dtype[np.floating], size: int, value: int) -> bytes:
    """The bytes of `size` values `value` of `dtype` (a scale's or shift's at init)."""
    return np.full(size, value, dtype).tobytes()


class _Norm:
    layer_type = ""
    axis = 0  # 0: over the batch (each unit), 1: over the units (each sample)
    _kept = (1, -1)  # a statistic's shape, kept as size 1 on the axis
    centred = True
    shift = True
    # Off in experiments at init, which never read the scale's and shift's gradients: LayerNorm
    # and RMSNorm then skip their two sums over the batch (BatchNorm at scale 1 takes them anyway,
    # since its own gradient is made of them). A training needs them.
    parameter_gradients = True

    def __init__(self, units: int, dtype: type[np.floating] = np.float32) -> None:
        self.params: dict[str, Array] = {"gamma": np.ones(units, dtype=dtype)}
        if self.shift:
            self.params["beta"] = np.zeros(units, dtype=dtype)
        self.grads: dict[str, Array] = {}
        # What backward needs, kept by forward(keep=True): inv = 1 / sqrt(var + eps), and x-hat as
        # (src - shift) * inv, shift None when src is x-hat itself (a scaled layer taken by the
        # kernels keeps its input x and its means instead: an array fewer to write).
        self._src: Array | None = None
        self._shift: Array | None = None
        self._inv: Array | None = None

    def _sum_of_products(self, a: Array, b: Array) -> Array:
        """sum(a * b) along the norm's axis, kept as size 1, in one pass (no a * b array)."""
        spec = "ij,ij->j" if self.axis == 0 else "ij,ij->i"
        total: Array = np.einsum(spec, a, b)
        return total.reshape(self._kept)

    def _identity(self) -> bool:
        """Scale 1 and shift 0, as at init: y is x-hat itself (two passes fewer)."""
        if not self._unscaled():
            return False
        beta = self.params.get("beta")
        # +0.0's bytes first (a shift of -0.0 counts as 0 too: beta.any() decides then)
        return beta is None or beta.tobytes() == _constant_bytes(beta.dtype, beta.size, 0) or not beta.any()

    def _unscaled(self) -> bool:
        """Scale 1 everywhere: gamma's bytes are 1.0's (the one float equal to 1), compared as
        bytes (~0.9 us at width 100; (gamma == 1).all() ~1.8 us, on each layer's every pass)."""
        gamma = self.params["gamma"]
        return gamma.tobytes() == _constant_bytes(gamma.dtype, gamma.size, 1)

    def forward(self, x: Array, keep: bool = False) -> Array:
        """y for x; with `keep`, what backward needs, which may be x itself (a scaled layer's, as
        Dense keeps its input): x must not change until backward has run."""
        if norm_kernels.fits(x, *self.params.values()):
            return self._compiled_forward(x, keep)
        # Other layouts and dtypes: four NumPy passes over x (its sum, x - mean, the sum of
        # squares, the scaling in place); the statistics are computed once and shared (a
        # training's BatchNorm moves its running averages with them).
        mean = self._mean(x)
        xhat = x if mean is None else np.subtract(x, mean)
        inv, var = self._inverse_std(xhat, self._wants_variance())
        self._observe(mean, var)
        identity = self._identity()
        xhat = np.multiply(xhat, inv, out=xhat if self.centred else None)
        if keep:
            self._keep(xhat, None, inv)
        if identity:
            return xhat
        # x-hat is kept for backward; without keep, y takes its buffer (when that keeps y's dtype)
        gamma = self.params["gamma"]
        reuse = not keep and np.result_type(xhat, gamma) == xhat.dtype
        y: Array = np.multiply(xhat, gamma, out=xhat if reuse else None)
        if self.shift:
            y += self.params["beta"]
        return y

    def _compiled_forward(self, x: Array, keep: bool) -> Array:
        """forward by the kernels (a network's C-ordered layers): y in one pass over x for
        LayerNorm and RMSNorm, three reads of x for BatchNorm. y is x-hat itself at scale 1 and
        shift 0; otherwise x-hat is not written where the kernels make it again in the backward
        from x and the statistics (BatchNorm, and the row norms at widths taken in steps)."""
        identity = self._identity()
        gamma = self.params["gamma"]
        beta = self.params.get("beta", gamma)  # (unread without a shift)
        y = np.empty(x.shape, x.dtype)
        if self.axis == 0:
            mean, var, inv = norm_kernels.batch_forward(x, gamma, beta, not identity, self.shift, y)
            self._observe(mean.reshape(self._kept), var.reshape(self._kept))
            shift = mean.reshape(self._kept)
        else:
            remade = identity or norm_kernels.in_steps(x.shape[1])  # x-hat made again, or y
            xhat = y if not keep or remade else np.empty(x.shape, x.dtype)
            shift = np.empty(x.shape[0], x.dtype)
            inv = norm_kernels.row_forward(
                x, gamma, beta, self.centred, not identity, self.shift, xhat, y, shift
            )
            if keep and not remade:
                self._keep(xhat, None, inv.reshape(self._kept))
                return y
            shift = shift.reshape(self._kept)
        if keep:
            kept_inv = inv.reshape(self._kept)
            if identity:
                self._keep(y, None, kept_inv)
            else:
                self._keep(x, shift, kept_inv)
        return y

    def _keep(self, src: Array, shift: Array | None, inv: Array) -> None:
        self._src, self._shift, self._inv = src, shift, inv

    def _mean(self, x: Array) -> Array | None:
        """x.mean(axis, keepdims=True, dtype=x.dtype) bit for bit (tested), None when not centred."""
        if not self.centred:
            return None
        if self.axis == 0:
            total: Array = _column_sums(x).reshape(self._kept)
        else:
            total = np.add.reduce(x, axis=self.axis, dtype=x.dtype, keepdims=True)
        # x.mean divides by the count in float64 then rounds: the same bits as in x's dtype
        # (a quotient of floats correctly rounded twice, 53 >= 2 * 24 + 2 bits)
        np.divide(total, x.dtype.type(x.shape[self.axis]), out=total)
        return total

    def _wants_variance(self) -> bool:
        return False

    def _observe(self, mean: Array | None, var: Array | None) -> None:
        """The batch's statistics, for a layer that keeps them (BatchNorm while training)."""

    def _inverse_std(self, xhat: Array, variance: bool = False) -> tuple[Array, Array | None]:
        """1 / sqrt(var + eps) from x - mean, in place on the sum of squares (no temporaries of
        the statistics' size): the very bits of (1.0 / np.sqrt(sum / n + EPS)) in x's dtype; and
        var itself when asked (a copy of the statistics' size)."""
        inv = self._sum_of_products(xhat, xhat)
        np.divide(inv, xhat.dtype.type(xhat.shape[self.axis]), out=inv)
        var = inv.copy() if variance else None
        np.add(inv, xhat.dtype.type(EPS), out=inv)
        np.sqrt(inv, out=inv)
        np.divide(xhat.dtype.type(1.0), inv, out=inv)
        return inv, var

    def statistics(self, x: Array) -> tuple[Array | None, Array]:
        """(mean, 1 / sqrt(var + eps)) along the norm's axis as forward computes them (mean None
        when not centred), kept as size 1 on that axis."""
        mean = self._mean(x)
        inv, _ = self._inverse_std(x if mean is None else np.subtract(x, mean))
        return mean, inv

    def apply(self, x: Array, mean: Array | None, inv: Array) -> tuple[Array, Array]:
        """(y, x-hat) of x normalized by given statistics (a BatchNorm's frozen ones: the
        diagnostics' pairs normalized by the run's own batch, which /simulate shows)."""
        if mean is None:
            xhat = x * inv
        else:
            xhat = np.subtract(x, mean)
            xhat *= inv
        y = xhat if self._identity() else xhat * self.params["gamma"]
        if self.shift and not self._identity():
            y += self.params["beta"]
        return y, xhat

    def backward(self, g: Array) -> Array:
        src, inv = self._src, self._inv
        if src is None or inv is None:
            raise RuntimeError(f"{type(self).__name__}.backward needs forward(x, keep=True) first")
        unscaled = self._unscaled()
        if norm_kernels.fits(g, src, inv, self.params["gamma"]) and g.shape == src.shape:
            return self._compiled_backward(g, src, inv, unscaled)
        xhat = self._xhat()
        # Other layouts and dtypes: NumPy's whole-array steps.
        n = g.dtype.type(xhat.shape[self.axis])
        gamma_grad: Array | None = None
        beta_grad: Array | None = None
        if self.parameter_gradients or (unscaled and self.axis == 0):
            gamma_grad = np.einsum("ij,ij->j", g, xhat)
            beta_grad = _column_sums(g) if self.shift else None
        if self.parameter_gradients and gamma_grad is not None:
            self.grads["gamma"] = gamma_grad
            if beta_grad is not None:
                self.grads["beta"] = beta_grad
        d = g if unscaled else g * self.params["gamma"]
        # d/dx of the standardization: remove d's mean (when centred) and its part along xhat.
        # BatchNorm with scale 1 (as at init) has both sums already: its parameters' gradients
        # are the same sums over the batch, bit for bit (two passes fewer).
        if unscaled and self.axis == 0 and gamma_grad is not None:  # (always taken then)
            along = gamma_grad.reshape(self._kept) / n
        else:
            along = self._sum_of_products(d, xhat) / n
        if not self.centred:
            part = np.multiply(xhat, along)
            if part.dtype == d.dtype:
                out: Array = np.subtract(d, part, out=part)  # without copying d first
            else:  # a wider part: subtracted, then rounded to d's dtype, as before
                out = d.copy()
                out -= part
        else:
            if unscaled and beta_grad is not None and self.axis == 0:
                mean: Array = beta_grad.reshape(self._kept) / n  # np.mean(d, axis=0)'s own sum
            else:
                # np.mean(d, axis, keepdims=True)'s bits without its wrapper (as in _mean)
                if self.axis == 0:
                    mean = _column_sums(d).reshape(self._kept)
                else:
                    mean = np.add.reduce(d, axis=self.axis, keepdims=True)
                np.divide(mean, n, out=mean)
            out = np.subtract(d, mean)
            # the part along x-hat in d's buffer when d is this layer's own (g times the scale)
            own = d is not g and np.result_type(xhat, along) == d.dtype
            out -= np.multiply(xhat, along, out=d if own else None)
        out *= inv
        return out.astype(g.dtype, copy=False)

    def _xhat(self) -> Array:
        """x-hat from what forward kept: (src - shift) * inv in src's dtype, NumPy's steps (the
        kernels' bits: two IEEE operations per value)."""
        src, shift, inv = self._src, self._shift, self._inv
        assert src is not None and inv is not None
        if shift is None:
            return src
        xhat: Array = np.subtract(src, shift)
        return np.multiply(xhat, inv, out=xhat)

    def _compiled_backward(self, g: Array, src: Array, inv: Array, unscaled: bool) -> Array:
        """backward by the kernels: dx and the parameters' gradients (when asked) in one pass
        over g and src for LayerNorm and RMSNorm, two for BatchNorm (x-hat made from src)."""
        out = np.empty(g.shape, g.dtype)
        gamma, wanted = self.params["gamma"], self.parameter_gradients
        plain = self._shift is None
        inv = inv.ravel()
        shift = inv if self._shift is None else self._shift.ravel()  # (unread when plain)
        scale = inv  # x-hat = (x - shift) * inv
        if self.axis == 0:
            gamma_grad, beta_grad = norm_kernels.batch_backward(
                g, src, shift, scale, plain, inv, gamma, unscaled, wanted, out
            )
        else:
            gamma_grad, beta_grad = norm_kernels.row_backward(
                g, src, shift, scale, plain, inv, gamma, self.centred, unscaled, wanted, out
            )
        if wanted:
            self.grads["gamma"] = gamma_grad
            if self.shift:
                self.grads["beta"] = beta_grad
        return out


class BatchNorm(_Norm):
    layer_type = "batch_norm"
    axis = 0
    MOMENTUM = 0.9  # the moving averages' decay per step (the book's BatchNormalization)

    def __init__(self, units: int, dtype: type[np.floating] = np.float32) -> None:
        super().__init__(units, dtype)
        self.running_mean = np.zeros(units, dtype=dtype)
        self.running_var = np.ones(units, dtype=dtype)
        self.track = False  # trainings set this: each training forward updates the averages

    def _wants_variance(self) -> bool:
        return self.track

    def _observe(self, mean: Array | None, var: Array | None) -> None:
        # forward's mean and einsum variance are x.mean(axis=0) and x.var(axis=0) bit for bit
        # (tested): a training step reads x twice less than computing them again.
        if self.track and mean is not None and var is not None:
            m = self.MOMENTUM
            if norm_kernels.fits(mean, var, self.running_mean, self.running_var):
                # NumPy's steps below where the averages and the batch share a dtype: m and 1 - m
                # as values of it (a Python float beside an array), each product rounded, the sum
                dtype = mean.dtype.type
                moved = functools.partial(norm_kernels.moved_averages, momentum=dtype(m), rest=dtype(1 - m))
                self.running_mean = moved(self.running_mean, mean[0])
                self.running_var = moved(self.running_var, var[0])
            else:
                self.running_mean = (m * self.running_mean + (1 - m) * mean[0]).astype(mean.dtype)
                self.running_var = (m * self.running_var + (1 - m) * var[0]).astype(var.dtype)

    def infer(self, x: Array) -> Array:
        """Evaluation mode: the moving averages instead of the batch's statistics."""
        xhat = (x - self.running_mean) / np.sqrt(self.running_var + EPS)
        return (xhat * self.params["gamma"] + self.params["beta"]).astype(x.dtype, copy=False)


class LayerNorm(_Norm):
    layer_type = "layer_norm"
    axis = 1
    _kept = (-1, 1)


class RMSNorm(_Norm):
    layer_type = "rms_norm"
    axis = 1
    _kept = (-1, 1)
    centred = False
    shift = False


NORMS: dict[str, type[_Norm]] = {"batch": BatchNorm, "layer": LayerNorm, "rms": RMSNorm}
Norm = _Norm
