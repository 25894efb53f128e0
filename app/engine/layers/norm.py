"""Normalization layers, forward and backward side by side: BatchNorm, LayerNorm, RMSNorm.

Each standardizes its input and applies a learnable scale (gamma, 1 at init) and shift (beta, 0
at init; RMSNorm has no shift, as in Zhang and Sennrich 2019 and torch.nn.RMSNorm):

- BatchNorm (Ioffe and Szegedy 2015): each unit over the batch, with the batch's own mean and
  variance (training mode; what the initialization experiments run). `running` keeps the moving
  averages a trained network is evaluated with.
- LayerNorm (Ba et al. 2016): each sample over its units, mean and variance.
- RMSNorm: each sample over its units, by its root mean square (no centring).

Forward: four NumPy steps over the layer (the sum, x - mean, the sum of squares, the scaling;
RMSNorm two), every answer's bits kept (tests/engine/layers/test_norm.py holds the formulas they
had); a trained layer's scale and shift are applied a block of rows at a time with the scaling
(512 KiB blocks, while each is in cache). Backward: the parameters' sums over the whole layer,
then the rest a block of rows at a time into one output array with a scratch block (a layer's
array fewer). Blocks give the same bits because every step does to each row what the whole-array
step did (a row's sums are NumPy's on that row; BatchNorm's column sums stay whole-array passes:
sums of blocks added together round differently); a layer of one block keeps the whole-array
code (as fast there). BatchNorm's column sums are einsum's, which
adds the rows in np.add.reduce's order, up to 5x faster at narrow widths. In units of one
mean-and-subtract pass (bench/blocks_bench.py --norms-only), forward BatchNorm ~1.3-1.7, LayerNorm
~1.6-2.0, RMSNorm ~0.9-1.2, a trained layer's ~0.7-1.2 more; backward ~2-4.5. What stays is NumPy's
cost per step, not memory: each step costs 0.25-0.65 of the unit whether its block is in cache
or not (`--steps`). LayerNorm's per-sample mean is NumPy's pairwise sum, slow by the row;
einsum's would save ~0.2 of a pass but change LayerNorm's bits. One pass or less takes a
compiled kernel (--variants measures numba's, not a dependency).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]
EPS = 1e-5  # added to the variance, as torch's default


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
        self._xhat: Array | None = None
        self._inv: Array | None = None

    def _sum_of_products(self, a: Array, b: Array) -> Array:
        """sum(a * b) along the norm's axis, kept as size 1, in one pass (no a * b array)."""
        spec = "ij,ij->j" if self.axis == 0 else "ij,ij->i"
        total: Array = np.einsum(spec, a, b)
        return total.reshape(self._kept)

    def _identity(self) -> bool:
        """Scale 1 and shift 0, as at init: y is x-hat itself (two passes fewer)."""
        beta = self.params.get("beta")
        return self._unscaled() and (beta is None or not beta.any())

    def _unscaled(self) -> bool:
        # the array methods: np.all's and np.any's wrappers cost more than the test at width 100
        return bool((self.params["gamma"] == 1).all())

    def forward(self, x: Array, keep: bool = False) -> Array:
        # Four passes over x: its sum, x - mean, the sum of squares, and the scaling in place.
        # NumPy has no one-pass mean and mean of squares (two reductions read x twice whatever
        # their order), and E[x^2] - mean^2 would change every answer's bits (and lose precision
        # where |mean| >> std); the statistics are computed once and shared (a training's
        # BatchNorm moves its running averages with them).
        mean = self._mean(x)
        xhat = x if mean is None else np.subtract(x, mean)
        inv, var = self._inverse_std(xhat, self._wants_variance())
        self._observe(mean, var)
        identity = self._identity()
        if not identity and self._blockable_forward(xhat, identity):
            return self._blocked_finish(xhat, inv, keep)
        xhat = np.multiply(xhat, inv, out=xhat if self.centred else None)
        if keep:
            self._xhat, self._inv = xhat, inv
        if identity:
            return xhat
        # x-hat is kept for backward; without keep, y takes its buffer (when that keeps y's dtype)
        gamma = self.params["gamma"]
        reuse = not keep and np.result_type(xhat, gamma) == xhat.dtype
        y: Array = np.multiply(xhat, gamma, out=xhat if reuse else None)
        if self.shift:
            y += self.params["beta"]
        return y

    def _blockable_forward(self, x: Array, identity: bool) -> bool:
        """Blocked steps give the whole-array bits and layout for a C-ordered layer whose scale
        and shift (when applied) do not widen it (a wider one goes the whole-array way, as
        before), and gain where the layer is more than one block (in one, the whole-array code
        is as fast)."""
        return (
            x.ndim == 2
            and x.flags.c_contiguous
            and x.shape[0] > _block_rows(x)
            and (identity or np.result_type(x, *self.params.values()) == x.dtype)
        )

    def _blocked_finish(self, centred: Array, inv: Array, keep: bool) -> Array:
        """A scaled layer's last three steps (x-hat = centred * inv, y = x-hat * gamma, y += beta)
        a block of rows at a time, each block's three while it is in cache: the same operations
        on the same values (the same bits, tested), about half a pass less from 1000x512 up.
        `centred` is x - mean (written over with x-hat) or, for RMSNorm, x itself (kept)."""
        xhat = centred if self.centred else np.empty(centred.shape, centred.dtype)
        y = np.empty(centred.shape, centred.dtype) if keep else xhat
        gamma, beta = self.params["gamma"], self.params.get("beta")
        step = _block_rows(centred)
        per_row = self.axis == 1  # LayerNorm's and RMSNorm's: one per sample
        for start in range(0, centred.shape[0], step):
            rows = slice(start, start + step)
            block, out = xhat[rows], y[rows]
            np.multiply(centred[rows], inv[rows] if per_row else inv, out=block)
            np.multiply(block, gamma, out=out)
            if beta is not None:
                np.add(out, beta, out=out)
        if keep:
            self._xhat, self._inv = xhat, inv
        return y

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
        xhat, inv = self._xhat, self._inv
        if xhat is None or inv is None:
            raise RuntimeError(f"{type(self).__name__}.backward needs forward(x, keep=True) first")
        n = g.dtype.type(xhat.shape[self.axis])
        unscaled = self._unscaled()
        gamma_grad: Array | None = None
        beta_grad: Array | None = None
        if self.parameter_gradients or (unscaled and self.axis == 0):
            gamma_grad = np.einsum("ij,ij->j", g, xhat)
            beta_grad = _column_sums(g) if self.shift else None
        if self.parameter_gradients and gamma_grad is not None:
            self.grads["gamma"] = gamma_grad
            if beta_grad is not None:
                self.grads["beta"] = beta_grad
        # (RMSNorm at scale 1 has no array of d to spare: blocked, it measured no faster)
        if (self.centred or not unscaled) and _blockable(g, xhat, inv, self.params["gamma"]):
            return self._blocked_backward(g, xhat, inv, n, unscaled, gamma_grad, beta_grad)
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

    def _blocked_backward(
        self,
        g: Array,
        xhat: Array,
        inv: Array,
        n: np.floating,
        unscaled: bool,
        gamma_grad: Array | None,
        beta_grad: Array | None,
    ) -> Array:
        """backward's elementwise steps (and LayerNorm's and RMSNorm's row sums) a block of rows
        at a time, into one output array, with a scratch block for the part along x-hat: the same
        operations on the same rows as the whole-array code, so the same bits (tested), one
        array of the layer's size fewer and the steps on a block still in cache (0.4-1.1 of a
        pass less at 1000x512 and 4096x512). BatchNorm's column sums need every row first
        (partial sums added per block round differently), so they stay whole-array passes."""
        gamma = self.params["gamma"]
        out = np.empty(g.shape, g.dtype)
        step = _block_rows(g)
        scratch = np.empty((min(step, g.shape[0]), g.shape[1]), g.dtype)
        if self.axis == 0:
            if unscaled and gamma_grad is not None and beta_grad is not None:  # d is g: its sums
                d, along = g, gamma_grad.reshape(self._kept) / n
                mean = beta_grad.reshape(self._kept) / n
            else:
                d = np.multiply(g, gamma, out=out)  # out holds d until each block is replaced
                along = self._sum_of_products(d, xhat) / n
                mean = _column_sums(d).reshape(self._kept)
                np.divide(mean, n, out=mean)
            for start in range(0, g.shape[0], step):
                rows = slice(start, start + step)
                block, part = out[rows], scratch[: out[rows].shape[0]]
                np.subtract(d[rows], mean, out=block)
                block -= np.multiply(xhat[rows], along, out=part)
                block *= inv
            return out
        for start in range(0, g.shape[0], step):
            rows = slice(start, start + step)
            block, x_rows, g_rows = out[rows], xhat[rows], g[rows]
            part = scratch[: block.shape[0]]
            if self.centred:
                d = g_rows if unscaled else np.multiply(g_rows, gamma, out=block)
                along = np.einsum("ij,ij->i", d, x_rows).reshape(self._kept)
                np.divide(along, n, out=along)
                mean = np.add.reduce(d, axis=1, keepdims=True)
                np.divide(mean, n, out=mean)
                np.subtract(d, mean, out=block)
                block -= np.multiply(x_rows, along, out=part)
            else:
                d = g_rows if unscaled else np.multiply(g_rows, gamma, out=part)
                along = np.einsum("ij,ij->i", d, x_rows).reshape(self._kept)
                np.divide(along, n, out=along)
                np.subtract(d, np.multiply(x_rows, along, out=block), out=block)
            block *= inv[rows]
        return out


BLOCK_BYTES = 512 * 1024
"""Rows per block: about this many bytes of the layer (its output, scratch, x-hat and gradient
blocks together stay within this machine class's 2 MiB L2; 128-512 KiB measured alike, 1 MiB
and the whole array slower at 1000x512)."""


def _block_rows(a: Array) -> int:
    return max(1, BLOCK_BYTES // max(1, int(a.shape[1]) * a.itemsize))


def _blockable(g: Array, xhat: Array, inv: Array, gamma: Array) -> bool:
    """The blocked backward gives the whole-array code's bits where every array is C-ordered
    (a block's rows are then laid out as in the whole, so NumPy sums them in the same order)
    and of one dtype (no widening the whole-array code would do before rounding); it gains where
    the layer is more than one block (in one, its scratch is a second array of the layer's size)."""
    return (
        g.ndim == 2
        and g.flags.c_contiguous
        and g.shape[0] > _block_rows(g)
        and xhat.flags.c_contiguous
        and g.dtype == xhat.dtype == inv.dtype == np.result_type(g, gamma)
    )


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
