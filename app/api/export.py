"""Downloads of an experiment given as a share query: tidy CSV and a standalone HTML report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from .. import report
from ..engine.params import ConfigError
from ..settings import Settings
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
    return Response(render(document), media_type=media_type, headers=headers)


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
        request, settings, runner, report.render, "text/html; charset=utf-8", "initscope-report.html"
    )
