"""create_app(): the API routers, the pages, static files and vendor assets."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app import pages, vendor
from app.api import catalog, export, simulate, theory
from app.pages import ROOT
from app.security import SecurityHeaders

DESCRIPTION = """
What weight initialization and activation choice do to every layer of a deep network.

`POST /api/v1/simulate` takes an experiment as JSON; `GET /api/v1/simulate?<share query>` takes the
same experiment as the dashboard's share link. Both return per-layer histograms and statistics of z
and of the activations. `GET /api/v1/catalog` lists every activation, initializer, input, preset and
limit.
"""


def create_app() -> FastAPI:
    app = FastAPI(
        title="initscope",
        version="1.0.0",
        description=DESCRIPTION,
        docs_url=None,  # served by pages.docs with local Swagger UI assets, never a CDN
        redoc_url=None,
    )
    app.include_router(simulate.router)
    app.include_router(catalog.router)
    app.include_router(export.router)
    app.include_router(theory.router)
    app.include_router(pages.router)
    app.include_router(vendor.router)
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", tags=["health"], summary="Liveness: answers as long as the server runs")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


app = create_app()
