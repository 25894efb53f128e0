"""A run's network as a binary classifier: its hidden layers, one output unit with a sigmoid, and
binary cross-entropy (notes 000: tanh in the hidden layers, a sigmoid at the output, whose value in
(0, 1) is the probability of class 1).

The hidden layers and their weights are MLP's own (the same draws, the same passes); only the
read-out (one logit s) and the loss differ: L = -[y log σ(s) + (1 - y) log(1 - σ(s))], whose
gradient dL/ds is σ(s) - y: MLP.backward runs with this `output_loss` at its head.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..network.config import RunConfig
from .mlp import MLP, Array, Pass


def sigmoid(s: Array) -> Array:
    """σ(s) without overflow for either sign of s."""
    e = np.exp(-np.abs(s))
    return np.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(s.dtype, copy=False)


def sigmoid_cross_entropy(logits: Array, y: NDArray[np.intp], out: Array | None) -> tuple[float, Array]:
    """Mean binary cross-entropy of σ(logits[:, 0]) against labels y in {0, 1}, and its gradient
    dL/dlogits = (σ(s) - y) / n. log(1 + e^-|s|) keeps every term finite, however large |s|."""
    n = len(logits)
    s = logits[:, 0].astype(np.float64)
    target = y.astype(np.float64)
    loss = float(np.mean(np.maximum(s, 0.0) - s * target + np.log1p(np.exp(-np.abs(s)))))
    grad = ((sigmoid(s) - target) / n).astype(logits.dtype)[:, None]
    if out is None:
        return loss, grad
    np.copyto(out, grad)
    return loss, out


class BinaryMLP(MLP):
    """The run's hidden layers plus one sigmoid output unit, trained on binary cross-entropy."""

    def __init__(
        self,
        run: RunConfig,
        features: int,
        init_data: Array | None = None,
        dtype: type[np.floating] = np.float32,
    ) -> None:
        super().__init__(run, features, 1, init_data, dtype)

    def output_loss(self, logits: Array, y: NDArray[np.intp], out: Array | None) -> tuple[float, Array]:
        return sigmoid_cross_entropy(logits, y, out=out)

    def evaluate(self, x: Array, y: NDArray[np.intp], keep: bool = False) -> tuple[float, float, Pass]:
        """(mean binary cross-entropy, accuracy, the pass) on x, y: class 1 where σ(s) > 0.5."""
        p = self.forward(x, keep=keep)
        logits = p.z[-1]
        correct = np.count_nonzero((logits[:, 0] > 0) == (y == 1))
        loss, _ = sigmoid_cross_entropy(logits, y, out=None)
        return loss, float(correct) / len(y), p

    def output(self, p: Pass) -> NDArray[np.float64]:
        """The output unit's values σ(s) for a pass, shape (samples, 1), in float64: float32 would
        round σ(s) to exactly 1 from s ≈ 17 on, and a confident output is not a certain one."""
        s = p.z[-1].astype(np.float64)
        out: NDArray[np.float64] = np.empty_like(s)
        np.copyto(out, sigmoid(s))
        return out
