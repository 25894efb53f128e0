"""POST and GET /api/v1/simulate: one experiment in, per-layer histograms out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from starlette.applications import Starlette

from .. import codec
from ..engine.params import ConfigError
from ..settings import Settings, settings_of
from .errors import config_error_response, overloaded_response
from .runner import MAX_RETRY_AFTER, Answer, OverloadedError, Runner
from .schemas import SAITO_COMPARE, ExperimentSpec, SimulateResponse
from .shared import (
    ERRORS,
    RequestRoute,
    RunnerDep,
    SettingsDep,
    answer_query,
    answer_values,
    query_refusal,
    runner_of,
    share_query_parameters,
)

router = APIRouter(prefix="/api/v1", tags=["simulate"])
GET_PATH = "/api/v1/simulate"  # the GET route's, which the HTTP protocol checks for refusals


def served(answer: Answer, cached: bool, request: Request) -> Response:
    """The answer's bytes, gzipped when the client takes it (compressed once, when computed)."""
    headers = {"X-Cache": "hit" if cached else "miss", "Vary": "Accept-Encoding"}
    if answer.gzip is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(answer.gzip, media_type="application/json", headers=headers)
    return Response(answer.json, media_type="application/json", headers=headers)


async def simulate(
    values: codec.DecodedQuery, settings: Settings, runner: Runner, request: Request, source: str
) -> Response:
    try:
        answer, cached = await answer_values(values, settings, runner)
    except ConfigError as err:
        return config_error_response(err, source)
    except OverloadedError as err:
        return overloaded_response(err)
    return served(answer, cached, request)


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
async def simulate_post(
    spec: Annotated[ExperimentSpec, Body(openapi_examples={"saito-compare": {"value": SAITO_COMPARE}})],
    request: Request,
    settings: SettingsDep,
    runner: RunnerDep,
) -> Response:
    return await simulate(
        codec.from_json(spec.model_dump(exclude_none=True)), settings, runner, request, "body"
    )


async def simulate_get(request: Request) -> Response:
    try:
        answer, cached = await answer_query(request.url.query, settings_of(request), runner_of(request))
    except ConfigError as err:
        return config_error_response(err, "query")
    except OverloadedError as err:
        return overloaded_response(err)
    return served(answer, cached, request)


def refusal_in_protocol(app: Starlette, query: str) -> Response | None:
    """simulate_get's answer to the share query `query` if it is a refusal (counted), else None:
    the HTTP protocol answers refusals itself, where it reads them (app/http_protocol.py), and
    passes every other request to the app. `app` is create_app's."""
    refused = query_refusal(query, app.state.settings, app.state.runner)
    return None if refused is None else _refusal_response(refused)


def _refusal_response(refused: OverloadedError) -> Response:
    """overloaded_response(refused), made once for each message and Retry-After (all its bytes
    depend on): ~20 us of a refusal's CPU saved."""
    key = (str(refused), refused.retry_after)
    response = _REFUSALS.get(key)
    if response is None:
        if len(_REFUSALS) >= MAX_RETRY_AFTER:  # never while the message names only Retry-After
            _REFUSALS.clear()
        response = _REFUSALS[key] = overloaded_response(refused)
    return response


_REFUSALS: dict[tuple[str, int], Response] = {}


router.add_api_route(
    "/simulate",
    simulate_get,
    methods=["GET"],
    route_class_override=RequestRoute,  # the link floods ask for: no per-request dependencies
    response_model=None,
    responses={200: {"model": SimulateResponse}, **ERRORS},
    summary="Run an experiment given as a share-link query",
    description="Takes the same query string as the dashboard's address bar, e.g. "
    "`?range=0,1&run=sigmoid,normal&run=sigmoid,xavier&run=relu,he_normal`.",
    openapi_extra={"parameters": share_query_parameters()},
)


@router.api_route(
    "/simulate", methods=["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"], include_in_schema=False
)
def simulate_other_methods() -> Response:
    # Starlette's 405 would list only the first matching route's method; name both.
    return Response(status_code=405, headers={"Allow": "GET, HEAD, POST"})
