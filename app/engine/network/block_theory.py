"""Mean-field predictions for layer networks: normalization layers and residual blocks.

Beside the networks it predicts (blocks.py), with the plain stacks' theory (engine/theory.py) as
its moments. Each row of a layer network gets the predicted mean and second moment of what
it receives and gives, followed through the network as the plain stack's variance map follows q:

- dense: second moment sigma_w^2 E[a^2] + sigma_b^2, mean 0 (zero-mean weights)
- activation on z ~ N(0, q): E[f(sqrt(q) u)] and E[f(sqrt(q) u)^2] (theory.moments)
- LayerNorm: each sample's mean 0 and variance v / (v + eps), whatever came in; RMSNorm: each
  sample's second moment s / (s + eps), its mean m / sqrt(s + eps). Both reset the signal.
- residual sum with an identity skip (Yang and Schoenholz 2017): the branch is independent of x
  at init, so q_l = q_(l-1) + s^2 q_F, and with one layer per branch q_F = sigma_w^2 E[f(sqrt(q) u)^2]
  + sigma_b^2: the variance grows linearly with depth at s = 1 for a bounded f (or after a
  pre-norm), stays bounded with s^2 or the projection's variance ~ 1/L, and ReZero (s = 0) and
  Fixup (last layer 0) keep x unchanged.

BatchNorm: no prediction. It normalizes each unit over the batch, coupling the samples, and what
it does at init is to the gradient (Yang et al. 2019: it explodes with depth in plain stacks),
which the product measures and does not predict; the note says so and the pages draw no line.
The gradients of layer networks are measured only (gradient_scale and chi are NaN: no prediction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..layers.activations import ACTIVATIONS
from ..layers.initializers import BIASES, INITIALIZERS, LSUV_MAX_PASSES, LSUV_TOLERANCE
from ..layers.norm import EPS
from ..theory import LayerTheory, RunTheory, moments
from .architecture import Architecture, fixup_scale
from .config import RunConfig
from .inputs import INPUTS

NO_PREDICTION = math.nan
BATCH_NORM_NOTE = (
    "no prediction for BatchNorm: it couples the samples of a batch; its gradient growth with "
    "depth (Yang et al. 2019) is measured here, not predicted"
)


@dataclass(frozen=True)
class Signal:
    mean: float
    second: float

    @property
    def variance(self) -> float:
        return max(self.second - self.mean**2, 0.0)


def _row(pre: Signal, post: Signal) -> LayerTheory:
    return LayerTheory(
        q=pre.variance,
        mean=post.mean,
        variance=post.variance,
        chi=NO_PREDICTION,
        gradient_scale=NO_PREDICTION,
    )


def _norm(kind: str, s: Signal) -> Signal:
    if kind == "layer":
        return Signal(0.0, s.variance / (s.variance + EPS))
    return Signal(s.mean / math.sqrt(s.second + EPS), s.second / (s.second + EPS))  # rms


def _act(run: RunConfig, s: Signal, j: int = 0) -> Signal:
    """f of a zero-mean Gaussian with the signal's second moment (layer j's activation; maxout's
    k pieces each that Gaussian)."""
    m = moments(run.activation_at(j), run.activation_params_at(j), np.array(min(s.second, 1e30)))
    return Signal(float(m.mean), float(m.second))


def _arch(run: RunConfig) -> Architecture:
    return run.arch if run.arch is not None else Architecture()


def block_theory(run: RunConfig) -> RunTheory:
    """One LayerTheory per row of the run's layer network, in the rows' order."""
    arch = _arch(run)
    rows = _plain(run, arch) if not arch.residual else _residual(run, arch)
    if arch.norm == "batch":
        empty = LayerTheory(NO_PREDICTION, NO_PREDICTION, NO_PREDICTION, NO_PREDICTION, NO_PREDICTION)
        rows = [empty] * len(rows)
    sigma_b2 = BIASES[run.bias].variance(run.bias_params())
    return RunTheory(
        layers=tuple(rows),
        sigma_w2=(),
        sigma_b2=sigma_b2,
        q_star=None,
        chi_star=NO_PREDICTION,
        phase=None,
        note=BATCH_NORM_NOTE if arch.norm == "batch" else "",
    )


def _branch_weights(
    run: RunConfig, arch: Architecture, width: int, q_in: float, sigma_b2: float, blocks: int, i: int
) -> tuple[float, float]:
    """sigma_w^2 and sigma_b^2 of branch layer `i` of a block: the run's own init, except Fixup's
    (He-scaled times L^(-1/(2m-2)), the last layer zero, no bias) and the depth init's last layer
    (times 1/(2L))."""
    last = i == arch.branch - 1
    if arch.res_init == "fixup":
        return (0.0 if last else 2.0 * fixup_scale(blocks, arch.branch) ** 2), 0.0
    w2 = _sigma_w2(run, width, width, q_in, sigma_b2)
    return (w2 / (2 * blocks) if arch.res_init == "depth" and last else w2), sigma_b2


def _sigma_w2(run: RunConfig, fan_in: int, units: int, q_in: float, sigma_b2: float) -> float:
    """sigma_w^2 of a dense layer reading a signal of second moment q_in. LSUV's as the plain
    stack's theory has it (theory._sigma_w2): rescaled on its mean-field input until the output's
    variance is near 1, then the weights times gain."""
    init = INITIALIZERS[run.init]
    s_w2 = fan_in * init.variance(fan_in, units, run.init_params())
    if init.data_dependent:
        for _ in range(LSUV_MAX_PASSES):
            variance = s_w2 * q_in + sigma_b2
            if not math.isfinite(variance) or variance == 0.0 or abs(variance - 1.0) < LSUV_TOLERANCE:
                break
            s_w2 /= variance
        s_w2 *= float(run.init_params()["gain"]) ** 2
    return s_w2


def _dense(run: RunConfig, s: Signal, fan_in: int, units: int, sigma_b2: float) -> Signal:
    return Signal(0.0, _sigma_w2(run, fan_in, units, s.second, sigma_b2) * s.second + sigma_b2)


def _inputs(run: RunConfig) -> Signal:
    second = INPUTS[run.input].second_moment(run.input_params())
    return Signal(0.0, second)  # the dense layer after it reads only its second moment


def _plain(run: RunConfig, arch: Architecture) -> list[LayerTheory]:
    sigma_b2 = BIASES[run.bias].variance(run.bias_params())
    rows = []
    s = _inputs(run)
    fan_in = run.input_dim
    for j, units in enumerate(run.widths):
        z = _dense(run, s, fan_in, units, sigma_b2)
        if arch.norm in ("layer", "rms", "batch") and arch.norm_at == "before":
            n = _norm("layer" if arch.norm == "batch" else arch.norm, z)
            rows.append(_row(z, n))
            z = n
        a = _act(run, z, j)
        rows.append(_row(z, a))
        if arch.norm != "none" and arch.norm_at == "after":
            n = _norm("layer" if arch.norm == "batch" else arch.norm, a)
            rows.append(_row(a, n))
            a = n
        s, fan_in = a, units
    return rows


def _residual(run: RunConfig, arch: Architecture) -> list[LayerTheory]:
    sigma_b2 = BIASES[run.bias].variance(run.bias_params())
    width, blocks = run.widths[0], run.depth
    x_in = _inputs(run)
    x = _dense(run, x_in, run.input_dim, width, sigma_b2)
    rows = [_row(x_in, x)]
    kind = "layer" if arch.norm == "batch" else arch.norm  # batch: rows counted, values dropped
    scale = 0.0 if arch.learn_scale else arch.branch_scale
    for _ in range(blocks):
        h = x
        if arch.norm != "none" and arch.norm_at == "pre":
            h = _norm(kind, x)
            rows.append(_row(x, h))
        for i in range(arch.branch):
            a = _act(run, h)
            rows.append(_row(h, a))
            w2, b2 = _branch_weights(run, arch, width, a.second, sigma_b2, blocks, i)
            h = Signal(0.0, w2 * a.second + b2)
        rows.append(_row(a, h))  # the projection: the last activation's output, F(x)
        y = Signal(x.mean, x.second + scale**2 * h.second)
        rows.append(_row(x, y))
        if arch.norm != "none" and arch.norm_at == "post":
            n = _norm(kind, y)
            rows.append(_row(y, n))
            y = n
        x = y
    if arch.norm != "none" and arch.norm_at == "pre":
        rows.append(_row(x, _norm(kind, x)))  # the final norm
    return rows


# The C-map of layer networks (Poole et al. 2016 for the layers, Yang and Schoenholz 2017 for the
# skips): a pair of inputs with correlation c0 is followed as the raw second moments (q, q12) of
# its two signals, equal in q by symmetry, through every row. Dense: sigma_w^2 q + sigma_b^2 on
# both; an activation: E[f(z1) f(z2)] for z ~ N(0, q) with correlation q12 / q; LayerNorm removes
# each sample's mean (the signal's mean, the same for both) and rescales; RMSNorm rescales; a
# residual sum adds the branch's moments to the skip's (the branch's weights are independent of
# x). BatchNorm couples the samples and maxout has no 2-D closed form here: no prediction from
# them on. A row's prediction is for what the diagnostics measure: an activation row's z, every
# other row's output.


@dataclass(frozen=True)
class _Pair:
    q: float
    q12: tuple[float, ...]  # per c0
    mean: float = 0.0  # each sample's mean over its units (what LayerNorm subtracts)

    def c(self) -> tuple[float | None, ...]:
        return tuple(v / self.q if self.q > 0 and math.isfinite(v / self.q) else None for v in self.q12)


def _pair_dense(p: _Pair, w2: float, b2: float) -> _Pair:
    return _Pair(w2 * p.q + b2, tuple(w2 * v + b2 for v in p.q12))


def _pair_act(run: RunConfig, p: _Pair, j: int) -> _Pair | None:
    from ..correlation_theory import NO_C_MAP, pair_expectation

    name, params = run.activation_at(j), run.activation_params_at(j)
    if name in NO_C_MAP or not (0.0 < p.q < 1e30):
        return None
    c = np.array([v / p.q for v in p.q12] + [1.0])
    both = pair_expectation(name, params, p.q, c)
    mean = float(moments(name, params, np.array(p.q)).mean)
    return _Pair(float(both[-1]), tuple(float(v) for v in both[:-1]), mean)


def _pair_norm(kind: str, p: _Pair) -> _Pair:
    if kind == "layer":
        m2 = p.mean**2
        scale = 1.0 / (p.q - m2 + EPS)
        return _Pair((p.q - m2) * scale, tuple((v - m2) * scale for v in p.q12))
    scale = 1.0 / (p.q + EPS)  # rms
    return _Pair(p.q * scale, tuple(v * scale for v in p.q12), p.mean * math.sqrt(scale))


def block_correlation(run: RunConfig, c0: tuple[float, ...]) -> list[tuple[float | None, ...]]:
    """The predicted correlation of each row's measured signal, per c0 (None: no prediction)."""
    arch = _arch(run)
    rows: list[tuple[float | None, ...]] = []
    none = tuple(None for _ in c0)
    total = len(block_theory(run).layers)
    if arch.norm == "batch":
        return [none] * total
    sigma_b2 = BIASES[run.bias].variance(run.bias_params())
    q_in = INPUTS[run.input].second_moment(run.input_params())
    p: _Pair | None = _Pair(q_in, tuple(c * q_in for c in c0))
    if not arch.residual:
        fan_in = run.input_dim
        for j, units in enumerate(run.widths):
            assert p is not None
            p = _pair_dense(p, _sigma_w2(run, fan_in, units, p.q, sigma_b2), sigma_b2)
            if arch.norm != "none" and arch.norm_at == "before":
                p = _pair_norm(arch.norm, p)
                rows.append(p.c())
            rows.append(p.c())  # the activation row: its z
            p = _pair_act(run, p, j)
            if p is None:
                break
            if arch.norm != "none" and arch.norm_at == "after":
                p = _pair_norm(arch.norm, p)
                rows.append(p.c())
            fan_in = units
        return rows + [none] * (total - len(rows))
    width, blocks = run.widths[0], run.depth
    assert p is not None
    x = _pair_dense(p, _sigma_w2(run, run.input_dim, width, p.q, sigma_b2), sigma_b2)
    rows.append(x.c())
    scale = 0.0 if arch.learn_scale else arch.branch_scale
    for _ in range(blocks):
        h: _Pair | None = x
        if arch.norm != "none" and arch.norm_at == "pre":
            h = _pair_norm(arch.norm, x)
            rows.append(h.c())
        for i in range(arch.branch):
            assert h is not None
            rows.append(h.c())  # the activation row: its input
            a = _pair_act(run, h, 0)
            if a is None:
                return rows + [none] * (total - len(rows))
            w2, b2 = _branch_weights(run, arch, width, a.q, sigma_b2, blocks, i)
            h = _pair_dense(a, w2, b2)
        assert h is not None
        rows.append(h.c())  # the projection's output, F(x)
        x = _Pair(x.q + scale**2 * h.q, tuple(v + scale**2 * f for v, f in zip(x.q12, h.q12, strict=True)))
        rows.append(x.c())
        if arch.norm != "none" and arch.norm_at == "post":
            x = _pair_norm(arch.norm, x)
            rows.append(x.c())
    if arch.norm != "none" and arch.norm_at == "pre":
        rows.append(_pair_norm(arch.norm, x).c())
    return rows


