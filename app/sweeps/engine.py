"""The one module of app/sweeps that imports the engine: its public entry points only.

The engine's modules move between packages now and then; the sweeps follow by changing these
imports alone. The training link's codec (app/train_codec.py) is the share-link codec's sibling:
both are the product's parsers of links, imported here as the engine is.
"""

from __future__ import annotations

from ..codec import (
    CodecError,
    DecodedQuery,
    decode,
    encode,
    format_number,
    format_query,
    format_value,
    to_experiment,
)
from ..engine.network.config import FIELDS, RUN_FIELDS, ExperimentConfig, FieldDoc
from ..engine.network.cost import BudgetError, Limits, check_limits
from ..engine.network.experiment import ExperimentResult, RunResult, run_experiment
from ..engine.optimizers import OPTIMIZERS
from ..engine.params import ConfigError
from ..engine.training.config import (
    BATCH_SEED,
    BATCH_SIZE,
    ITERATIONS,
    PROBE_SIZE,
    RECORD_EVERY,
    TrainConfig,
    check_training_limits,
    train_cost,
)
from ..engine.training.trainer import TrainResult, train_runs
from ..presets import PRESETS
from ..train_codec import LOSS_KEYS, OPT_KEYS, TRAIN_KEYS, Training
from ..train_codec import decode as decode_training
from ..train_codec import encode as encode_training

__all__ = [
    "BATCH_SEED",
    "BATCH_SIZE",
    "FIELDS",
    "ITERATIONS",
    "LOSS_KEYS",
    "OPTIMIZERS",
    "OPT_KEYS",
    "PRESETS",
    "PROBE_SIZE",
    "RECORD_EVERY",
    "RUN_FIELDS",
    "TRAIN_KEYS",
    "BudgetError",
    "CodecError",
    "ConfigError",
    "DecodedQuery",
    "ExperimentConfig",
    "ExperimentResult",
    "FieldDoc",
    "Limits",
    "RunResult",
    "TrainConfig",
    "TrainResult",
    "Training",
    "check_limits",
    "check_training_limits",
    "decode",
    "decode_training",
    "encode",
    "encode_training",
    "format_number",
    "format_query",
    "format_value",
    "run_experiment",
    "to_experiment",
    "train_cost",
    "train_runs",
]
