"""POST and GET /api/v1/simulate: one experiment in, per-layer histograms out."""

from __future__ import annotations

from functools import partial
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Body, Request, Response
from starlette.applications import Starlette

from .. import codec
from ..engine.network.config import ExperimentConfig
from ..engine.network.ensemble import MAX_SEEDS, check_ensemble_limits, run_ensemble
from ..engine.params import ConfigError
from ..settings import Settings, settings_of
from .errors import config_error_response, overloaded_response
from .payload import ensemble_dict, to_json
from .runner import MAX_RETRY_AFTER, Answer, OverloadedError, Runner, Work
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
    # Vary: the GZip middleware adds it to a body of GZIP_MIN_BYTES or more that it passes (its
    # minimum); one it leaves alone (already encoded, or smaller) gets it here, so it is said once.
    headers = {"X-Cache": "hit" if cached else "miss"}
    if answer.gzip is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(answer.gzip, media_type="application/json", headers=headers)
    if answer.gzip is None:
        headers["Vary"] = "Accept-Encoding"
    return Response(answer.json, media_type="application/json", headers=headers)


SEEDS_KEY = "seeds"
SEEDS_DIGITS = 6  # a longer count is refused as out of range, never parsed as huge


SEEDS_PARAMETER = {
    "name": SEEDS_KEY,
    "in": "query",
    "description": f"weight draws, 1 to {MAX_SEEDS} (default 1): each run is repeated over new weight draws "
    "with the link's inputs, and every value becomes the mean over the draws, with `band.low` and "
    "`band.high` the lowest and highest draw's; with axes=run each run's draws share one range "
    "per layer, apart from the other runs'",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SEEDS, "default": 1},
}


def split_seeds(query: str) -> tuple[str, int | None]:
    """The share query without `seeds=`, and the number of draws it gives (None: not given).
    Raises ConfigError naming `seeds` when it is given twice or is not a whole number."""
    if SEEDS_KEY not in query:  # the common link: no split, the query stays as typed (its cache alias)
        return query, None
    kept, seeds = [], None
    for piece in query.lstrip("?").split("&"):
        key, _, raw = piece.partition("=")
        if unquote_plus(key) != SEEDS_KEY:
            if piece:
                kept.append(piece)
            continue
        if seeds is not None:
            raise ConfigError(SEEDS_KEY, "is given twice")
        text = unquote_plus(raw)
        if not (text.isascii() and text.isdigit() and len(text) <= SEEDS_DIGITS):
            raise ConfigError(SEEDS_KEY, f"must be a whole number from 1 to {MAX_SEEDS}, got {text!r}")
        seeds = int(text)
    return "&".join(kept), seeds


def compute_ensemble(config: ExperimentConfig, seeds: int) -> Answer:
    """run_ensemble serialized, as the runner's `compute` does a single experiment (an engine
    process runs it)."""
    return Answer.of(to_json(ensemble_dict(run_ensemble(config, seeds))))


async def answer_ensemble(
    values: codec.DecodedQuery, seeds: int, settings: Settings, runner: Runner
) -> tuple[Answer, bool]:
    """The seed ensemble's answer, bounded before any work (N times the link's cost), cached
    under its own name beside the link's single answer."""
    config = codec.to_experiment(values)
    cost = check_ensemble_limits(config, seeds, settings.limits)
    work = Work(f"ensemble/seeds={seeds}", partial(compute_ensemble, seeds=seeds))
    return await runner.answer(config, cost.macs, None, work)


async def simulate(
    values: codec.DecodedQuery,
    settings: Settings,
    runner: Runner,
    request: Request,
    source: str,
    seeds: int | None = None,
) -> Response:
    try:
        if seeds is None or seeds == 1:  # one draw: the answer as it always was, byte for byte
            answer, cached = await answer_values(values, settings, runner)
        else:
            answer, cached = await answer_ensemble(values, seeds, settings, runner)
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
    body = spec.model_dump(exclude_none=True)
    seeds = body.pop(SEEDS_KEY, None)
    return await simulate(codec.from_json(body), settings, runner, request, "body", seeds)


async def simulate_get(request: Request) -> Response:
    try:
        query, seeds = split_seeds(request.url.query)
        if seeds is not None:
            values = codec.decode(query)
            return await simulate(values, settings_of(request), runner_of(request), request, "query", seeds)
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
    openapi_extra={"parameters": [*share_query_parameters(), SEEDS_PARAMETER]},
)


@router.api_route(
    "/simulate", methods=["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"], include_in_schema=False
)
def simulate_other_methods() -> Response:
    # Starlette's 405 would list only the first matching route's method; name both.
    return Response(status_code=405, headers={"Allow": "GET, HEAD, POST"})
