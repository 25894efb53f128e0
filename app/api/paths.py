"""GET and POST /api/v1/optimizer-paths: optimizers' paths on a 2-D surface, with its contour grid."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from .. import paths_codec
from ..engine.optimizers import OPTIMIZERS
from ..engine.params import ConfigError
from ..engine.paths.surfaces import (
    MAX_PATHS,
    STEPS,
    SURFACES,
    ZIGZAG_NEAR,
    ZIGZAG_START,
    ZIGZAG_TARGET,
    Path,
    PathsConfig,
    UnitPath,
    ZigzagConfig,
    compute_paths,
    contour_grid,
    plot_window,
    unit_paths,
)
from .errors import config_error_response
from .payload import to_json

router = APIRouter(prefix="/api/v1", tags=["optimizers"])
BOOK_QUERY = "opt=sgd,lr:0.95&opt=momentum,lr:0.1&opt=adagrad,lr:1.5&opt=adam,lr:0.3"
ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "A field is invalid or over a limit; `detail` names it and the limit."}
}

# strict: false is not 0 and "1" is not 1 (as in the simulate schemas). The values (bounds,
# finiteness) are make_paths_config's to check, in the same words as for a link.
Coordinate = Annotated[float, Field(strict=True)]
Number = Annotated[float | None, Field(default=None, strict=True)]
Steps = Annotated[int, Field(strict=True, json_schema_extra={"minimum": STEPS.low, "maximum": STEPS.high})]


class OptimizerItem(BaseModel):
    """One path: an optimizer of the catalog and any of its parameters (defaults for the rest)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(examples=["adam"], max_length=64)
    lr: Number = None
    momentum: Number = None
    decay: Number = None
    beta1: Number = None
    beta2: Number = None


class PathsSpec(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "surface": "book",
                    "start": [-7, 2],
                    "steps": 30,
                    "optimizers": [{"name": "sgd", "lr": 0.95}, {"name": "adam", "lr": 0.3}],
                }
            ]
        },
    )
    surface: str | None = Field(default=None, max_length=64, description="a surface of the catalog")
    start: list[Coordinate] | None = Field(default=None, min_length=2, max_length=2, description="[x, y]")
    steps: Steps | None = Field(default=None, description="updates per path")
    optimizers: list[OptimizerItem] | None = Field(default=None, max_length=MAX_PATHS)


def _rounded(values: Any, digits: int = 6) -> list[Any]:
    out: list[Any] = [float(f"{v:.{digits}g}") for v in values.ravel()]
    return out


def _label(optimizer: str, params: dict[str, float]) -> str:
    spec = OPTIMIZERS[optimizer]
    defaults = spec.defaults()
    changed = [f"{k} {v:g}" for k, v in params.items() if k != "lr" and v != defaults[k]]
    shown = [f"lr {params['lr']:g}", *changed]
    return f"{spec.label} ({', '.join(shown)})"


def _path_dict(path: Path, f_min: float) -> dict[str, Any]:
    return {
        "optimizer": path.optimizer,
        "label": _label(path.optimizer, path.params),
        "params": path.params,
        "x": path.x.tolist(),
        "y": path.y.tolist(),
        "f": path.values.tolist(),
        "gap": (path.values - f_min).clip(min=0.0).tolist(),  # f - f_min: how far from the best value
        # the step whose result left the finite numbers (or |x|, |y| > 1e6); the points stop before it
        "diverged_at": path.diverged_at,
    }


def paths_document(config: PathsConfig) -> dict[str, Any]:
    surface = SURFACES[config.surface]
    window = plot_window(surface, config.start)
    x, y, z = contour_grid(surface, window)
    return {
        "share": paths_codec.encode(config),
        "config": paths_codec.as_json(config),
        "surface": {
            "name": surface.name,
            "label": surface.label,
            "formula": surface.formula,
            "note": surface.note,
            "minima": [list(m) for m in surface.minima],
            "f_min": surface.f_min,
            "window": list(window),
            # what the page opens this surface with (a link without start=, steps= or opt= means
            # the surface's start, 30 steps and the book's four at the book's rates instead)
            "defaults": paths_codec.defaults_json(surface),
        },
        "contour": {
            "x": _rounded(x),
            "y": _rounded(y),
            "z": [_rounded(row, 4) for row in z],
            "of": "log10(1 + f − f_min)" if surface.log_levels else "f",
        },
        "paths": [_path_dict(p, surface.f_min) for p in compute_paths(config)],
        "suggested_lr": dict(surface.defaults.lr),  # this surface's, for an optimizer added to it
    }


