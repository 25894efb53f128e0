"""Training on MNIST (or synthetic data) as a background job: start, stream progress, cancel.

    GET    /api/v1/train?<link>          the finished result (scripts; waits for the training)
    GET    /api/v1/train/stream?<link>   Server-Sent Events: start, progress..., done (or error)
    DELETE /api/v1/train/{id}            cancel a running training
    GET    /api/v1/train/presets         the training presets (app/api/catalog.py, with the others)
    GET    /api/v1/train/fields          the link's training keys: type, bounds, default

The link is checked and the training's cost bounded before anything starts (a 422 naming the
field and the limit); a finished training is cached, so a shared link answers at once. Servers
that share a Dask scheduler share their trainings through it (app/api/train_scheduler.py): a
link trains once among them and their sweeps, and any of them streams or cancels it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from .. import train_codec
from ..engine.network.cost import Limits
from ..engine.optimizers import OPTIMIZERS
from ..engine.params import ConfigError
from ..engine.training.config import (
    BATCH_SEED,
    BATCH_SIZE,
    DATASETS,
    DEFAULT_DIGITS,
    ITERATIONS,
    LOSSES,
    MAX_CAPTURES,
    PROBE_SIZE,
    RECORD_EVERY,
    check_training_limits,
)
from ..settings import Settings
from .errors import config_error_response, detail_body, detail_response, overloaded_response
from .runner import OverloadedError
from .shared import JobsDep, SettingsDep
from .train_jobs import RETRY_AFTER, AnyListener, Event, TrainJobs, job_id
from .train_payload import train_labels

router = APIRouter(prefix="/api/v1/train", tags=["train"])

LINK = {
    "name": "link",
    "in": "query",
    "required": False,
    "description": "the training link, e.g. depth=4&run=relu,normal,std:0.01&run=relu,he_normal "
    "(keys: data, batch, iterations, batch_seed, record_every, captures, probe, opt, lr, momentum, "
    "decay, beta1, beta2, and the experiment link's network keys)",
    "schema": {"type": "string"},
}
ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "A field is invalid or the training is over a limit; `detail` names it."},
    503: {
        "description": "As many trainings run as the server takes, or (INITSCOPE_DASK_SCHEDULER) the Dask "
        "scheduler the servers share trainings through cannot be reached or does not answer within "
        "15 s; see Retry-After."
    },
}


def checked(query: str, limits: Limits) -> tuple[train_codec.Training, str]:
    """The training of a link and its canonical form; raises ConfigError (BudgetError over a limit)."""
    training = train_codec.decode(query)
    check_training_limits(training.runs, limits)
    return training, train_codec.encode(training)


@dataclass(frozen=True)
class Opened:
    """A checked training link: its cached result, or the job it listens to."""

    training: train_codec.Training
    share: str
    cached: bytes | None
    listener: AnyListener | None = None


async def open_training(request: Request, settings: Settings, jobs: TrainJobs) -> Response | Opened:
    """What both endpoints do first: check the link, then take its cached result or join (and
    start) its job; an error answer (422, 503) when one of those fails."""
    try:
        training, share = checked(request.url.query, settings.limits)
    except ConfigError as err:
        return config_error_response(err, "query")
    cached = jobs.cached(share)
    if cached is not None:
        return Opened(training, share, cached)
    try:
        listener = await jobs.listen(training, share)
    except OverloadedError as err:
        return overloaded_response(err)
    except (OSError, TimeoutError) as err:  # the shared Dask scheduler's registry, or no answer in time
        return unreachable_response(err)
    return Opened(training, share, None, listener)


def unreachable_response(err: BaseException) -> Response:
    """The Dask scheduler that the servers share their trainings through cannot be reached: a 503."""
    body = detail_body([], f"the trainings' Dask scheduler cannot be reached: {err}", "unavailable")
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER)})


def _sse(kind: str, data: bytes) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **ERRORS},
    summary="Train, streaming progress as Server-Sent Events",
    description="Events: `start` ({id, share, iterations, labels, token}), `progress` (what is new "
    "since the last one: loss points, records, captures; appended together they are the result so "
    "far), then `done` (the whole result) or `error`. Closing the connection leaves the training, "
    "which stops when no one follows it; DELETE with the token cancels.",
    openapi_extra={"parameters": [LINK]},
)
async def train_stream(request: Request, settings: SettingsDep, jobs: JobsDep) -> Response:
    opened = await open_training(request, settings, jobs)
    if isinstance(opened, Response):
        return opened
    start = {
        "id": job_id(opened.share),
        "share": opened.share,
        "iterations": opened.training.runs[0].iterations,
        "labels": train_labels(opened.training.runs),
    }
    if opened.cached is not None:
        body = _sse("start", orjson.dumps(start)) + _sse("done", opened.cached)
        return Response(body, media_type="text/event-stream", headers={"X-Cache": "hit"})
    listener = opened.listener
    assert listener is not None
    start["token"] = listener.token  # this listener's alone: DELETE with it cancels

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield _sse("start", orjson.dumps(start))
            async for event in listener.events():
                yield _sse(event.kind, event.data)
        finally:  # done, or the client went away: the last listener leaving stops the job
            jobs.leave(listener)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "X-Cache": "miss"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.get(
    "",
    response_model=None,
    responses={200: {"description": "the finished training: per run loss, records, captures"}, **ERRORS},
    summary="Train and answer with the result (waits for the end)",
    openapi_extra={"parameters": [LINK]},
)
async def train_result(request: Request, settings: SettingsDep, jobs: JobsDep) -> Response:
    finished = await finished_training(request, settings, jobs)
    if isinstance(finished, Response):
        return finished
    return Response(finished.body, media_type="application/json", headers={"X-Cache": finished.cache})


@dataclass(frozen=True)
class Finished:
    """A finished training's document, as served (JSON bytes), and whether it was cached."""

    body: bytes
    cache: str  # "hit" or "miss", for the X-Cache header


