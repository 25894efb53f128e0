"""POST and GET /api/v1/simulate: one experiment in, per-layer histograms out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response

from app import codec
from app.api.errors import config_error_response
from app.api.payload import result_dict, to_json
from app.api.schemas import SAITO_COMPARE, ExperimentSpec, SimulateResponse
from app.engine.config import FIELDS
from app.engine.cost import check_limits
from app.engine.experiment import run_experiment
from app.engine.params import ConfigError
from app.settings import Settings, get_settings

router = APIRouter(prefix="/api/v1", tags=["simulate"])
SettingsDep = Annotated[Settings, Depends(get_settings)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "A field is invalid or the experiment is over a limit; `detail` names it."}
}


def simulate(values: codec.DecodedQuery, settings: Settings, source: str) -> Response:
    """Validate, bound, run and serialize: the single path of both endpoints."""
    try:
        config = codec.to_experiment(values)
        check_limits(config, settings.limits)
    except ConfigError as err:
        return config_error_response(err, source)
    return Response(to_json(result_dict(run_experiment(config))), media_type="application/json")


@router.post(
    "/simulate",
    response_model=None,
    responses={
        200: {"model": SimulateResponse},
        400: {"description": "The body could not be read as JSON text."},
        **_ERRORS,
    },
    summary="Run an experiment given as JSON",
)
def simulate_post(
    spec: Annotated[ExperimentSpec, Body(openapi_examples={"saito-compare": {"value": SAITO_COMPARE}})],
    settings: SettingsDep,
) -> Response:
    data = spec.model_dump(exclude_none=True)
    runs, post, pre = data.pop("runs"), data.pop("range", None), data.pop("z_range", None)
    return simulate(codec.DecodedQuery(data, runs, post, pre), settings, "body")


_RANGE = {"type": "string", "pattern": r"^-?[0-9.]+,-?[0-9.]+$"}


def _query_parameters() -> list[dict[str, Any]]:
    types = {
        "int": "integer",
        "float": "number",
        "choice": "string",
        "text": "string",
        "widths": "string",
    }
    params: list[dict[str, Any]] = [
        {
            "name": "run",
            "in": "query",
            "required": True,
            "style": "form",
            "explode": True,
            "description": "one column each: 'activation,init', then 'key:value' items "
            "(e.g. relu,he_normal,depth:20)",
            "schema": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "example": ["sigmoid,normal", "sigmoid,xavier", "relu,he_normal"],
        },
        {
            "name": "range",
            "in": "query",
            "description": "activation histogram range 'low,high'",
            "schema": {"type": "string"},
        },
        {
            "name": "z_range",
            "in": "query",
            "description": "z histogram range 'low,high'",
            "schema": {"type": "string"},
        },
        {
            "name": "v",
            "in": "query",
            "description": "share-link format version (1)",
            "schema": {"type": "string"},
        },
    ]
    for doc in FIELDS.values():
        schema: dict[str, Any] = {"type": types[doc.kind]}
        if doc.choices:
            schema["enum"] = list(doc.choices)
        if doc.kind in ("int", "float"):
            schema.update({k: v for k, v in (("minimum", doc.low), ("maximum", doc.high)) if v is not None})
        if doc.kind == "widths":
            schema["pattern"] = r"^[0-9]+(-[0-9]+)*$"
        params.append({"name": doc.name, "in": "query", "description": f"shared {doc.doc}", "schema": schema})
    return params


@router.get(
    "/simulate",
    response_model=None,
    responses={200: {"model": SimulateResponse}, **_ERRORS},
    summary="Run an experiment given as a share-link query",
    description="Takes the same query string as the dashboard's address bar, e.g. "
    "`?range=0,1&run=sigmoid,normal&run=sigmoid,xavier&run=relu,he_normal`.",
    openapi_extra={"parameters": _query_parameters()},
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
