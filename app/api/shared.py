"""What the experiment endpoints share: settings, the run path, and the share-query's documentation."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Annotated, Any
from urllib.parse import unquote_plus

from cachetools import LRUCache
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from .. import codec
from ..engine.network.config import FIELDS, SEED, ExperimentConfig
from ..engine.network.cost import Limits, check_limits
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
    values: codec.DecodedQuery, settings: Settings, runner: Runner
) -> tuple[Answer, bool]:
    """Validate, bound, then run (or find in the cache): the one path of every experiment
    endpoint. Raises ConfigError (a BudgetError when over a limit) before any work starts, and
    OverloadedError when the server is full."""
    config = codec.to_experiment(values)
    cost = check_limits(config, settings.limits)
    return await runner.answer(config, cost.macs)


async def answer_query(query: str, settings: Settings, runner: Runner) -> tuple[Answer, bool]:
    """The answer to a share query, as answer_values gives it for the decoded link; raises
    ConfigError (a CodecError) for a bad link. The query, as typed, is remembered so that the
    same link is answered from the cache without decoding it again; its checks come from
    checked_link, which the HTTP protocol's refusal check has just made (a link met with another
    seed is not decoded again)."""
    cached = runner.cached_query(query, settings.limits)
    if cached is not None:
        return cached, True
    config, macs = checked_link(query, settings.limits)
    return await runner.answer(config, macs, (query, settings.limits))


def query_refusal(query: str, settings: Settings, runner: Runner) -> OverloadedError | None:
    """The OverloadedError `answer_query` would raise for `query` now (counted by the runner as
    a refusal), or None when it would do anything else: answer from the cache, share or admit
    the work, or refuse the link as invalid (a ConfigError, which the app answers). Synchronous,
    for the HTTP protocol, which answers a refusal where it reads the request
    (app/http_protocol.py); `answer_query` then runs only for the requests this does not refuse."""
    if runner.knows(query, settings.limits):
        return None
    try:
        config, macs = checked_link(query, settings.limits)
    except ConfigError:
        return None
    return runner.refusal(config, macs)


@dataclass(frozen=True)
class _CheckedLink:
    config: ExperimentConfig
    macs: int
    inherits: tuple[bool, ...]  # per run: takes the link's top-level seed (has none of its own)


# A link's checks (decode, validate, cost: ~75 us of the ~95 a refusal costs) made once per
# spelling without its seed. Why: the flood a busy server meets is one link asked with ever new
# seeds (a script looping over seeds, a load test, the flood of issue 11); a seed changes
# neither a link's validity nor its cost, only the runs' seed field. Keyed by the limits too
# (the cost check depends on them); only links that pass are kept.
_CHECKED: LRUCache[tuple[str, bool, Limits], _CheckedLink] = LRUCache(maxsize=256)
_SEED_KEY = SEED.name


def checked_link(query: str, limits: Limits) -> tuple[ExperimentConfig, int]:
    """`to_experiment(decode(query))` and its multiply-adds, checked against `limits` (raises
    ConfigError as those do), equal to what they give; a link met before with another seed is
    not decoded again."""
    seedless, seed_text = _split_seed(query)
    key = (seedless, seed_text is not None, limits)
    known = _CHECKED.get(key)
    if known is None:
        values = codec.decode(query)
        config = codec.to_experiment(values)
        macs = check_limits(config, limits).macs
        inherits = tuple(run.get(_SEED_KEY) is None for run in values.runs)
        _CHECKED[key] = _CheckedLink(config, macs, inherits)
        return config, macs
    if seed_text is None:
        return known.config, known.macs
    # As decode and make_run read it: the field's number, checked and made an int.
    seed = int(SEED.check(codec.parse_value(_SEED_KEY, unquote_plus(seed_text))))
    runs = tuple(
        replace(run, seed=seed) if inherits else run
        for run, inherits in zip(known.config.runs, known.inherits, strict=True)
    )
    return replace(known.config, runs=runs), known.macs


def _split_seed(query: str) -> tuple[str, str | None]:
    """The query without its top-level `seed=` piece, and that piece's text (None: no seed).
    A query giving the seed twice is returned whole, its seed None: decode refuses it."""
    query = query.lstrip("?")
    if _SEED_KEY not in query:  # "se%65d" too: then the whole query is the key, seed and all
        return query, None
    kept, seed = [], None
    for piece in query.split("&"):
        name, _, text = piece.partition("=")
        if unquote_plus(name) != _SEED_KEY:
            kept.append(piece)
        elif seed is not None:
            return query, None
        else:
            seed = text
    return "&".join(kept), seed


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