async def finished_training(request: Request, settings: Settings, jobs: TrainJobs) -> Response | Finished:
    """The finished training of the request's link: the cached one, or the training run to its
    end (after the same checks as the stream: the link, its budget, a place among the jobs). An
    error answer (422, 503, the training's 500, or 499 when the client hung up) otherwise."""
    opened = await open_training(request, settings, jobs)
    if isinstance(opened, Response):
        return opened
    if opened.cached is not None:
        return Finished(opened.cached, "hit")
    listener = opened.listener
    assert listener is not None
    ending = asyncio.ensure_future(_last_event(listener))
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({ending, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # the result is in, or the client hung up: leaving alone stops the job
        ending.cancel()
        gone.cancel()
        jobs.leave(listener)
    if not ending.done() or ending.cancelled():
        return Response(status_code=499)  # nobody reads it
    event = ending.result()
    if event.kind == "done":
        return Finished(event.data, "miss")
    return Response(event.data, status_code=500, media_type="application/json")


async def _last_event(listener: AnyListener) -> Event:
    async for event in listener.events():
        if event.last:
            return event
    raise RuntimeError("a training's events end with done or error")


async def _disconnected(request: Request) -> None:
    """Returns when the client hangs up. A GET's body is empty, so the next message after it is
    the disconnect (uvicorn sends it when the connection closes)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


@cache
def train_fields() -> list[dict[str, Any]]:
    """The training keys of a link (its network's keys are the catalog's `fields`): type, bounds
    and the default a link without the key trains with. The optimizer's parameters have one
    default per optimizer (`defaults`); `default` is the default optimizer's."""
    specs = {s.name: s for s in (BATCH_SIZE, ITERATIONS, BATCH_SEED, RECORD_EVERY, PROBE_SIZE)}
    fields: list[dict[str, Any]] = [
        {
            "name": "data",
            "type": "choice",
            "doc": "what it trains on: MNIST digits, or the experiment's inputs labelled by a linear teacher",
            "choices": list(DATASETS),
            "default": train_codec.DEFAULT_DATA,
            "per_run": False,
        }
    ]
    for key, argument in train_codec.TRAIN_KEYS.items():
        fields.append({**specs[argument].describe(), "name": key, "per_run": False})
    fields.append(
        {
            "name": "captures",
            "type": "steps",
            "doc": f"steps with histograms, e.g. 0-500-2000 (at most {MAX_CAPTURES}); "
            "by default 0, a quarter, half and all of the iterations",
            "default": None,
            "per_run": False,
        }
    )
    fields.append(
        {
            "name": "loss",
            "type": "choice",
            "doc": "softmax: one output per digit, softmax cross-entropy; bce: two classes, one sigmoid "
            "output unit, binary cross-entropy",
            "choices": list(LOSSES),
            "default": train_codec.DEFAULT_LOSS,
            "per_run": False,
        }
    )
    fields.append(
        {
            "name": "digits",
            "type": "digits",
            "doc": "with loss=bce on MNIST: the two digits, e.g. 4-9 (the first is class 0)",
            "min": 0,
            "max": 9,
            "default": "-".join(str(d) for d in DEFAULT_DIGITS),
            "per_run": False,
        }
    )
    default = OPTIMIZERS[train_codec.DEFAULT_OPTIMIZER]
    fields.append(
        {
            "name": "opt",
            "type": "choice",
            "doc": "the optimizer",
            "choices": list(OPTIMIZERS),
            "labels": {name: spec.label for name, spec in OPTIMIZERS.items()},
            "default": default.name,
            "per_run": True,
        }
    )
    for name in train_codec.OPT_PARAMS:
        taking = {o.name: p for o in OPTIMIZERS.values() for p in o.params if p.name == name}
        first = next(iter(taking.values()))
        fields.append(
            {
                **first.describe(),
                "default": default.defaults().get(name),
                "defaults": {optimizer: float(p.default) for optimizer, p in taking.items()},
                "per_run": True,
            }
        )
    return fields


@router.get(
    "/fields",
    summary="The training keys of a link, with their bounds and defaults",
    description="The keys a training link adds to the network's (those are `fields` of "
    "`/api/v1/catalog`): `data`, `batch`, `iterations`, `batch_seed`, `record_every`, `probe`, "
    "`captures`, `loss`, `digits`, `opt` and the optimizer's parameters, each with its type, bounds "
    "and the default a link without it trains with (an optimizer parameter's `defaults` per optimizer).",
)
async def train_fields_endpoint() -> list[dict[str, Any]]:
    return train_fields()


@router.delete(
    "/{job}",
    status_code=204,
    response_class=Response,
    responses={
        403: {"description": "the token is not one this training handed out"},
        404: {
            "description": "no training with this id runs (in this server, its other workers, or, "
            "with INITSCOPE_DASK_SCHEDULER, any server or sweep sharing that scheduler)"
        },
        422: {"description": "no token given"},
        503: {
            "description": "the Dask scheduler the servers share trainings through cannot be reached "
            "or does not answer within 15 s"
        },
    },
    summary="Cancel a running training (with the token its stream's start event gave you)",
    description="Only a listener can cancel, with the `token` of its own `start` event: the training "
    "stops if no one else follows it, and goes on for the others if someone does (the canceller's "
    "stream ends either way). Watching a link stays open to all. Servers sharing a Dask scheduler "
    "(INITSCOPE_DASK_SCHEDULER) share their trainings: any of them streams and cancels any one.",
)
async def train_cancel(
    job: str,
    jobs: JobsDep,
    token: Annotated[str | None, Query(description="from the stream's start event", max_length=64)] = None,
) -> Response:
    if not token:
        return detail_response(
            422, ["query", "token"], "token: required; the stream's start event gives it", "missing"
        )
    try:
        outcome = await jobs.cancel(job, token)
    except (OSError, TimeoutError) as err:
        return unreachable_response(err)
    if outcome == "no_job":
        return detail_response(404, ["path", "job"], "no such running training", "not_found")
    if outcome == "wrong_token":
        return detail_response(
            403, ["query", "token"], "token: not a token of this training's listeners", "forbidden"
        )
    return Response(status_code=204)
