"""GET/POST /api/v1/sweep (+ stream, cancel, export): grids of experiments or trainings on Dask.

A sweep is given as its link (app/sweeps/link.py): a share link (or `of=train` and a training
link, app/sweeps/train_link.py) plus `axis.<field>=` pairs, in the
query string of the GETs, or as {"sweep": "<link>"} in a POST body. GET /api/v1/sweep answers the
plan (every point's link and the sweep's cost) and runs nothing; the stream runs the points and
sends each as it completes; POST and the exports run them all and answer every point.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from ..engine.params import ConfigError
from ..settings import Settings, env_name, settings_of
from ..sweeps.cost import Plan
from ..sweeps.metrics import METRICS, TRAIN_METRICS, metrics_for
from ..sweeps.presets import SWEEP_PRESETS
from ..sweeps.runner import PointResult
from ..sweeps.table import axis_dict, plan_points, point_dict, sweep_document, to_csv
from .errors import config_error_response, detail_body, detail_response, overloaded_response
from .runner import OverloadedError
from .shared import ERRORS
from .sweep_service import RETRY_AFTER, SweepService, plan_query

router = APIRouter(prefix="/api/v1/sweep", tags=["sweep"])

# small, so that trying it (the docs page, a schema fuzzer) costs a second
EXAMPLE = "depth=10&width=50&samples=200&run=tanh,xavier&bias=normal&axis.gain=0.5:3:lin:6&axis.bias_std=0,1"
TRAIN_EXAMPLE = "of=train&data=synthetic&samples=200&iterations=40&run=relu,normal&axis.lr=0.01,0.1"
SWEEP_PARAMETER = {
    "name": "sweep",
    "in": "query",
    "required": True,
    "description": "The sweep link: a share link's pairs plus one `axis.<field>=` pair per axis "
    "(`axis.<field>.run<k>=` for run k alone); values are a list `0.5,1,2` or a range "
    "`low:high:lin:n` / `low:high:log:n`. Written as the query itself, e.g. `?" + EXAMPLE + "`. "
    "`of=train` and a training link sweep trainings (lr, opt, batch_seed, iterations... as axes), "
    "e.g. `?" + TRAIN_EXAMPLE + "`. `preset=<sweep preset>` (the catalog's `sweeps.presets`) stands "
    "for that preset's sweep link, other keys replacing its own: `?preset=tanh-phase&samples=200`.",
    "schema": {"type": "string"},
    "style": "form",
    "explode": True,
}


class SweepBody(BaseModel):
    sweep: str = Field(
        max_length=16384, description="the sweep link, as in the GET query", examples=[EXAMPLE]
    )


def service_of(request: Request) -> SweepService:
    service: SweepService = request.app.state.sweeps
    return service


def _plan(query: str, settings: Settings, source: str) -> Plan | Response:
    try:
        return plan_query(query, settings)
    except ConfigError as err:
        return config_error_response(err, source)


def _plan_document(planned: Plan) -> dict[str, Any]:
    sweep = planned.sweep
    return {
        "sweep": sweep.query,
        "kind": sweep.kind,
        "size": sweep.size,
        "total_macs": planned.total_macs,
        "axes": [axis_dict(axis) for axis in sweep.axes],
        "metrics": [m.describe() for m in metrics_for(sweep.kind)],
        "points": plan_points(planned.points, sweep.axes),
    }


@router.get(
    "",
    responses={200: {"description": "the plan: every point's link and values, and the cost"}, **ERRORS},
    summary="Plan a sweep: its points' links and its cost (runs nothing)",
    openapi_extra={"parameters": [SWEEP_PARAMETER]},
)
async def sweep_plan(request: Request) -> Response:
    planned = _plan(request.url.query, settings_of(request), "query")
    if isinstance(planned, Response):
        return planned
    return Response(orjson.dumps(_plan_document(planned)), media_type="application/json")


async def _run_all(request: Request, planned: Plan) -> list[PointResult] | Response:
    service = service_of(request)
    try:
        sweep_id = service.admit()
    except OverloadedError as err:
        return overloaded_response(err)
    try:
        return [result async for result in service.results(sweep_id, planned)]
    except (OSError, TimeoutError) as err:
        return unreachable_response(err)


def unreachable_response(err: BaseException) -> Response:
    """The Dask scheduler could not be reached (or the local cluster not started): a 503."""
    body = detail_body([], f"the sweeps' Dask cluster cannot be reached: {err}", "unavailable")
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER)})


@router.post(
    "",
    responses={
        200: {"description": "every point: link, axes' values, metrics per run"},
        400: {"description": "The body could not be read as JSON text."},
        **ERRORS,
    },
    summary="Run a sweep and answer every point (waits for the last)",
)
async def sweep_post(
    body: Annotated[SweepBody, Body(openapi_examples={"tanh": {"value": {"sweep": EXAMPLE}}})],
    request: Request,
) -> Response:
    planned = _plan(body.sweep, settings_of(request), "body")
    if isinstance(planned, Response):
        return planned
    results = await _run_all(request, planned)
    if isinstance(results, Response):
        return results
    return Response(orjson.dumps(sweep_document(planned.sweep, results)), media_type="application/json")


@router.api_route("", methods=["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"], include_in_schema=False)
def sweep_other_methods() -> Response:
    # Starlette's 405 would list only the first matching route's method; name both.
    return Response(status_code=405, headers={"Allow": "GET, POST"})


@router.get(
    "/export.{extension}",
    responses={
        200: {"content": {"text/csv": {}, "application/json": {}}},
        404: {"description": "an extension other than csv or json"},
        **ERRORS,
    },
    summary="Run a sweep (finished points come from the cache) and download every point",
    description="`export.csv`: one row per point and run (index, link, the axes' values, run, error, "
    "every metric; per-layer metrics as space-separated numbers). `export.json`: POST's answer.",
    openapi_extra={"parameters": [SWEEP_PARAMETER]},
)
async def sweep_export(extension: str, request: Request) -> Response:
    if extension not in ("csv", "json"):
        return detail_response(404, ["path", "extension"], "export.csv or export.json", "not_found")
    planned = _plan(request.url.query, settings_of(request), "query")
    if isinstance(planned, Response):
        return planned
    results = await _run_all(request, planned)
    if isinstance(results, Response):
        return results
    document = sweep_document(planned.sweep, results)
    disposition = {"Content-Disposition": f'attachment; filename="sweep.{extension}"'}
    if extension == "csv":
        return Response(to_csv(document), media_type="text/csv; charset=utf-8", headers=disposition)
    return Response(orjson.dumps(document), media_type="application/json", headers=disposition)


def _sse(kind: str, data: object) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **ERRORS},
    summary="Run a sweep, streaming each point as Server-Sent Events as it completes",
    description="Events: `start` ({id, sweep, kind, metrics, size, total_macs, axes}), one `point` per "
    "grid point ({index, link, values, runs: metrics per run, error, cached}) as they complete, then "
    "`done` ({completed, failed, cancelled}). Closing the connection cancels the sweep; so does "
    "DELETE /api/v1/sweep/{id}. Points finished before are sent first, from the cache.",
    openapi_extra={"parameters": [SWEEP_PARAMETER]},
)
async def sweep_stream(request: Request) -> Response:
    planned = _plan(request.url.query, settings_of(request), "query")
    if isinstance(planned, Response):
        return planned
    service = service_of(request)
    try:
        sweep_id = service.admit()
    except OverloadedError as err:
        return overloaded_response(err)
    sweep = planned.sweep
    start = {
        "id": sweep_id,
        "sweep": sweep.query,
        "kind": sweep.kind,
        "metrics": [m.describe() for m in metrics_for(sweep.kind)],
        "size": sweep.size,
        "total_macs": planned.total_macs,
        "axes": [axis_dict(axis) for axis in sweep.axes],
    }

    async def stream() -> AsyncIterator[bytes]:
        completed = failed = 0
        yield _sse("start", start)
        try:
            async for result in service.results(sweep_id, planned):
                completed += 1
                failed += result.error is not None
                yield _sse("point", {**point_dict(result, sweep.axes), "cached": result.cached})
        except (OSError, TimeoutError) as err:  # the answer has begun: the stream says it instead
            yield _sse("error", {"detail": f"the sweeps' Dask cluster cannot be reached: {err}"})
            return
        cancelled = completed < sweep.size
        yield _sse("done", {"completed": completed, "failed": failed, "cancelled": cancelled})

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.delete(
    "/{sweep_id}",
    status_code=204,
    response_class=Response,
    responses={
        404: {"description": "no sweep with this id runs (in this process, or on the shared scheduler)"}
    },
    summary="Cancel a running sweep (the id its stream's start event gave)",
    description="With INITSCOPE_DASK_SCHEDULER set, any server process using that scheduler cancels "
    "it, whichever one runs it.",
)
async def sweep_cancel(sweep_id: str, request: Request) -> Response:
    if not await service_of(request).cancel(sweep_id):
        return detail_response(404, ["path", "sweep_id"], "no such running sweep", "not_found")
    return Response(status_code=204)


def sweep_catalog(settings: Settings) -> dict[str, Any]:
    """The catalog's `sweeps`: the link's syntax, the metrics, the presets and the limits."""
    limits = {
        "max_sweeps": settings.max_sweeps,
        "max_sweep_points": settings.max_sweep_points,
        "max_sweep_macs": settings.max_sweep_macs,
    }
    return {
        "syntax": "a share link plus axis.<field>=<values> per axis (axis.<field>.run<k>= for run k); "
        "values a list 0.5,1,2 or a range low:high:lin:n or low:high:log:n; the first axis is the slowest",
        "example": EXAMPLE,
        "preset": "preset=<name of a sweep preset below> stands for that preset's sweep link (GET "
        "/api/v1/sweep?preset=tanh-phase); other keys replace its own: a base key, run= (all its "
        "runs), an axis.<field>= of the same key (in that axis's place); preset=<a share link's "
        "preset> is the base's instead; an unknown name is a 422 naming preset",
        "metrics": [m.describe() for m in METRICS],
        "training": "of=train and a training link (the /train page's) plus axes over its network's "
        "fields or its training's (batch, iterations, batch_seed, record_every, probe: every run; "
        "opt, lr, momentum, decay, beta1, beta2: every run or one); a base only the training codec "
        "reads is a training's without of=; each point is a training link, cancelled between steps",
        "training_example": TRAIN_EXAMPLE,
        "training_metrics": [m.describe() for m in TRAIN_METRICS],
        "presets": [p.describe() for p in SWEEP_PRESETS.values()],
        "limits": [{"name": k, "value": v, "setting": env_name(k)} for k, v in limits.items()],
        "scheduler": "external" if settings.dask_scheduler else "local",
    }
