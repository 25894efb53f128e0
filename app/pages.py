"""HTML pages (Jinja templates). Pages hold no model logic: data comes from the API."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from fastapi.types import DecoratedCallable

from .assets import TEMPLATES_DIR
from .presets import PRESETS

templates = Jinja2Templates(directory=TEMPLATES_DIR)
router = APIRouter(include_in_schema=False)


def page(path: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A page's route: GET, and HEAD (monitors, link checkers) answered alike without the body."""
    return router.api_route(path, methods=["GET", "HEAD"], response_class=HTMLResponse)


@page("/")
def dashboard(request: Request) -> HTMLResponse:
    """The dashboard; its query string is a share link, read by the page through the API."""
    return templates.TemplateResponse(request, "dashboard.html", {})


@page("/presets")
def gallery(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "presets.html", {"presets": list(PRESETS.values())})


@page("/optimizers")
def optimizers(request: Request) -> HTMLResponse:
    """Optimizer paths on a 2-D surface; the query string is the paths API's share link."""
    return templates.TemplateResponse(request, "optimizers.html", {})


@page("/train")
def train(request: Request) -> HTMLResponse:
    """Training runs streamed live; the query string is the training API's share link."""
    return templates.TemplateResponse(request, "train.html", {})


@page("/docs")
def docs(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "docs.html", {})


@page("/units")
def units(request: Request) -> HTMLResponse:
    """One layer unit by unit; the query string is a share link plus layer=, read through the API."""
    return templates.TemplateResponse(request, "units.html", {})


@page("/sweep")
def sweep(request: Request) -> HTMLResponse:
    """A grid of experiments, streamed from the Dask cluster; the query string is the sweep link."""
    return templates.TemplateResponse(request, "sweep.html", {})


@page("/diagnostics")
def diagnostics(request: Request) -> HTMLResponse:
    """Correlation map and Jacobian spectrum; the query string is a share link plus c0, pairs, jacobian."""
    return templates.TemplateResponse(request, "diagnostics.html", {})