def _answer(config: PathsConfig) -> Response:
    return Response(to_json(paths_document(config)), media_type="application/json")


@router.get(
    "/optimizer-paths",
    response_model=None,
    responses=ERRORS,
    summary="Optimizer paths on a 2-D surface, given as the optimizers page's share query",
    description=f"E.g. `?{BOOK_QUERY}` (the book's comparison: start (-7, 2), 30 steps on "
    "x²/20 + y²). Keys: `surface`, `start=x,y`, `steps`, and `opt=name,key:value,...` once per path. "
    "Left out, they mean the book's bowl, the surface's `start`, 30 steps and the book's four optimizers "
    "at the book's rates, on any surface; the rates that suit each surface are its `defaults` in the "
    "catalog and in every answer (`surface.defaults.share` is their query).",
    openapi_extra={
        "parameters": [
            {"name": "surface", "in": "query", "schema": {"type": "string", "enum": list(SURFACES)}},
            {"name": "start", "in": "query", "schema": {"type": "string"}, "example": "-7,2"},
            {"name": "steps", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
            {
                "name": "opt",
                "in": "query",
                "style": "form",
                "explode": True,
                "schema": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_PATHS},
                "example": ["sgd,lr:0.95", "adam,lr:0.3"],
            },
        ]
    },
)
def paths_get(request: Request) -> Response:
    try:
        config = paths_codec.decode(request.url.query)
    except ConfigError as err:
        return config_error_response(err, "query")
    return _answer(config)


@router.post(
    "/optimizer-paths",
    response_model=None,
    responses={400: {"description": "The body could not be read as JSON text."}, **ERRORS},
    summary="Optimizer paths on a 2-D surface, given as JSON",
)
def paths_post(spec: Annotated[PathsSpec, Body()]) -> Response:
    try:
        config = paths_codec.from_json(spec.model_dump(exclude_none=True))
    except ConfigError as err:
        return config_error_response(err, "body")
    return _answer(config)


@router.api_route(
    "/optimizer-paths", methods=["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"], include_in_schema=False
)
def paths_other_methods() -> Response:
    # Starlette's 405 would list only the first matching route's method; name both.
    return Response(status_code=405, headers={"Allow": "GET, POST"})


# ---- GET /api/v1/unit-paths: one unit's two weights, on all-positive and on centred inputs --------

ZIGZAG_LABELS = {
    "positive": "all-positive inputs (a sigmoid layer's outputs)",
    "centred": "the same inputs, zero-centred",
}


def _unit_path_dict(path: UnitPath) -> dict[str, Any]:
    return {
        "inputs": path.inputs,
        "label": ZIGZAG_LABELS[path.inputs],
        "w0": path.w[:, 0].tolist(),
        "w1": path.w[:, 1].tolist(),
        "same_sign": path.same_sign,  # the fraction of steps whose two components share a sign
        "length": path.length,
        "straight": path.straight,
        "detour": path.detour,  # length / straight
        "arrived": path.arrived,  # the first step within `near` of the target, or null
    }


def zigzag_document(config: ZigzagConfig) -> dict[str, Any]:
    return {
        "share": paths_codec.encode_zigzag(config),
        "config": {"steps": config.steps, "lr": config.lr, "seed": config.seed},
        "start": list(ZIGZAG_START),
        "target": list(ZIGZAG_TARGET),
        "near": ZIGZAG_NEAR,
        "paths": [_unit_path_dict(p) for p in unit_paths(config)],
    }


@router.get(
    "/unit-paths",
    response_model=None,
    responses=ERRORS,
    summary="One sigmoid unit's two weights trained a sample at a time, on positive and on centred inputs",
    description="The zig-zag of notes 001: the unit learns w* = (2, -2) from (0, 0) by SGD on one "
    "sample a step; on all-positive inputs every step's two components share a sign. Keys: `steps` "
    "(1 to 5000, default 300), `lr` (default 5), `seed` (the inputs and their order, default 0). Each "
    "path gives its weights after every step, the fraction of steps whose components share a sign, "
    "its length against the straight line (`detour`) and the step it comes within `near` of the target.",
)
def unit_paths_get(request: Request) -> Response:
    try:
        config = paths_codec.decode_zigzag(request.url.query)
    except ConfigError as err:
        return config_error_response(err, "query")
    return Response(to_json(zigzag_document(config)), media_type="application/json")
