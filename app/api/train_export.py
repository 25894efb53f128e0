"""Downloads of a finished training, given as its training link: two tidy CSV files.

    GET /api/v1/export/train-csv?<link>             one row per run x step: loss, accuracy,
                                                    dead fraction and update ratio per layer
    GET /api/v1/export/train-histograms-csv?<link>  one row per run x capture step x layer x kind x bin

(The JSON is `GET /api/v1/train?<link>` itself.) Both read the same finished document as
`GET /api/v1/train`: the cached training, or, when it is not cached, the training run to its end
after the stream's own checks (the link, its budget, a place among the jobs: 422 or 503 first).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from ..settings import Settings
from .payload import _text_cell
from .shared import JobsDep, SettingsDep
from .train import ERRORS, LINK, finished_training
from .train_jobs import TrainJobs

router = APIRouter(prefix="/api/v1/export", tags=["export"])

STEP_COLUMNS = (
    "run",
    "label",
    "step",
    "loss",
    "loss_smoothed",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
)
HISTOGRAM_COLUMNS = ("run", "label", "step", "layer", "units", "kind", "bin", "left", "right", "count")


def _writer(out: io.StringIO) -> Any:
    """Text cells quoted (and neutralized by the caller), numbers bare: -0.5 stays a number."""
    return csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)


def _cell(value: float | None) -> float | str:
    """A number, or an empty cell where the document has null (no value at that step, or not
    finite: a diverging run's loss)."""
    return "" if value is None else value


def _layers(runs: Iterable[dict[str, Any]], key: str) -> int:
    return max((len(row) for run in runs for row in run["records"][key]), default=0)


def steps_csv(document: dict[str, Any]) -> str:
    """One row per run x step, steps 0 to the last the run reached: its batch's loss and the
    moving average (every step; the last record's step has none, as no batch follows it), then
    where the step was recorded the probe's and the test set's loss and accuracy, and per layer
    the fraction of dead units (hidden layers) and log10 std(update) / std(weights) (hidden
    layers, then the output layer: `update_ratio_N` of an N-layer run; none at step 0)."""
    runs = document["runs"]
    dead_layers = _layers(runs, "dead_fraction")
    ratio_layers = _layers(runs, "update_ratio")
    out = io.StringIO()
    writer = _writer(out)
    writer.writerow(
        (
            *STEP_COLUMNS,
            *(f"dead_fraction_{j}" for j in range(1, dead_layers + 1)),
            *(f"update_ratio_{j}" for j in range(1, ratio_layers + 1)),
        )
    )
    for r, run in enumerate(runs, start=1):
        label = _text_cell(run["label"])
        stride = run["loss_stride"]
        loss, smoothed, records = run["loss"], run["loss_smoothed"], run["records"]
        recorded = {step: i for i, step in enumerate(records["step"])}
        for step in sorted({*range(0, len(loss) * stride, stride), *recorded}):
            row: list[float | str] = [r, label, step]
            i, rest = divmod(step, stride)
            row += [_cell(loss[i]), _cell(smoothed[i])] if rest == 0 and i < len(loss) else ["", ""]
            k = recorded.get(step)
            if k is None:
                row += [""] * (4 + dead_layers + ratio_layers)
            else:
                row += [_cell(records[name][k]) for name in STEP_COLUMNS[5:]]
                for name, width in (("dead_fraction", dead_layers), ("update_ratio", ratio_layers)):
                    values = records[name][k]
                    row += [_cell(v) for v in values] + [""] * (width - len(values))
            writer.writerow(row)
    return out.getvalue()


def histograms_csv(document: dict[str, Any]) -> str:
    """One row per run x capture step x layer x kind (post: activations; grad: dL/dz) x bin, as
    the experiment's CSV (`/api/v1/export/csv`) with the step added."""
    out = io.StringIO()
    writer = _writer(out)
    writer.writerow(HISTOGRAM_COLUMNS)
    for r, run in enumerate(document["runs"], start=1):
        label = _text_cell(run["label"])
        for capture in run["captures"]:
            for layer in capture["layers"]:
                for kind in ("post", "grad"):
                    if layer[kind] is None:
                        continue
                    edges, counts = layer[kind]["edges"], layer[kind]["counts"]
                    for b, count in enumerate(counts):
                        writer.writerow(
                            (r, label, capture["step"], layer["layer"], layer["units"], kind,
                             b + 1, float(edges[b]), float(edges[b + 1]), count)
                        )  # fmt: skip
    return out.getvalue()


async def _download(
    request: Request, settings: Settings, jobs: TrainJobs, render: Callable[[dict[str, Any]], str], name: str
) -> Response:
    finished = await finished_training(request, settings, jobs)
    if isinstance(finished, Response):
        return finished
    # In a thread: a long training's CSV has a row per step.
    text = await asyncio.to_thread(lambda: render(orjson.loads(finished.body)))
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "X-Cache": finished.cache}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


def _responses(rows: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"text/csv": {}}, "description": rows}, **ERRORS}


@router.get(
    "/train-csv",
    response_class=Response,
    responses=_responses("one row per run x step"),
    summary="A finished training's curves as CSV: loss, accuracy, dead fraction, update ratio per step",
    description="The training of the link as `GET /api/v1/train` answers it (cached, or trained to its "
    "end after the same checks): one row per run and step.",
    openapi_extra={"parameters": [LINK]},
)
async def train_csv(request: Request, settings: SettingsDep, jobs: JobsDep) -> Response:
    return await _download(request, settings, jobs, steps_csv, "initscope-training.csv")


@router.get(
    "/train-histograms-csv",
    response_class=Response,
    responses=_responses("one row per run x capture step x layer x kind x bin"),
    summary="A finished training's histograms as CSV, at every capture step",
    description="The training of the link as `GET /api/v1/train` answers it (cached, or trained to its "
    "end after the same checks): activations (post) and gradients dL/dz (grad) per layer.",
    openapi_extra={"parameters": [LINK]},
)
async def train_histograms_csv(request: Request, settings: SettingsDep, jobs: JobsDep) -> Response:
    return await _download(request, settings, jobs, histograms_csv, "initscope-training-histograms.csv")
