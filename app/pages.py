"""HTML pages (Jinja templates). Pages hold no model logic: data comes from the API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from .assets import TEMPLATES_DIR
from .presets import PRESETS

templates = Jinja2Templates(directory=TEMPLATES_DIR)
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    """The dashboard; its query string is a share link, read by the page through the API."""
    return templates.TemplateResponse(request, "dashboard.html", {})


@router.get("/presets", response_class=HTMLResponse)
def gallery(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "presets.html", {"presets": list(PRESETS.values())})


@router.get("/optimizers", response_class=HTMLResponse)
def optimizers(request: Request) -> HTMLResponse:
    """Optimizer paths on a 2-D surface; the query string is the paths API's share link."""
    return templates.TemplateResponse(request, "optimizers.html", {})


@router.get("/train", response_class=HTMLResponse)
def train(request: Request) -> HTMLResponse:
    """Training runs streamed live; the query string is the training API's share link."""
    return templates.TemplateResponse(request, "train.html", {})


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "docs.html", {})
