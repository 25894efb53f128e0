"""UnitsResult -> the JSON document of GET /api/v1/units, made in an engine process.

Apart from the API's routes (app/api/units.py), so that an engine process unpickling its work
imports the engine, the codec and orjson only, as for /simulate.
"""

from __future__ import annotations

from typing import Any

import orjson

from .. import codec
from ..engine.measure.unit_profile import (
    MATRIX_SAMPLES,
    MATRIX_UNITS,
    UnitProfile,
    UnitsResult,
    experiment_units,
)
from ..engine.network.config import ExperimentConfig
from .runner import Answer

# numpy arrays are written by orjson itself: float64 as the shortest text that reads back the
# same float64, float32 (the matrix) the same float32; NaN and infinities as null.
OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def _finite(x: float) -> float | None:
    return x if x == x and abs(x) != float("inf") else None


def profile_dict(p: UnitProfile) -> dict[str, Any]:
    return {
        "layer": p.layer,
        "activation": p.activation,
        "units": p.units,
        "samples": p.samples,
        "mean": p.mean,
        "std": p.std,
        "between": _finite(p.spread.between),
        "within": _finite(p.spread.within),
        "dead_units": p.dead_units,
        "distinct_units": p.distinct_units,
        "matrix": {"units": int(p.values.shape[0]), "samples": int(p.values.shape[1]), "values": p.values},
    }


def units_dict(result: UnitsResult) -> dict[str, Any]:
    return {
        "share": codec.encode(result.config),
        "layer": result.layer,
        "depth": max(run.depth for run in result.config.runs),
        "matrix_limits": {"units": MATRIX_UNITS, "samples": MATRIX_SAMPLES},
        "runs": [
            {
                "label": run.label,
                "depth": run.depth,
                "profile": None if run.profile is None else profile_dict(run.profile),
            }
            for run in result.runs
        ],
    }


def units_answer(config: ExperimentConfig, layer: int) -> Answer:
    """What an engine process does for /units: profile the layer of every run, serialize it."""
    return Answer.of(orjson.dumps(units_dict(experiment_units(config, layer)), option=OPTIONS))
