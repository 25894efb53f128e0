"""What the experiment endpoints share: settings, the run path, and the share-query's documentation."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from .. import codec
from ..engine.network.config import FIELDS
from ..engine.network.cost import check_limits
from ..engine.params import ConfigError
from ..settings import Settings, get_settings
from .runner import Answer, OverloadedError, Runner
from .train_jobs import TrainJobs

SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_runner(request: Request) -> Runner:  # async: no thread-pool hop
    return runner_of(request)


RunnerDep = Annotated[Runner, Depends(get_runner)]


class RequestRoute(APIRoute):
    """A route whose endpoint takes the Request alone and reads the settings and the runner off
    the app's state: FastAPI's per-request dependency solving and parameter checks are skipped.
    Why: for GET /api/v1/simulate, the link a flood of clients asks for, they were ~40% of the
    CPU a refusal or a cached answer costs (~380 against ~216 us, in-process). It is documented
    like any other route (its query's parameters come from openapi_extra)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


def runner_of(request: Request) -> Runner:
    """The app's runner (create_app's), for a RequestRoute's endpoint and get_runner."""
    runner: Runner = request.app.state.runner
    return runner


async def get_jobs(request: Request) -> TrainJobs:
    jobs: TrainJobs = request.app.state.train_jobs
    return jobs


JobsDep = Annotated[TrainJobs, Depends(get_jobs)]

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "A field is invalid or the experiment is over a limit; `detail` names it."},
    503: {
        "description": "The server has as much work admitted as it takes on; the Retry-After "
        "header says when to try again."
    },
}


async def answer_values(
    values: codec.DecodedQuery, settings: Settings, runner: Runner, query: str | None = None
) -> tuple[Answer, bool]:
    """Validate, bound, then run (or find in the cache): the one path of every experiment
    endpoint. Raises ConfigError (a BudgetError when over a limit) before any work starts, and
    OverloadedError when the server is full. `query`, the share query as typed, is remembered
    so that the same link is answered from the cache without decoding it again."""
    config = codec.to_experiment(values)
    cost = check_limits(config, settings.limits)
    return await runner.answer(config, cost.macs, None if query is None else (query, settings.limits))


async def answer_query(query: str, settings: Settings, runner: Runner) -> tuple[Answer, bool]:
    """`answer_values` of a share query; raises ConfigError (a CodecError) for a bad link."""
    cached = runner.cached_query(query, settings.limits)
    if cached is not None:
        return cached, True
    return await answer_values(codec.decode(query), settings, runner, query)


def query_refusal(query: str, settings: Settings, runner: Runner) -> OverloadedError | None:
    """The OverloadedError `answer_query` would raise for `query` now (counted by the runner as
    a refusal), or None when it would do anything else: answer from the cache, share or admit
    the work, or refuse the link as invalid (a ConfigError, which the app answers). Synchronous,
    for the HTTP protocol, which answers a refusal where it reads the request
    (app/http_protocol.py); `answer_query` then runs only for the requests this does not refuse."""
    if runner.knows(query, settings.limits):
        return None
    try:
        config = codec.to_experiment(codec.decode(query))
        cost = check_limits(config, settings.limits)
    except ConfigError:
        return None
    return runner.refusal(config, cost.macs)


_RANGE = {"type": "string", "pattern": r"^-?[0-9.]+,-?[0-9.]+$"}


def share_query_parameters() -> list[dict[str, Any]]:
    """OpenAPI parameters of a share query (the handlers read the raw query with the codec)."""
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
        {
            "name": "grad",
            "in": "query",
            "description": "1: also run the backward pass",
            "schema": {"type": "string", "enum": ["0", "1"]},
        },
        {
            "name": "loss",
            "in": "query",
            "description": "backward signal",
            "schema": {"type": "string", "enum": ["normal", "mse"]},
        },
        {
            "name": "theory",
            "in": "query",
            "description": "0: leave out the mean-field prediction",
            "schema": {"type": "string", "enum": ["0", "1"]},
        },
        {
            "name": "axes",
            "in": "query",
            "description": "histogram x ranges: shared by the runs per layer (default) or each run's own",
            "schema": {"type": "string", "enum": ["shared", "run"]},
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
