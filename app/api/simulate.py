"""POST and GET /api/v1/simulate: one experiment in, per-layer histograms out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response

from app import codec
from app.api.errors import config_error_response
from app.api.payload import result_dict, to_json
from app.api.schemas import SAITO_COMPARE, ExperimentSpec, SimulateResponse
from app.api.shared import ERRORS, SettingsDep, run_values, share_query_parameters
from app.engine.params import ConfigError
from app.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["simulate"])


def simulate(values: codec.DecodedQuery, settings: Settings, source: str) -> Response:
    try:
        result = run_values(values, settings)
    except ConfigError as err:
        return config_error_response(err, source)
    return Response(to_json(result_dict(result)), media_type="application/json")


@router.post(
    "/simulate",
    response_model=None,
    responses={
        200: {"model": SimulateResponse},
        400: {"description": "The body could not be read as JSON text."},
        **ERRORS,
    },
    summary="Run an experiment given as JSON",
)
def simulate_post(
    spec: Annotated[ExperimentSpec, Body(openapi_examples={"saito-compare": {"value": SAITO_COMPARE}})],
    settings: SettingsDep,
) -> Response:
    return simulate(codec.from_json(spec.model_dump(exclude_none=True)), settings, "body")


@router.get(
    "/simulate",
    response_model=None,
    responses={200: {"model": SimulateResponse}, **ERRORS},
    summary="Run an experiment given as a share-link query",
    description="Takes the same query string as the dashboard's address bar, e.g. "
    "`?range=0,1&run=sigmoid,normal&run=sigmoid,xavier&run=relu,he_normal`.",
    openapi_extra={"parameters": share_query_parameters()},
)
def simulate_get(request: Request, settings: SettingsDep) -> Response:
    try:
        values = codec.decode(request.url.query)
    except ConfigError as err:
        return config_error_response(err, "query")
    return simulate(values, settings, "query")


@router.api_route(
    "/simulate", methods=["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"], include_in_schema=False
)
def simulate_other_methods() -> Response:
    # Starlette's 405 would list only the first matching route's method; name both.
    return Response(status_code=405, headers={"Allow": "GET, HEAD, POST"})
