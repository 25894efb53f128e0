"""Downloads of an experiment given as a share query: tidy CSV and a standalone HTML report."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from .. import report
from ..engine.params import ConfigError
from ..presets import PRESETS
from ..settings import Settings
from .catalog import preset_dict
from .errors import config_error_response, overloaded_response
from .payload import to_csv
from .runner import OverloadedError, Runner
from .shared import ERRORS, RunnerDep, SettingsDep, answer_query, share_query_parameters

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
        answer, _ = await answer_query(request.url.query, settings, runner)
    except ConfigError as err:
        return config_error_response(err, "query")
    except OverloadedError as err:
        return overloaded_response(err)
    document = orjson.loads(answer.json)  # the cached answer: the same numbers the API serves
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    # In a thread: a report computes its phase diagrams, and a deep experiment's CSV is long.
    return Response(await asyncio.to_thread(render, document), media_type=media_type, headers=headers)


@router.get(
    "/csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "one row per run x layer x kind x bin"},
        **ERRORS,
    },
    summary="The experiment's histograms as a tidy CSV",
    openapi_extra={"parameters": share_query_parameters()},
)
async def export_csv(request: Request, settings: SettingsDep, runner: RunnerDep) -> Response:
    return await _download(request, settings, runner, to_csv, "text/csv; charset=utf-8", "initscope.csv")


@router.get(
    "/report",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "a self-contained HTML file"}, **ERRORS},
    summary="A standalone HTML report (plotly.js embedded: opens offline)",
    openapi_extra={"parameters": share_query_parameters()},
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
