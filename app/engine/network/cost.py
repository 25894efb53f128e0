"""What an experiment will cost, known before any work starts, and the limits it must fit.

The estimate is an upper bound on the work (multiply-adds of the matrix products, LSUV's extra
passes included) and on the memory the lock-step forward pass holds at once, so a request over
budget is refused in microseconds instead of running out of time or memory.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..layers.activations import ACTIVATIONS
from ..layers.initializers import INITIALIZERS, LSUV_MAX_PASSES
from ..params import ConfigError
from .config import ExperimentConfig, RunConfig


class BudgetError(ConfigError):
    """An experiment over one of the limits; `limit` names the Limits field."""

    def __init__(self, field: str, message: str, limit: str) -> None:
        super().__init__(field, message)
        self.limit = limit


@dataclass(frozen=True)
class Limits:
    """Per-experiment limits. The defaults keep one experiment under about a second and 1 GiB."""

    max_runs: int = 8
    max_depth: int = 200
    max_width: int = 4096
    max_input_dim: int = 4096
    max_samples: int = 20_000
    max_bins: int = 200
    max_macs: int = 20_000_000_000
    max_memory_bytes: int = 1 << 30
    max_response_values: int = 2_000_000
    max_train_macs: int = 500_000_000_000  # a training's multiply-adds (about 10 s on one core)

    def describe(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Cost:
    macs: int  # multiply-adds of all matrix products
    memory_bytes: int  # peak estimate of the arrays held at once
    response_values: int  # numbers in the JSON answer


PER_TENSOR_VALUES = 30  # statistics per histogram besides its edges and counts
INPUT_SCRATCH_BYTES = 16  # per input value: binary inputs sort float64 keys into int64 ranks
# Arrays of z's size alive at once: the previous activation, z, the activation, and the
# activation's temporaries (GELU's erf holds several).
Z_COPIES = 8
# Per weight: the float32 matrix, plus orthogonal's QR in float64 (the Gaussian, Q, R and gain * Q).
WEIGHT_SCRATCH_BYTES = 4 + 4 * 8


def _pieces(run: RunConfig, layer: int) -> int:
    params = run.activation_params_at(layer)
    return ACTIVATIONS[run.activation_at(layer)].pieces(params)


NO_BIAS = "none"  # the bias init that adds no bias term (z = a · W)


def parameter_count(run: RunConfig) -> int:
    """The run's weights and biases, every layer's: a maxout layer holds k weight sets (k affine
    maps per unit, each fan_in weights and a bias), k times a plain layer's. Biases count when the
    run has them (bias=none has none)."""
    fans = (run.input_dim, *run.widths[:-1])
    pieces = [_pieces(run, j) for j in range(run.depth)]
    bias = int(run.bias != NO_BIAS)
    return sum(k * w * (f + bias) for f, w, k in zip(fans, run.widths, pieces, strict=True))


def run_cost(run: RunConfig, itemsize: int = 4, gradients: bool = False) -> Cost:
    if run.arch is not None:  # norms or residual blocks: one row per signal-carrying layer
        from .blocks import block_cost, row_count  # blocks imports the engine's layers; cost is light

        macs, memory = block_cost(run, itemsize, gradients, Z_COPIES)
        memory += INPUT_SCRATCH_BYTES * run.samples * run.input_dim
        row_values = 2 * run.bins + 1 + PER_TENSOR_VALUES
        return Cost(macs, memory, row_count(run) * row_values * (3 if gradients else 2))
    fans = (run.input_dim, *run.widths[:-1])
    pieces = [_pieces(run, j) for j in range(run.depth)]
    passes = 1 + (LSUV_MAX_PASSES if INITIALIZERS[run.init].data_dependent else 0)
    macs = passes * run.samples * sum(f * w * k for f, w, k in zip(fans, run.widths, pieces, strict=True))
    widest = max(w * k for w, k in zip(run.widths, pieces, strict=True))
    weights = max(f * w * k for f, w, k in zip(fans, run.widths, pieces, strict=True))
    memory = itemsize * run.samples * (run.input_dim + Z_COPIES * widest)
    memory += INPUT_SCRATCH_BYTES * run.samples * run.input_dim
    memory += WEIGHT_SCRATCH_BYTES * weights
    values = 2 * sum(2 * run.bins + 1 + PER_TENSOR_VALUES for _ in run.widths)
    if gradients:
        # Backward: dL/dW and dL/da per layer (two more products); every layer's z, activation and
        # gradient stay in memory until the pass is done; a third histogram per layer.
        macs *= 3
        memory += itemsize * run.samples * sum(3 * w * k + w for w, k in zip(run.widths, pieces, strict=True))
        values += values // 2
    return Cost(macs, memory, values)


def experiment_cost(config: ExperimentConfig, itemsize: int = 4) -> Cost:
    costs = [run_cost(run, itemsize, config.gradients) for run in config.runs]
    return Cost(
        macs=sum(c.macs for c in costs),
        memory_bytes=sum(c.memory_bytes for c in costs),
        response_values=sum(c.response_values for c in costs),
    )


def check_limits(config: ExperimentConfig, limits: Limits) -> Cost:
    """Raise BudgetError naming the first limit the experiment is over; return its cost."""
    if len(config.runs) > limits.max_runs:
        raise BudgetError(
            "runs", f"{len(config.runs)} runs is over the limit of {limits.max_runs}", "max_runs"
        )
    for i, run in enumerate(config.runs):
        for value, limit, name in (
            (run.depth, limits.max_depth, "depth"),
            (max(run.widths), limits.max_width, "width"),
            (run.input_dim, limits.max_input_dim, "input_dim"),
            (run.samples, limits.max_samples, "samples"),
            (run.bins, limits.max_bins, "bins"),
        ):
            if value > limit:
                raise BudgetError(f"runs[{i}].{name}", f"{value} is over the limit of {limit}", f"max_{name}")
    cost = experiment_cost(config, np.dtype(np.float32).itemsize)
    for value, limit, name, what in (
        (cost.macs, limits.max_macs, "max_macs", "multiply-adds"),
        (cost.memory_bytes, limits.max_memory_bytes, "max_memory_bytes", "bytes of memory"),
        (
            cost.response_values,
            limits.max_response_values,
            "max_response_values",
            "numbers in the answer",
        ),
    ):
        if value > limit:
            raise BudgetError(
                "runs",
                f"the experiment needs {value:,} {what}, over the budget of {limit:,}; "
                "use fewer samples, layers, units or runs",
                name,
            )
    return cost
