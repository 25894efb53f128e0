"""ExperimentResult -> the API's JSON document (plain dicts, lists and numbers).

JSON has no NaN or infinity: the engine reports non-finite values as counts and leaves the
statistics of an all-non-finite tensor as null, so every number here is finite.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import orjson

from .. import codec
from ..engine.measure.stats import PERCENTILES, TensorStats
from ..engine.network.ensemble import TENSOR_COUNTS, EnsembleResult, LayerSpread, Spread, TensorSpread
from ..engine.network.experiment import ExperimentResult, LayerResult, RunResult
from ..engine.network.rows import TableRow
from ..engine.theory import LayerTheory, RunTheory


def _finite(x: float | None) -> float | None:
    """JSON has no infinity: an exploded prediction is null."""
    return x if x is not None and math.isfinite(x) else None


def _percentile_key(q: float) -> str:
    return codec.format_number(q)


# Formatted once: 45 tensors of saito-compare would format the same nine keys 405 times.
PERCENTILE_KEYS = tuple(_percentile_key(q) for q in PERCENTILES)


def tensor_dict(stats: TensorStats) -> dict[str, Any]:
    return {
        "edges": stats.edges.tolist(),
        "counts": stats.counts.tolist(),
        "count": stats.count,
        "mean": stats.mean,
        "std": stats.std,
        "min": stats.min,
        "max": stats.max,
        "percentiles": None
        if stats.percentiles is None
        else {key: float(v) for key, v in zip(PERCENTILE_KEYS, stats.percentiles, strict=True)},
        "zero_fraction": stats.zero_fraction,
        "saturated_fraction": stats.saturated_fraction,
        "nan_count": stats.nan_count,
        "inf_count": stats.inf_count,
        "below": stats.below,
        "above": stats.above,
    }


def layer_theory_dict(t: LayerTheory) -> dict[str, Any]:
    return {
        "q": _finite(t.q),
        "z_std": _finite(math.sqrt(t.q)),
        "mean": _finite(t.mean),
        "std": _finite(math.sqrt(t.variance)),
        "chi": _finite(t.chi),
        "gradient_scale": _finite(t.gradient_scale),
    }


def run_theory_dict(t: RunTheory) -> dict[str, Any]:
    return {
        "q_star": _finite(t.q_star),
        "chi": _finite(t.chi_star),
        "phase": t.phase,
        "sigma_w2": [_finite(x) for x in t.sigma_w2],
        "sigma_b2": t.sigma_b2,
        "note": t.note,
    }


def layer_dict(layer: LayerResult, theory: LayerTheory | None) -> dict[str, Any]:
    # A layer network's row says what layer it is (plain stacks' answers stay as they were).
    where = {} if layer.layer_type is None else {"layer_type": layer.layer_type, "name": layer.name}
    return {
        "layer": layer.index,
        **where,
        "units": layer.units,
        "activation": layer.activation,
        "pre": tensor_dict(layer.pre),
        "post": tensor_dict(layer.post),
        "dead_units": layer.dead_units,
        "dead_fraction": layer.dead_units / layer.units,
        "distinct_units": layer.distinct_units,
        "theory": None if theory is None else layer_theory_dict(theory),
        "grad": None if layer.grad is None else tensor_dict(layer.grad),
        "weight_grad": None
        if layer.weight_grad is None
        else {
            "norm": _finite(layer.weight_grad.norm),
            "std": _finite(layer.weight_grad.std),
            "grad_data_ratio": _finite(layer.weight_grad.grad_data_ratio),
        },
    }


def run_dict(run: RunResult) -> dict[str, Any]:
    theory = run.theory
    return {
        "label": run.label,
        "config": run.config.as_dict(),
        "chi": None if theory is None else _finite(theory.chi_star),
        "phase": None if theory is None else theory.phase,
        "theory": None if theory is None else run_theory_dict(theory),
        "layers": [
            layer_dict(layer, None if theory is None else theory.layers[j])
            for j, layer in enumerate(run.layers)
        ],
    }


def rows_list(rows: tuple[TableRow, ...]) -> list[dict[str, Any]]:
    """The runs' rows side by side: each row's key and each run's row index in it (or null)."""
    return [{"key": row.key, "cells": list(row.cells)} for row in rows]


def result_dict(result: ExperimentResult) -> dict[str, Any]:
    values = codec.to_values(result.config)
    # Layer networks' answers say how their rows pair (plain stacks' stay as they were: row j is
    # every run's layer j).
    rows = {} if result.rows is None else {"rows": rows_list(result.rows)}
    return {
        "share": codec.format_query(values),
        "experiment": codec.as_json(values),
        "runs": [run_dict(run) for run in result.runs],
        **rows,
    }


def to_json(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document)


