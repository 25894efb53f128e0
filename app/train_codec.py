"""Training share links: the experiment link's network, plus how it is trained.

    data=mnist&width=100-100-100-100&run=relu,normal,std:0.01&run=relu,xavier&run=relu,he_normal

The network part is the experiment codec's own (app/codec.py parses and writes it); this module
adds the training keys. Shared only: `data`, `batch`, `iterations`, `batch_seed`, `record_every`,
`captures` (steps with histograms, `0-500-2000`), `probe`, `loss` (`bce`: two classes on one
sigmoid output unit, binary cross-entropy; softmax cross-entropy, the default, is never written)
and `digits` (bce on MNIST: the two digits, `4-9`; 0-1 by default). Shared or per run (`run=...,opt:adam`):
`opt` and its parameters (`lr`, `momentum`, `decay`, `beta1`, `beta2`). Two defaults differ from
the experiment link's, as the book's networks are trained: biases are zeros, and MNIST sets the
input to its 784 pixels. Defaults are left out, so links are short and canonical.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import quote, unquote, unquote_plus

from . import codec
from .engine.network.config import INPUT_DIM, ExperimentConfig
from .engine.optimizers import OPTIMIZERS
from .engine.params import ConfigError
from .engine.training.config import (
    BATCH_SEED,
    BATCH_SIZE,
    DEFAULT_DIGITS,
    ITERATIONS,
    PROBE_SIZE,
    RECORD_EVERY,
    TrainConfig,
    make_train_config,
)

TRAIN_KEYS = {  # link key -> make_train_config argument (shared only)
    "batch": "batch_size",
    "iterations": "iterations",
    "batch_seed": "batch_seed",
    "record_every": "record_every",
    "probe": "probe_size",
}
DEFAULTS = {
    "batch": BATCH_SIZE.default,
    "iterations": ITERATIONS.default,
    "batch_seed": BATCH_SEED.default,
    "record_every": RECORD_EVERY.default,
    "probe": PROBE_SIZE.default,
}
OPT_PARAMS = sorted({p.name for spec in OPTIMIZERS.values() for p in spec.params})
OPT_KEYS = ("opt", *OPT_PARAMS)
NOT_IN_TRAINING = ("range", "z_range", "grad", "theory", "axes")
LOSS_KEYS = ("loss", "digits")  # shared only, checked by make_train_config
DEFAULT_OPTIMIZER = "sgd"
DEFAULT_DATA = "mnist"
DEFAULT_LOSS = "softmax"
DEFAULT_BIAS = "zeros"
DEFAULT_INPUT_DIM = int(INPUT_DIM.default)


@dataclass(frozen=True)
class Training:
    """Runs trained side by side on the same batches."""

    runs: tuple[TrainConfig, ...]


def _number(key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise codec.CodecError(key, f"must be a number, got {text!r}") from None


def _int(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise codec.CodecError(key, f"must be a whole number, got {text!r}") from None


def _take_optimizer(items: dict[str, str], where: str) -> dict[str, object]:
    return {
        key: (text if key == "opt" else _number(f"{where}{key}", text))
        for key, text in items.items()
        if key in OPT_KEYS
    }


def decode(query: str) -> Training:
    """A training link's runs; raises ConfigError naming the field."""
    if len(query) > codec.MAX_QUERY_LENGTH:
        raise codec.CodecError("query", f"is over {codec.MAX_QUERY_LENGTH} characters")
    network: list[str] = []
    shared_opt: dict[str, str] = {}
    run_opts: list[dict[str, str]] = []
    train: dict[str, str] = {}
    has_bias = False
    for piece in query.lstrip("?").split("&"):
        if not piece:
            continue
        raw_key, _, raw_value = piece.partition("=")
        key, value = unquote_plus(raw_key), unquote_plus(raw_value)
        if key in NOT_IN_TRAINING:
            raise codec.CodecError(key, "is an experiment setting; a training link does not take it")
        if key in TRAIN_KEYS or key in ("data", "captures", *LOSS_KEYS):
            if key in train:
                raise codec.CodecError(key, "is given twice")
            train[key] = value
        elif key in OPT_KEYS:
            if key in shared_opt:
                raise codec.CodecError(key, "is given twice")
            shared_opt[key] = value
        elif key == "run":
            kept, own = [], {}
            for item in raw_value.split(","):
                name = unquote(item.partition(":")[0]) if ":" in item else ""
                if name in OPT_KEYS:
                    own[name] = unquote_plus(item.partition(":")[2])
                else:
                    kept.append(item)
            run_opts.append(own)
            network.append("run=" + ",".join(kept))
        else:
            has_bias |= key == "bias"
            network.append(piece)
    if not has_bias:
        network.insert(0, f"bias={DEFAULT_BIAS}")
    experiment = codec.to_experiment(codec.decode("&".join(network), presets=False))
    data = train.get("data", DEFAULT_DATA)
    options = {TRAIN_KEYS[k]: _int(k, v) for k, v in train.items() if k in TRAIN_KEYS}
    captures = None
    if "captures" in train:
        captures = [_int("captures", part) for part in train["captures"].split("-") if part]
    loss = train.get("loss", DEFAULT_LOSS)
    if loss in ("normal", "mse"):  # the experiment link's backward signals
        raise codec.CodecError(
            "loss", f"{loss!r} is an experiment's backward signal; a training's loss is softmax or bce"
        )
    digits = None
    if "digits" in train:
        digits = [_int("digits", part) for part in train["digits"].split("-")]
    shared = _take_optimizer(shared_opt, "")
    configs = []
    for i, (run, own) in enumerate(zip(experiment.runs, run_opts, strict=True)):
        chosen = {**shared, **_take_optimizer(own, f"runs[{i}].")}
        name = str(chosen.pop("opt", DEFAULT_OPTIMIZER))
        try:
            configs.append(
                make_train_config(
                    run,
                    optimizer=name,
                    optimizer_params=chosen,
                    data=data,
                    captures=captures,
                    loss=loss,
                    digits=digits,
                    **options,
                )
            )
        except ConfigError as err:
            key = "opt" if err.field == "optimizer" else err.field  # as the link spells it
            if err.field in (*TRAIN_KEYS.values(), "data", "captures", *LOSS_KEYS):
                where = err.field
            elif key in shared_opt and key not in own:
                where = key  # a shared setting: name it where the link has it
            else:
                where = f"runs[{i}].{key}"
            raise ConfigError(where, err.message) from None
    return Training(tuple(configs))


