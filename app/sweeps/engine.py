"""The one module of app/sweeps that imports the engine: its public entry points only.

The engine's modules move between packages now and then; the sweeps follow by changing these
imports alone.
"""

from __future__ import annotations

from ..codec import CodecError, DecodedQuery, decode, encode, format_number, format_value, to_experiment
from ..engine.network.config import FIELDS, RUN_FIELDS, ExperimentConfig, FieldDoc
from ..engine.network.cost import BudgetError, Limits, check_limits
from ..engine.network.experiment import ExperimentResult, RunResult, run_experiment
from ..engine.params import ConfigError

__all__ = [
    "FIELDS",
    "RUN_FIELDS",
    "BudgetError",
    "CodecError",
    "ConfigError",
    "DecodedQuery",
    "ExperimentConfig",
    "ExperimentResult",
    "FieldDoc",
    "Limits",
    "RunResult",
    "check_limits",
    "decode",
    "encode",
    "format_number",
    "format_value",
    "run_experiment",
    "to_experiment",
]
