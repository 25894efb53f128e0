"""Optimizers: SGD, Momentum, Nesterov, AdaGrad, RMSProp and Adam behind one `update(params, grads)`.

The formulas and defaults are those of Saito's "Deep Learning from Scratch" (common/optimizer.py):
`update` changes each array of `params` in place, and the state an optimizer keeps (velocity,
squared-gradient sums) is created per key the first time that key is seen. `OPTIMIZERS` describes
each one (label, formula, parameters with defaults and bounds) and `make_optimizer` builds one from
checked parameters; the MNIST training and the optimizer-paths page both build theirs there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .params import ConfigError, ParamSpec, resolve_params

Array = NDArray[Any]  # any float dtype; updates keep the parameter's dtype
EPS = 1e-7  # the book's guard against dividing by sqrt(h) = 0


class Optimizer(Protocol):
    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        """Move every array of `params` one step against its gradient in `grads`, in place."""


def _state(store: dict[str, Array], key: str, like: Array) -> Array:
    """The state array for `key`, zeros shaped like the parameter on first use."""
    if key not in store:
        store[key] = np.zeros_like(like)
    return store[key]


class SGD:
    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        for key, p in params.items():
            p -= self.lr * grads[key]


class Momentum:
    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: dict[str, Array] = {}

    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        for key, p in params.items():
            v = _state(self.v, key, p)
            v *= self.momentum
            v -= self.lr * grads[key]
            p += v


class Nesterov:
    """The book's form of Nesterov's accelerated gradient (Bengio et al. 2012, arXiv:1212.0901):
    it tracks the look-ahead point, so it needs the gradient at the current parameters only."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: dict[str, Array] = {}

    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        m = self.momentum
        for key, p in params.items():
            g = grads[key]
            v = _state(self.v, key, p)
            v *= m
            v -= self.lr * g
            p += m * m * v
            p -= (1.0 + m) * self.lr * g


class AdaGrad:
    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self.h: dict[str, Array] = {}

    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        for key, p in params.items():
            g = grads[key]
            h = _state(self.h, key, p)
            h += g * g
            p -= self.lr * g / (np.sqrt(h) + EPS)


class RMSProp:
    def __init__(self, lr: float = 0.01, decay: float = 0.99) -> None:
        self.lr = lr
        self.decay = decay
        self.h: dict[str, Array] = {}

    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        for key, p in params.items():
            g = grads[key]
            h = _state(self.h, key, p)
            h *= self.decay
            h += (1.0 - self.decay) * g * g
            p -= self.lr * g / (np.sqrt(h) + EPS)


class Adam:
    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m: dict[str, Array] = {}
        self.v: dict[str, Array] = {}

    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        self.iter += 1
        # Bias correction folded into the step size, as the book (and Kingma & Ba, section 2) do.
        t = self.iter
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        for key, p in params.items():
            g = grads[key]
            m = _state(self.m, key, p)
            v = _state(self.v, key, p)
            m += (1.0 - self.beta1) * (g - m)
            v += (1.0 - self.beta2) * (g * g - v)
            p -= lr_t * m / (np.sqrt(v) + EPS)


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    label: str
    formula: str
    build: Callable[..., Optimizer]
    params: tuple[ParamSpec, ...]
    note: str = ""

    def defaults(self) -> dict[str, float]:
        return {s.name: float(s.default) for s in self.params}


def _lr(default: float) -> ParamSpec:
    return ParamSpec("lr", default, "learning rate (step size)", low=0.0, high=10.0)


MOMENTUM = ParamSpec("momentum", 0.9, "velocity kept from one step to the next", low=0.0, high=0.999)
DECAY = ParamSpec("decay", 0.99, "squared-gradient average kept per step", low=0.0, high=0.9999)
BETA1 = ParamSpec("beta1", 0.9, "decay of the gradient's running mean", low=0.0, high=0.999)
BETA2 = ParamSpec("beta2", 0.999, "decay of the squared gradient's running mean", low=0.0, high=0.99999)

_OPTIMIZER_LIST = [
    OptimizerSpec(
        "sgd",
        "SGD",
        "W ← W − η ∂L/∂W",
        SGD,
        (_lr(0.01),),
        note="zig-zags where the surface is steep in one direction and flat in another",
    ),
    OptimizerSpec(
        "momentum",
        "Momentum",
        "v ← α v − η ∂L/∂W;  W ← W + v",
        Momentum,
        (_lr(0.01), MOMENTUM),
        note="a ball rolling downhill: the velocity builds up along consistent directions",
    ),
    OptimizerSpec(
        "nesterov",
        "Nesterov",
        "v ← α v − η g;  W ← W + α² v − (1 + α) η g",
        Nesterov,
        (_lr(0.01), MOMENTUM),
        note="momentum with the gradient taken at the look-ahead point",
    ),
    OptimizerSpec(
        "adagrad",
        "AdaGrad",
        "h ← h + g ⊙ g;  W ← W − η g / (√h + 1e-7)",
        AdaGrad,
        (_lr(0.01),),
        note="per-parameter step sizes that only shrink: learning may stop too early",
    ),
    OptimizerSpec(
        "rmsprop",
        "RMSProp",
        "h ← ρ h + (1 − ρ) g ⊙ g;  W ← W − η g / (√h + 1e-7)",
        RMSProp,
        (_lr(0.01), DECAY),
        note="AdaGrad with a decaying average, so old gradients are forgotten",
    ),
    OptimizerSpec(
        "adam",
        "Adam",
        "m ← m + (1 − β₁)(g − m);  v ← v + (1 − β₂)(g² − v);  "
        "η_t = η √(1 − β₂ᵗ) / (1 − β₁ᵗ);  W ← W − η_t m / (√v + 1e-7)",
        Adam,
        (_lr(0.001), BETA1, BETA2),
        note="momentum plus RMSProp's scaling, with bias correction",
    ),
]

OPTIMIZERS: dict[str, OptimizerSpec] = {o.name: o for o in _OPTIMIZER_LIST}


def resolve_optimizer_params(name: str, params: Mapping[str, object]) -> dict[str, float]:
    """Checked parameters of optimizer `name` with defaults filled in; raises ConfigError naming the
    optimizer or the parameter and its limits."""
    spec = OPTIMIZERS.get(name)
    if spec is None:
        raise ConfigError("optimizer", f"unknown optimizer {name!r}; one of {', '.join(OPTIMIZERS)}")
    known = [s.name for s in spec.params]
    for key in params:
        if key not in known:
            raise ConfigError(key, f"{spec.label} takes no parameter {key!r}; it takes {', '.join(known)}")
    return {k: float(v) for k, v in resolve_params(spec.params, dict(params)).items()}


def make_optimizer(name: str, **params: float) -> Optimizer:
    """A fresh optimizer `name` (a key of OPTIMIZERS) with the given parameters, defaults elsewhere."""
    values = resolve_optimizer_params(name, params)
    return OPTIMIZERS[name].build(**values)
