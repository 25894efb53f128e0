"""A training run's configuration, checked and normalized, and what it will cost.

`TrainConfig` holds a dashboard run (`RunConfig`: hidden layers, activation, initialization,
biases, seed) plus what training adds: optimizer, data, batch size, iterations, batch order and
when to record. `train_cost` bounds its work and memory before it starts, as cost.py does for an
experiment, so a server can refuse a job over budget in microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..layers.activations import ACTIVATIONS
from ..layers.initializers import INITIALIZERS, LSUV_MAX_PASSES
from ..network.config import ExperimentConfig, RunConfig, make_run
from ..network.cost import NO_BIAS, BudgetError, Cost, Limits, check_limits, parameter_count
from ..optimizers import resolve_optimizer_params
from ..params import ConfigError, ParamSpec
from .datasets import MNIST_CLASSES, split_sizes

DATASETS = ("mnist", "synthetic")
# softmax: a read-out of one logit per class and softmax cross-entropy (every link before `loss`);
# bce: two classes, one output unit with a sigmoid and binary cross-entropy (notes 000's binary
# classifier). MNIST then trains on two of its digits (`digits`, the first labelled 0).
LOSSES = ("softmax", "bce")
DEFAULT_DIGITS = (0, 1)
# What a step and a record cost besides their matrix products, per layer, in multiply-adds of the
# same time (the budget's ~5e10 a second on one core): a tiny network's steps are all overhead,
# so without these a depth-200, width-1 training of a million steps passed as a few seconds of
# work and ran for hours. Measured: ~10 us a layer a step, ~50 us a layer a record.
STEP_OVERHEAD_MACS = 500_000
RECORD_OVERHEAD_MACS = 2_500_000
MNIST_FEATURES = 784

BATCH_SIZE = ParamSpec("batch_size", 128, "samples per step", kind="int", low=1, high=4096)
ITERATIONS = ParamSpec("iterations", 2000, "optimizer steps", kind="int", low=1, high=1_000_000)
BATCH_SEED = ParamSpec("batch_seed", 0, "seeds the batch order", kind="int", low=0, high=2**32 - 1)
RECORD_EVERY = ParamSpec(
    "record_every", 50, "steps between accuracy records", kind="int", low=1, high=1_000_000
)
PROBE_SIZE = ParamSpec(
    "probe_size", 1000, "training samples for accuracy and histograms", kind="int", low=1, high=100_000
)
MAX_CAPTURES = 64


@dataclass(frozen=True)
class TrainConfig:
    run: RunConfig  # the hidden layers (widths, activation, init, bias) and the weights' seed
    optimizer: str = "sgd"
    optimizer_params: tuple[tuple[str, float], ...] = (("lr", 0.01),)  # every parameter, resolved
    data: str = "mnist"  # or "synthetic": the run's input distribution, labelled by a linear teacher
    batch_size: int = 128
    iterations: int = 2000
    batch_seed: int = 0
    record_every: int = 50  # records at 0, record_every, 2 record_every, ... and the last step
    captures: tuple[int, ...] = (0, 2000)  # steps with per-layer histograms, sorted
    probe_size: int = 1000
    loss: str = "softmax"  # or "bce": one sigmoid output unit, binary cross-entropy
    digits: tuple[int, int] | None = None  # bce on MNIST: the two digits (labels 0 and 1)

    @property
    def classes(self) -> int:
        """How many classes the data has (bce: 2, on one output unit)."""
        return 2 if self.loss == "bce" else MNIST_CLASSES

    @property
    def outputs(self) -> int:
        """Units of the read-out layer."""
        return 1 if self.loss == "bce" else MNIST_CLASSES

    def record_steps(self) -> list[int]:
        return sorted({*range(0, self.iterations, self.record_every), self.iterations})


def make_train_config(
    run: RunConfig | Mapping[str, object],
    *,
    optimizer: str = "sgd",
    optimizer_params: Mapping[str, object] | None = None,
    data: str = "mnist",
    batch_size: object = BATCH_SIZE.default,
    iterations: object = ITERATIONS.default,
    batch_seed: object = BATCH_SEED.default,
    record_every: object = RECORD_EVERY.default,
    captures: Sequence[object] | None = None,
    probe_size: object = PROBE_SIZE.default,
    loss: str = "softmax",
    digits: Sequence[object] | None = None,
) -> TrainConfig:
    """A checked, normalized TrainConfig. A run given as fields defaults to zero biases (as the
    book's networks have); MNIST fixes input_dim at 784. `captures` defaults to 0, a quarter, half
    and all of the iterations. `digits` (bce on MNIST only) defaults to 0 and 1."""
    if data not in DATASETS:
        raise ConfigError("data", f"must be one of {', '.join(DATASETS)}")
    if loss not in LOSSES:
        raise ConfigError("loss", f"must be one of {', '.join(LOSSES)}")
    pair = _digits(digits, loss, data)
    if not isinstance(run, RunConfig):
        run = make_run({"bias": "zeros", **run})
    if data == "mnist":
        run = replace(run, input_dim=MNIST_FEATURES)
    elif run.samples < 2:
        raise ConfigError("samples", "synthetic data needs at least 2 samples (training and test)")
    n = int(ITERATIONS.check(iterations))
    checked = _captures([n // 4 * k for k in (0, 1, 2)] + [n] if captures is None else captures, n)
    params = resolve_optimizer_params(optimizer, dict(optimizer_params or {}))
    return TrainConfig(
        run=run,
        optimizer=optimizer,
        optimizer_params=tuple(params.items()),
        data=data,
        batch_size=int(BATCH_SIZE.check(batch_size)),
        iterations=n,
        batch_seed=int(BATCH_SEED.check(batch_seed)),
        record_every=int(RECORD_EVERY.check(record_every)),
        captures=tuple(checked),
        probe_size=int(PROBE_SIZE.check(probe_size)),
        loss=loss,
        digits=pair,
    )


def _digits(digits: Sequence[object] | None, loss: str, data: str) -> tuple[int, int] | None:
    """The two MNIST digits of a bce training: two different digits 0 to 9."""
    if loss != "bce" or data != "mnist":
        if digits is not None:
            raise ConfigError("digits", "chooses the two MNIST digits of loss=bce; this training has none")
        return None
    if digits is None:
        return DEFAULT_DIGITS
    spec = ParamSpec("digits", 0, "a digit", kind="int", low=0, high=MNIST_CLASSES - 1)
    if len(digits) != 2:
        raise ConfigError("digits", f"must be two digits, got {len(digits)}")
    first, second = (int(spec.check(d)) for d in digits)
    if first == second:
        raise ConfigError("digits", "must be two different digits")
    return first, second


def _captures(steps: Sequence[object], iterations: int) -> list[int]:
    spec = ParamSpec("captures", 0, "steps with histograms", kind="int", low=0, high=iterations)
    checked = sorted({int(spec.check(step)) for step in steps})
    if len(checked) > MAX_CAPTURES:
        raise ConfigError("captures", f"at most {MAX_CAPTURES} steps")
    return checked


def train_cost(config: TrainConfig, itemsize: int = 4) -> Cost:
    """An upper bound on the multiply-adds and memory of `train(config)`, and the numbers in its
    result, known before it starts."""
    run = config.run
    features = run.input_dim
    sizes = [
        (f, w * p) for f, w, p in zip((features, *run.widths[:-1]), run.widths, _pieces(run), strict=True)
    ]
    sizes.append((run.widths[-1], config.outputs))
    rows = len(sizes) - 1
    if run.arch is not None:  # norms or residual blocks: their dense layers, and a row per signal
        from .block_mlp import block_sizes

        sizes, rows = block_sizes(run, config.outputs)
    per_sample = sum(f * w for f, w in sizes)  # one forward pass
    first = sizes[0][0] * sizes[0][1]
    train_size, test_size = split_sizes(config.data, run.samples, config.digits)
    probe = min(config.probe_size, train_size)
    records = len(config.record_steps())
    macs = config.iterations * config.batch_size * (3 * per_sample - first)  # no dL/dx of the data
    macs += records * (probe + test_size) * per_sample
    macs += len(config.captures) * probe * 2 * per_sample
    if INITIALIZERS[run.init].data_dependent:
        # LSUV's passes and the one carrying the probe on; a layer network's read-out is scaled
        # after a pass of its own
        macs += (LSUV_MAX_PASSES + 1 + int(run.arch is not None)) * probe * per_sample
    layers = rows + 1
    macs += (config.iterations * STEP_OVERHEAD_MACS + records * RECORD_OVERHEAD_MACS) * layers
    weights = sum(f * w + w for f, w in sizes)
    widest = sum(w for _, w in sizes) if run.arch is None else rows * max(run.widths) + config.outputs
    memory = itemsize * (
        (train_size + test_size) * features * 2  # the data set (and its batch gathers, probes)
        + 6 * weights  # parameters, gradients, two optimizer states, a snapshot, temporaries
        + 4 * config.batch_size * widest  # z, f(z), dL/dz, dL/da of a step
        + 6 * max(probe, test_size) * widest  # an evaluation's or a capture's arrays
    )
    memory += 8 * (config.iterations + 1)  # the loss curve
    values = config.iterations + 1 + records * (5 + 2 * layers)
    values += len(config.captures) * 2 * (layers - 1) * (2 * run.bins + 1 + 30)
    return Cost(macs=macs, memory_bytes=memory, response_values=values)


def train_parameters(config: TrainConfig) -> int:
    """The trained network's weights and biases: its hidden layers (a maxout layer's k weight sets
    each) and the read-out, as MLP draws them (cost.parameter_count's count plus the read-out's)."""
    run = config.run  # its input_dim is the data's features (784 for MNIST)
    if run.arch is not None:  # norms, residual branches (their dense layers), ReZero's scalars
        from .block_mlp import block_parameters

        return block_parameters(run, config.outputs)
    bias = int(run.bias != NO_BIAS)
    return parameter_count(run) + config.outputs * (run.widths[-1] + bias)


def _pieces(run: RunConfig) -> list[int]:
    return [ACTIVATIONS[run.activation_at(j)].pieces(run.activation_params_at(j)) for j in range(run.depth)]


def check_training_limits(configs: Sequence[TrainConfig], limits: Limits) -> int:
    """The multiply-adds of a training (its runs together), checked before it starts as /train and
    sweeps both check it: its networks within the experiment limits (runs, depth, width, ...),
    then its work, memory and answer within the training budgets. Raises BudgetError naming the
    limit."""
    check_limits(ExperimentConfig(runs=tuple(c.run for c in configs)), limits)
    costs = [train_cost(config) for config in configs]
    for total, limit, name, what in (
        (sum(c.macs for c in costs), limits.max_train_macs, "max_train_macs", "multiply-adds"),
        (sum(c.memory_bytes for c in costs), limits.max_memory_bytes, "max_memory_bytes", "bytes of memory"),
        (sum(c.response_values for c in costs), limits.max_response_values, "max_response_values", "values"),
    ):
        if total > limit:
            raise BudgetError(
                "iterations",
                f"the training needs {total:,} {what}, over the budget of {limit:,}; "
                "use fewer iterations, units, layers or runs",
                name,
            )
    return sum(c.macs for c in costs)
