"""Downloads of an experiment given as a share query: tidy CSV and a standalone HTML report.

With `seeds=N` (N > 1) both hold the seed ensemble /api/v1/simulate answers for the same query:
the CSV's count is each bin's mean over the draws, beside the lowest and highest draw's, and the
report draws the bands as the dashboard does. Without seeds (or with 1) the files are as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from .. import codec, report
from ..engine.params import ConfigError
from ..presets import PRESETS
from ..settings import Settings
from .catalog import preset_dict
from .errors import config_error_response, overloaded_response
from .payload import to_csv
from .runner import Answer, OverloadedError, Runner
from .shared import ERRORS, RunnerDep, SettingsDep, answer_query, share_query_parameters
from .simulate import SEEDS_PARAMETER, answer_ensemble, split_seeds

router = APIRouter(prefix="/api/v1/export", tags=["export"])


async def _download(
    request: Request,
    settings: Settings,
    runner: Runner,
    render: Callable[[dict[str, Any]], str],
    media_type: str,
    filename: str,
) -> Response:
    """Run the share query in the request and answer with `render` of its result, as a file."""
    try:
        answer = await _answer(request.url.query, settings, runner)
    except ConfigError as err:
        return config_error_response(err, "query")
    except OverloadedError as err:
        return overloaded_response(err)
    document = orjson.loads(answer.json)  # the cached answer: the same numbers the API serves
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    # In a thread: a report computes its phase diagrams, and a deep experiment's CSV is long.
    return Response(await asyncio.to_thread(render, document), media_type=media_type, headers=headers)


async def _answer(query: str, settings: Settings, runner: Runner) -> Answer:
    """/simulate's answer to the query: its seed ensemble with seeds=N (bounded before any work,
    and cached, as there), else the link's single answer."""
    link, seeds = split_seeds(query)
    if seeds is None:
        return (await answer_query(query, settings, runner))[0]
    if seeds == 1:
        return (await answer_query(link, settings, runner))[0]
    return (await answer_ensemble(codec.decode(link), seeds, settings, runner))[0]


@router.get(
    "/csv",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {}},
            "description": "one row per run x layer x kind x bin; with seeds=N, count is the bin's "
            "mean over the draws, and count_low and count_high the lowest and highest draw's",
        },
        **ERRORS,
    },
    summary="The experiment's histograms as a tidy CSV",
    openapi_extra={"parameters": [*share_query_parameters(), SEEDS_PARAMETER]},
)
async def export_csv(request: Request, settings: SettingsDep, runner: RunnerDep) -> Response:
    return await _download(request, settings, runner, to_csv, "text/csv; charset=utf-8", "initscope.csv")


@router.get(
    "/report",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "a self-contained HTML file"}, **ERRORS},
    summary="A standalone HTML report (plotly.js embedded: opens offline)",
    openapi_extra={"parameters": [*share_query_parameters(), SEEDS_PARAMETER]},
)
async def export_report(request: Request, settings: SettingsDep, runner: RunnerDep) -> Response:
    return await _download(
        request, settings, runner, render_report, "text/html; charset=utf-8", "initscope-report.html"
    )


def render_report(document: dict[str, Any]) -> str:
    """The report, with the preset whose share query the experiment's is (as the dashboard
    matches them): its title, and the claim of its text with the verdict on it."""
    preset = next((p for p in PRESETS.values() if p.query == document["share"]), None)
    return report.render(document, None if preset is None else preset_dict(preset))
