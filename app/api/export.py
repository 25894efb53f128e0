"""Downloads of an experiment given as a share query: tidy CSV and a standalone HTML report."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app import codec, report
from app.api.errors import config_error_response
from app.api.payload import result_dict, to_csv
from app.api.shared import ERRORS, SettingsDep, run_values, share_query_parameters
from app.engine.params import ConfigError

router = APIRouter(prefix="/api/v1/export", tags=["export"])


def _document(request: Request, settings: SettingsDep) -> dict[str, object] | Response:
    try:
        return result_dict(run_values(codec.decode(request.url.query), settings))
    except ConfigError as err:
        return config_error_response(err, "query")


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


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
def export_csv(request: Request, settings: SettingsDep) -> Response:
    document = _document(request, settings)
    if isinstance(document, Response):
        return document
    return Response(
        to_csv(document), media_type="text/csv; charset=utf-8", headers=_attachment("initscope.csv")
    )


@router.get(
    "/report",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "a self-contained HTML file"}, **ERRORS},
    summary="A standalone HTML report (plotly.js embedded: opens offline)",
    openapi_extra={"parameters": share_query_parameters()},
)
def export_report(request: Request, settings: SettingsDep) -> Response:
    document = _document(request, settings)
    if isinstance(document, Response):
        return document
    return Response(
        report.render(document),
        media_type="text/html; charset=utf-8",
        headers=_attachment("initscope-report.html"),
    )