CSV_COLUMNS = ("run", "label", "layer", "units", "activation", "kind", "bin", "left", "right", "count")
# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(text: str) -> str:
    """Text as a spreadsheet shows it and never runs it: a leading quote before a formula's start
    (the cell is written in quotes, as every text cell is)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


# A seed ensemble's CSV: `count` is the bin's mean count over the draws, then the lowest and highest.
ENSEMBLE_CSV_COLUMNS = (*CSV_COLUMNS, "count_low", "count_high")


def to_csv(document: dict[str, Any]) -> str:
    """Tidy CSV of the histograms: one row per run x layer x kind (pre, post, and grad with the
    backward pass) x bin; a seed ensemble's rows carry the bin's band (the lowest and highest
    draw's count) after its mean count. Text cells are quoted and neutralized (run labels are the
    user's text); numbers are written bare, so -0.5 stays a number."""
    ensemble = "ensemble" in document
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(ENSEMBLE_CSV_COLUMNS if ensemble else CSV_COLUMNS)
    for r, run in enumerate(document["runs"], start=1):
        label = _text_cell(run["label"])
        for layer in run["layers"]:
            activation = _text_cell(layer["activation"])
            # dL/dz too when the backward pass ran: every histogram the pages draw is in the CSV
            for kind in ("pre", "post", "grad") if layer["grad"] is not None else ("pre", "post"):
                t = layer[kind]
                edges = t["edges"]
                band = (t["band"]["low"]["counts"], t["band"]["high"]["counts"]) if ensemble else None
                for b, count in enumerate(t["counts"]):
                    row = (r, label, layer["layer"], layer["units"], activation, kind,
                           b + 1, float(edges[b]), float(edges[b + 1]))  # fmt: skip
                    if band is None:
                        writer.writerow((*row, count))
                    else:  # the mean count, then the lowest and highest draw's
                        writer.writerow((*row, float(count), band[0][b], band[1][b]))
    return out.getvalue()


# ---- seed ensembles (seeds=N) ------------------------------------------------------------------

ENSEMBLE_NOTE = (
    "each value is the mean over the weight draws, and band.low / band.high the lowest and highest "
    "draw's; member k of run i is run i at position k x runs + i of one experiment: new weights and "
    "backward signal, the link's inputs (member 0 is the run the link shows without seeds)"
)


def _spread_values(values: dict[str, Spread], side: str) -> dict[str, float | None]:
    return {name: getattr(spread, side) for name, spread in values.items()}


def _spread_percentiles(percentiles: tuple[Spread, ...] | None, side: str) -> dict[str, float | None] | None:
    if percentiles is None:
        return None
    return {key: getattr(s, side) for key, s in zip(PERCENTILE_KEYS, percentiles, strict=True)}


def _spread_tensor_dict(t: TensorSpread) -> dict[str, Any]:
    """tensor_dict's keys, each the mean over the draws, and a band of the lowest and highest."""
    means = _spread_values(t.values, "mean")
    return {
        "edges": t.edges.tolist(),
        "counts": t.counts.tolist(),
        **{name: means[name] for name in ("count", "mean", "std", "min", "max")},
        "percentiles": _spread_percentiles(t.percentiles, "mean"),
        **{name: means[name] for name in ("zero_fraction", "saturated_fraction")},
        **{name: means[name] for name in TENSOR_COUNTS},
        "band": {
            side: {
                "counts": (t.counts_low if side == "low" else t.counts_high).tolist(),
                **_spread_values(t.values, side),
                "percentiles": _spread_percentiles(t.percentiles, side),
            }
            for side in ("low", "high")
        },
    }


def _spread_layer_dict(layer: LayerSpread, theory: LayerTheory | None) -> dict[str, Any]:
    first = layer.first
    where = {} if first.layer_type is None else {"layer_type": first.layer_type, "name": first.name}
    means = _spread_values(layer.values, "mean")
    wg = layer.weight_grad
    return {
        "layer": first.index,
        **where,
        "units": first.units,
        "activation": first.activation,
        "pre": _spread_tensor_dict(layer.pre),
        "post": _spread_tensor_dict(layer.post),
        **means,
        "theory": None if theory is None else layer_theory_dict(theory),
        "grad": None if layer.grad is None else _spread_tensor_dict(layer.grad),
        "weight_grad": None if wg is None else {k: _finite(s.mean) for k, s in wg.items()},
        "band": {
            side: {
                **_spread_values(layer.values, side),
                "weight_grad": None if wg is None else {k: _finite(getattr(s, side)) for k, s in wg.items()},
            }
            for side in ("low", "high")
        },
    }


def ensemble_dict(result: EnsembleResult) -> dict[str, Any]:
    """result_dict's document for a seed ensemble: the same keys, each value the mean over the
    draws, with `band` (lowest and highest draw) beside it, and `ensemble` saying how it was drawn."""
    values = codec.to_values(result.config)
    rows = {} if result.rows is None else {"rows": rows_list(result.rows)}
    runs = []
    for run in result.runs:
        theory = run.first.theory
        runs.append(
            {
                "label": run.first.label,
                "config": run.first.config.as_dict(),
                "chi": None if theory is None else _finite(theory.chi_star),
                "phase": None if theory is None else theory.phase,
                "theory": None if theory is None else run_theory_dict(theory),
                "layers": [
                    _spread_layer_dict(layer, None if theory is None else theory.layers[j])
                    for j, layer in enumerate(run.layers)
                ],
            }
        )
    return {
        "share": f"{codec.format_query(values)}&seeds={result.seeds}",
        "experiment": {**codec.as_json(values), "seeds": result.seeds},
        "ensemble": {"seeds": result.seeds, "inputs": "fixed", "band": "min-max", "note": ENSEMBLE_NOTE},
        "runs": runs,
        **rows,
    }