# The input-output Jacobian's mean squared singular value per row (the diagnostics' J of the
# row's output): T = tr(J^T J) per sample followed in mean field, from T = N0 at the inputs.
# Dense: sigma_w^2 (fan_out / fan_in) T; an activation: E[f'(z)^2] T; LayerNorm: (1 - 2/n) T /
# (var + eps) (it projects out the mean and x-hat's direction, then scales by 1/std); RMSNorm:
# (1 - 1/n) T / (q + eps); a residual sum: T_x + s^2 T_F (the branch's last weights are independent
# of J_x). No prediction past a BatchNorm or a maxout. The reported value is T / min(N0, N_row).


def block_jacobian(run: RunConfig) -> list[float | None]:
    """The predicted mean squared singular value of each row's Jacobian (None: no prediction)."""
    arch = _arch(run)
    total = len(block_theory(run).layers)
    if arch.norm == "batch":
        return [None] * total
    sigma_b2 = BIASES[run.bias].variance(run.bias_params())
    n0 = run.input_dim
    rows: list[float | None] = []

    def shown(t: float, units: int) -> float | None:
        value = t / min(n0, units)
        return value if math.isfinite(value) else None

    def slope2(s: Signal, j: int) -> float | None:
        name, params = run.activation_at(j), run.activation_params_at(j)
        if ACTIVATIONS[name].pieces(params) > 1:
            return None
        return float(moments(name, params, np.array(min(s.second, 1e30))).slope2)

    def norm(kind: str, s: Signal, t: float, units: int) -> tuple[Signal, float]:
        if kind == "layer":
            return _norm(kind, s), t * (1 - 2 / units) / (s.variance + EPS)
        return _norm(kind, s), t * (1 - 1 / units) / (s.second + EPS)

    s = _inputs(run)
    t = float(n0)
    if not arch.residual:
        fan_in = n0
        for j, units in enumerate(run.widths):
            w2 = _sigma_w2(run, fan_in, units, s.second, sigma_b2)
            s, t = _dense(run, s, fan_in, units, sigma_b2), t * w2 * units / fan_in
            if arch.norm != "none" and arch.norm_at == "before":
                s, t = norm(arch.norm, s, t, units)
                rows.append(shown(t, units))
            k = slope2(s, j)
            if k is None:
                break
            s, t = _act(run, s, j), t * k
            rows.append(shown(t, units))
            if arch.norm != "none" and arch.norm_at == "after":
                s, t = norm(arch.norm, s, t, units)
                rows.append(shown(t, units))
            fan_in = units
        return rows + [None] * (total - len(rows))
    width, blocks = run.widths[0], run.depth
    w2 = _sigma_w2(run, n0, width, s.second, sigma_b2)
    x, tx = _dense(run, s, n0, width, sigma_b2), t * w2 * width / n0
    rows.append(shown(tx, width))
    scale = 0.0 if arch.learn_scale else arch.branch_scale
    for _ in range(blocks):
        h, th = x, tx
        if arch.norm != "none" and arch.norm_at == "pre":
            h, th = norm(arch.norm, x, tx, width)
            rows.append(shown(th, width))
        for i in range(arch.branch):
            k = slope2(h, 0)
            if k is None:
                return rows + [None] * (total - len(rows))
            a, ta = _act(run, h), th * k
            rows.append(shown(ta, width))
            w2, b2 = _branch_weights(run, arch, width, a.second, sigma_b2, blocks, i)
            h, th = Signal(0.0, w2 * a.second + b2), ta * w2
        rows.append(shown(th, width))  # the projection
        x, tx = Signal(x.mean, x.second + scale**2 * h.second), tx + scale**2 * th
        rows.append(shown(tx, width))
        if arch.norm != "none" and arch.norm_at == "post":
            x, tx = norm(arch.norm, x, tx, width)
            rows.append(shown(tx, width))
    if arch.norm != "none" and arch.norm_at == "pre":
        _, tf = norm(arch.norm, x, tx, width)
        rows.append(shown(tf, width))
    return rows