def _optimizer_items(config: TrainConfig) -> dict[str, str]:
    """The optimizer and the parameters that differ from its defaults."""
    spec = OPTIMIZERS[config.optimizer]
    defaults = {p.name: float(p.default) for p in spec.params}
    items = {} if config.optimizer == DEFAULT_OPTIMIZER else {"opt": config.optimizer}
    for name, value in config.optimizer_params:
        if value != defaults[name]:
            items[name] = codec.format_number(value)
    return items


def _default_captures(iterations: int) -> tuple[int, ...]:
    return tuple(sorted({iterations // 4 * k for k in (0, 1, 2)} | {iterations}))


def encode(training: Training) -> str:
    """The canonical link of a training (no leading '?')."""
    first = training.runs[0]
    # the network as the experiment link writes it; MNIST's input size goes without saying
    runs = tuple(
        replace(c.run, input_dim=DEFAULT_INPUT_DIM) if c.data == "mnist" else c.run for c in training.runs
    )
    values = codec.to_values(ExperimentConfig(runs=runs))
    shared = dict(values.shared)
    if shared.get("bias") == DEFAULT_BIAS and not any(k.startswith("bias_") for k in shared):
        del shared["bias"]
    elif "bias" not in shared:
        shared = {"bias": "none", **shared}
    network = codec.format_query(replace(values, shared=shared, gradients=True, theory=True, loss="normal"))
    pairs = network.split("&") if network else []
    head = [p for p in pairs if not p.startswith("run=")]
    run_pairs = [p for p in pairs if p.startswith("run=")]

    train: list[str] = [] if first.data == DEFAULT_DATA else [f"data={first.data}"]
    # written only when not the default: every link from before these keys keeps its bytes
    if first.loss != DEFAULT_LOSS:
        train.append(f"loss={first.loss}")
    if first.digits is not None and first.digits != DEFAULT_DIGITS:
        train.append("digits=" + "-".join(str(d) for d in first.digits))
    given = {
        "batch": first.batch_size,
        "iterations": first.iterations,
        "batch_seed": first.batch_seed,
        "record_every": first.record_every,
        "probe": first.probe_size,
    }
    train += [f"{k}={v}" for k, v in given.items() if v != DEFAULTS[k]]
    if first.captures != _default_captures(first.iterations):
        train.append("captures=" + "-".join(str(s) for s in first.captures))

    per_run = [_optimizer_items(c) for c in training.runs]
    common = per_run[0] if all(items == per_run[0] for items in per_run) else {}
    if common:
        train += [f"{k}={quote(v, safe='.-')}" for k, v in common.items()]
    else:  # the runs differ: each says its own
        run_pairs = [
            p + "".join(f",{k}:{v}" for k, v in items.items())
            for p, items in zip(run_pairs, per_run, strict=True)
        ]
    return "&".join(head + train + run_pairs)
