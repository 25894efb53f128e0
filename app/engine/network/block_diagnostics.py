"""The diagnostics' pass through a layer network (norms, residual blocks): every row's signal for
the pairs of inputs, and the input-output Jacobian carried forward through every layer type.

Beside the network's own batch (the run's input samples, which its /simulate answer shows) go
`extra` rows: the Jacobian's sample inputs, then the pairs. A BatchNorm normalizes them with the
statistics of the own batch, held fixed: a pair is not normalized with the other pairs (whose
statistics are not the run's), and the Jacobian of one sample is that of the network /simulate
shows with its batch statistics as constants (the per-sample map; the statistics' own dependence
on one sample is 1/batch of it). LayerNorm and RMSNorm act on each sample alone, as always.

What a row's correlation measures: an activation row's z (what it receives), as the plain
stack's C-map; every other row's output. Its Jacobian is that of its output (the plain stack's
da_l/dx for an activation row).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

import numpy as np

from ..layers.dense import Dense
from ..layers.norm import BatchNorm, Norm
from ..layers.pointwise import Maxout, Pointwise
from ..layers.residual import Residual
from ..measure.jacobian import Floats, activation_jvp, dense_jvp, norm_jvp
from ..measure.stats import Array
from .blocks import AnyLayer, Network, RowSpec


@dataclass(frozen=True)
class RowSignal:
    index: int  # the row's (0-based)
    spec: RowSpec
    measured: Array  # the extra rows' tensor whose pair correlations the row reports
    jac: Floats | None  # J of the row's output at the sample inputs; None without samples


@dataclass(frozen=True)
class _Signal:
    own: Array | None  # the network's own batch, where a BatchNorm needs its statistics
    extra: Array
    jac: Floats | None


Rows = Generator[RowSignal, None, _Signal]


def walk(
    net: Network, own: Array | None, extra: Array, probes: Floats | None, samples: int
) -> Iterator[RowSignal]:
    """Every row of the network, first to last, for the extra rows (their first `samples` the
    Jacobian's inputs; `probes` its random input directions, None for all of them). `own` is the
    run's input batch, needed (only) when the network holds a BatchNorm."""
    signal = _Signal(own, extra, None)
    for layer in net.layers:
        with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
            signal = yield from _through(net, layer, signal, probes, samples)


def _through(net: Network, layer: AnyLayer, s: _Signal, probes: Floats | None, samples: int) -> Rows:
    if isinstance(layer, Residual):
        return (yield from _block(net, layer, s, probes, samples))
    own = None if s.own is None else layer.forward(s.own)
    jac: Floats | None = None
    if isinstance(layer, Dense):
        out = layer.forward(s.extra)
        if samples:
            jac = dense_jvp(s.jac, probes, layer.weights)
    elif isinstance(layer, Pointwise | Maxout):
        out = layer.forward(s.extra)
        if samples and s.jac is not None:
            pieces = layer.pieces if isinstance(layer, Maxout) else 1
            jac = activation_jvp(s.jac, s.extra[:samples], layer.activation, layer.act_params, pieces)
    else:
        assert isinstance(layer, Norm)
        batch = isinstance(layer, BatchNorm)
        if batch and s.own is None:
            raise ValueError("a BatchNorm's statistics come from the network's own batch: pass it")
        source = s.own if batch and s.own is not None else s.extra
        mean, inv = layer.statistics(source)
        out, xhat = layer.apply(s.extra, mean, inv)
        if samples and s.jac is not None:
            scale = inv if batch else inv[:samples]
            gamma = layer.params["gamma"]
            jac = norm_jvp(s.jac, xhat[:samples], scale, gamma, per_sample=not batch, centred=layer.centred)
    index = net.rows.get(layer)
    if index is not None:
        spec = net.specs[index]
        yield RowSignal(index, spec, s.extra if spec.layer_type == "activation" else out, jac)
    return _Signal(own, out, jac)


def _block(net: Network, block: Residual, s: _Signal, probes: Floats | None, samples: int) -> Rows:
    """x + s F(x) (pre-norm: F reads N(x); post-norm: N of the sum): its rows, then its output."""
    h = s
    if block.norm is not None and block.norm_at == "pre":
        h = yield from _through(net, block.norm, s, probes, samples)  # type: ignore[arg-type]
    for inner in block.branch:
        h = yield from _through(net, inner, h, probes, samples)  # type: ignore[arg-type]
    scale = s.extra.dtype.type(block.scale)
    own = None if s.own is None or h.own is None else s.own + scale * h.own
    jac = None if s.jac is None or h.jac is None else s.jac + block.scale * h.jac
    y = _Signal(own, s.extra + scale * h.extra, jac)
    index = net.rows.get(block)
    if index is not None:
        yield RowSignal(index, net.specs[index], y.extra, y.jac)
    if block.norm is not None and block.norm_at == "post":
        y = yield from _through(net, block.norm, y, probes, samples)  # type: ignore[arg-type]
    return y
