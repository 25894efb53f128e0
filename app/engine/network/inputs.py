"""Input distributions: the samples fed to the first layer.

Each run of an experiment with the same input settings and seed sees the very same samples, so
side-by-side columns differ only in what the network does to them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..draws import standard_normal
from ..params import ParamSpec, ParamValue

Params = Mapping[str, ParamValue]
Samples = NDArray[np.float32]


@dataclass(frozen=True)
class InputDistribution:
    name: str
    formula: str
    sample: Callable[[int, int, np.random.Generator, Params], Samples]
    mean: Callable[[Params], float]
    second_moment: Callable[[Params], float]  # E[x^2] of one feature, for the theory
    params: tuple[ParamSpec, ...] = ()
    note: str = ""


def _f(p: Params, key: str) -> float:
    return float(p[key])


def _normal(samples: int, dim: int, rng: np.random.Generator, p: Params) -> Samples:
    x = standard_normal(rng, (samples, dim))
    x *= np.float32(_f(p, "input_std"))
    x += np.float32(_f(p, "input_mean"))
    return x


def _uniform(samples: int, dim: int, rng: np.random.Generator, p: Params) -> Samples:
    low, high = _f(p, "input_low"), _f(p, "input_high")
    x = rng.random((samples, dim), dtype=np.float32)
    x *= np.float32(high - low)
    x += np.float32(low)
    return x


def binary_ones(samples: int, dim: int, fraction: float, rng: np.random.Generator) -> Samples:
    """Exactly round(fraction * dim) ones per sample at random positions, zeros elsewhere: with
    fraction 0.5 and 1000 features, every sample has 500 ones, as in Nielsen's experiment."""
    ones = round(fraction * dim)
    ranks = rng.random((samples, dim)).argsort(axis=1)
    return (ranks < ones).astype(np.float32)


INPUT_MEAN = ParamSpec("input_mean", 0.0, "mean of every feature", low=-100.0, high=100.0)
INPUT_STD = ParamSpec("input_std", 1.0, "standard deviation of every feature", low=0.0, high=100.0)
INPUT_LOW = ParamSpec("input_low", -1.0, "lower end of the uniform range", low=-100.0, high=100.0)
INPUT_HIGH = ParamSpec("input_high", 1.0, "upper end of the uniform range", low=-100.0, high=100.0)
INPUT_FRACTION = ParamSpec(
    "input_fraction", 0.5, "fraction of the features that are 1 in every sample", low=0.0, high=1.0
)

_INPUT_LIST = [
    InputDistribution(
        "normal",
        "x ~ N(input_mean, input_std²)",
        _normal,
        lambda p: _f(p, "input_mean"),
        lambda p: _f(p, "input_mean") ** 2 + _f(p, "input_std") ** 2,
        params=(INPUT_MEAN, INPUT_STD),
        note="the texts' np.random.randn(1000, 100)",
    ),
    InputDistribution(
        "uniform",
        "x ~ U(input_low, input_high)",
        _uniform,
        lambda p: (_f(p, "input_low") + _f(p, "input_high")) / 2.0,
        lambda p: (
            (_f(p, "input_low") ** 2 + _f(p, "input_low") * _f(p, "input_high") + _f(p, "input_high") ** 2)
            / 3.0
        ),
        params=(INPUT_LOW, INPUT_HIGH),
    ),
    InputDistribution(
        "binary",
        "exactly round(input_fraction · input_dim) features are 1, the rest 0",
        lambda s, d, rng, p: binary_ones(s, d, _f(p, "input_fraction"), rng),
        lambda p: _f(p, "input_fraction"),
        lambda p: _f(p, "input_fraction"),
        params=(INPUT_FRACTION,),
        note="Nielsen's 1000 inputs, half of them 1",
    ),
]

INPUTS: dict[str, InputDistribution] = {d.name: d for d in _INPUT_LIST}
