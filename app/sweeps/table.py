"""A sweep's results as a tidy table: one JSON document, or CSV with one row per point and run.

Every point carries its link (so a cell opens as it was computed), its axes' values and its
metrics. The API's export, the command line's --out and the Python client all write these.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .link import Axis, Point, Sweep
from .metrics import SCALAR_METRICS, MetricValue, metrics_for
from .runner import PointResult

# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def axis_dict(axis: Axis) -> dict[str, Any]:
    return {
        "name": axis.name,
        "field": axis.field,
        "run": axis.run,
        "text": axis.text,
        "values": list(axis.values),
    }


def point_dict(result: PointResult, axes: Sequence[Axis]) -> dict[str, Any]:
    return {
        "index": result.point.index,
        "link": result.point.link,
        "values": {axis.name: value for axis, value in zip(axes, result.point.values, strict=True)},
        "runs": result.metrics,
        "error": result.error,
    }


def sweep_document(sweep: Sweep, results: Iterable[PointResult], cancelled: bool = False) -> dict[str, Any]:
    """Every finished point, in grid order; `complete` when none is missing."""
    points = sorted(results, key=lambda r: r.point.index)
    return {
        "sweep": sweep.query,
        "kind": sweep.kind,
        "axes": [axis_dict(axis) for axis in sweep.axes],
        "metrics": [m.describe() for m in metrics_for(sweep.kind)],
        "size": sweep.size,
        "complete": len(points) == sweep.size and not cancelled,
        "points": [point_dict(r, sweep.axes) for r in points],
    }


def plan_points(points: Sequence[Point], axes: Sequence[Axis]) -> list[dict[str, Any]]:
    return [
        {
            "index": p.index,
            "link": p.link,
            "values": {axis.name: value for axis, value in zip(axes, p.values, strict=True)},
        }
        for p in points
    ]


def _cell(value: MetricValue) -> str | float:
    if value is None:
        return ""
    if isinstance(value, list):  # a per-layer metric: its values in one cell, layer 1 first
        return " ".join("" if v is None else repr(v) for v in value)
    return value


def _text(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(document: Mapping[str, Any]) -> str:
    """One row per point and run: index, link, the axes' values, run, error, then every metric
    (per-layer ones as space-separated numbers, layer 1 first; empty where a metric is null)."""
    axes = [axis["name"] for axis in document["axes"]]
    metrics = [m["name"] for m in document["metrics"]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["index", "link", *axes, "run", "error", *metrics])
    for point in document["points"]:
        values = [point["values"][name] for name in axes]
        head = [
            point["index"],
            _text(point["link"]),
            *(_text(v) if isinstance(v, str) else v for v in values),
        ]
        if point["runs"] is None:
            writer.writerow([*head, "", _text(point["error"]), *([""] * len(metrics))])
            continue
        for run, row in enumerate(point["runs"], start=1):
            writer.writerow([*head, run, "", *(_cell(row[name]) for name in metrics)])
    return out.getvalue()


__all__ = ["SCALAR_METRICS", "plan_points", "sweep_document", "to_csv"]
