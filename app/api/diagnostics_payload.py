"""DiagnosticsResult -> the JSON document of GET /api/v1/diagnostics, made in an engine process.

Apart from the route (app/api/diagnostics.py), so that an engine process unpickling its work
imports the engine, the codec and orjson only, as for /simulate and /units.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from .. import codec
from ..diagnostics_codec import options_query
from ..engine.measure.jacobian import Spectrum
from ..engine.network.config import ExperimentConfig
from ..engine.network.diagnostics import (
    DiagnosticsOptions,
    DiagnosticsResult,
    RunDiagnostics,
    run_diagnostics,
)
from .runner import Answer

OPTIONS = orjson.OPT_SERIALIZE_NUMPY  # float64 as the shortest text that reads back the same


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _spectrum(s: Spectrum | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "min": s.min,
        "max": s.max,
        "spread": _finite(s.spread),
        "var_sq": _finite(s.var_sq),
        "zeros": s.zeros,
        "count": s.count,
        "log10_edges": s.log10_edges,
        "counts": s.counts,
    }


def _row(layer_type: str | None, name: str | None) -> dict[str, Any]:
    """A layer network's row: its type and name, as /simulate's rows have them (a plain stack's
    layers have neither, and keep their bytes)."""
    return {} if layer_type is None else {"layer_type": layer_type, "name": name}


def _run(run: RunDiagnostics) -> dict[str, Any]:
    fp = run.theory.fixed
    jacobian = run.jacobian
    ensemble = run.correlation[0].low is not None  # seeds > 1
    return {
        "label": run.label,
        "depth": run.config.depth,
        "correlation": {
            "c0": list(run.theory.c0),
            "layers": [
                {
                    "layer": layer.index,
                    "measured": layer.measured,
                    "sd": layer.sd,
                    "predicted": layer.predicted,
                    **_row(layer.layer_type, layer.name),
                    # seeds > 1 only: a single draw's answer keeps its bytes
                    **({} if layer.low is None else {"low": layer.low, "high": layer.high}),
                }
                for layer in run.correlation
            ],
            "q": [_finite(q) for q in run.theory.q],
            "fixed_point": {
                "q_star": _finite(fp.q_star),
                "c_star": _finite(fp.c_star),
                "chi1": _finite(fp.chi1),
                "slope_c_star": _finite(fp.slope_c_star),
                "xi_q": _finite(fp.xi_q),
                "xi_c": _finite(fp.xi_c),
            },
            "note": run.theory.note,
        },
        "jacobian": None
        if jacobian is None
        else {
            "method": jacobian.method,
            "directions": jacobian.directions,
            "samples": jacobian.samples,
            "layers": [
                {
                    "layer": layer.index,
                    "mean_sq": _finite(layer.mean_sq),
                    "predicted_mean_sq": _finite(layer.predicted_mean_sq),
                    "spectrum": _spectrum(layer.spectrum),
                    **_row(layer.layer_type, layer.name),
                    **({"low": _finite(layer.low), "high": _finite(layer.high)} if ensemble else {}),
                }
                for layer in jacobian.layers
            ],
        },
    }


def diagnostics_dict(result: DiagnosticsResult) -> dict[str, Any]:
    share = codec.encode(result.config)
    extra = options_query(result.options)
    return {
        "share": share,
        "query": f"{share}&{extra}" if extra else share,
        "options": {
            "c0": list(result.options.c0),
            "pairs": result.options.pairs,
            "jacobian": result.options.jacobian,
            **({"seeds": result.options.seeds} if result.options.seeds > 1 else {}),
        },
        "runs": [_run(run) for run in result.runs],
    }


def diagnostics_answer(config: ExperimentConfig, options: DiagnosticsOptions) -> Answer:
    """What an engine process does for /diagnostics: measure every run, serialize it."""
    return Answer.of(orjson.dumps(diagnostics_dict(run_diagnostics(config, options)), option=OPTIONS))
