"""create_app(): the API routers, the pages, static files and vendor assets, and the middleware."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from . import health, pages, vendor
from .api import (
    catalog,
    diagnostics,
    diagnostics_coord,
    export,
    paths,
    simulate,
    status,
    sweep,
    theory,
    train,
    train_export,
    units,
)
from .api.errors import handle_validation_errors
from .api.runner import GZIP_MIN_BYTES, Runner
from .api.sweep_service import SweepService
from .api.train_jobs import TrainJobs
from .api.train_registry import Registry, SharedRegistry
from .api.train_scheduler import SchedulerRegistry
from .assets import STATIC_DIR
from .security import SecurityHeaders
from .settings import SHARED_DIR_VARIABLE, Settings, current_settings

DESCRIPTION = """
What weight initialization and activation choice do to every layer of a deep network.

`POST /api/v1/simulate` takes an experiment as JSON; `GET /api/v1/simulate?<share query>` takes the
same experiment as the dashboard's share link. Both return per-layer histograms and statistics of z
and of the activations. `GET /api/v1/catalog` lists every activation, initializer, input, preset and
limit.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # What import and start-up made lives as long as the server: frozen, out of the collector's
    # reach, a full collection walks only what requests made (~0.01 ms instead of ~30 ms, a pause
    # every request in flight waits out: the p99 of a flood). Collected first, so no garbage is
    # frozen; thawed at shutdown, so a process that outlives its app (a test) can free it.
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()
    # Shutting down: stop the trainings and wait for their threads (a step each), in a thread so
    # the loop can still deliver their last events to the streams that are closing.
    await asyncio.to_thread(app.state.train_jobs.shutdown)
    await asyncio.to_thread(app.state.runner.close)  # and the engine processes
    await asyncio.to_thread(app.state.sweeps.close)  # and the Dask client (its LocalCluster, if any)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application; `settings` default to the environment's (INITSCOPE_*)."""
    settings = settings or current_settings()
    app = FastAPI(
        lifespan=lifespan,
        title="initscope",
        version="1.0.0",
        description=DESCRIPTION,
        docs_url=None,  # served by pages.docs with local Swagger UI assets, never a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.runner = Runner(settings.cache_bytes, settings.max_in_flight, settings.max_pending_macs)
    app.state.sweeps = SweepService(settings)  # its Dask client is made on the first sweep
    shared = os.environ.get(SHARED_DIR_VARIABLE)  # set by initscope serve for its workers
    registry: SharedRegistry | None = None
    if settings.dask_scheduler:  # every server of that scheduler shares its trainings there
        registry = SchedulerRegistry(app.state.sweeps.client)
    elif shared:
        registry = Registry(Path(shared))
    app.state.train_jobs = TrainJobs(settings.max_jobs, settings.cache_bytes // 4, registry)
    handle_validation_errors(app)
    app.include_router(simulate.router)
    app.include_router(status.router)
    app.include_router(catalog.router)  # before train: /train/presets, not DELETE /train/{job}
    app.include_router(train.router)
    app.include_router(export.router)
    app.include_router(train_export.router)
    app.include_router(theory.router)
    app.include_router(paths.router)
    app.include_router(units.router)
    app.include_router(diagnostics.router)
    app.include_router(diagnostics_coord.router)
    app.include_router(sweep.router)
    app.include_router(pages.router)
    app.include_router(vendor.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Experiment answers and vendor files come compressed already (once, when made); this
    # compresses the rest (pages, catalog, CSV, reports) and skips what has a Content-Encoding.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=6)
    app.add_middleware(SecurityHeaders)
    if settings.cors_origins:  # off unless INITSCOPE_CORS_ORIGINS names the origins to allow
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            expose_headers=["Retry-After", "X-Cache"],
            max_age=600,
        )

    # A real server answers /healthz in its HTTP protocol, before the app (app/http_protocol.py),
    # with the same bytes; this route answers it elsewhere (tests' clients) and documents it.
    @app.head(health.PATH, include_in_schema=False)  # as GET without the body (monitors)
    @app.get(
        health.PATH,
        tags=["health"],
        summary="Liveness: answers as long as the server runs",
        response_class=Response,
        responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
    )
    async def healthz() -> Response:
        return Response(health.BODY, media_type=health.MEDIA_TYPE)

    return app


app = create_app()
