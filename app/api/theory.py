"""GET /api/v1/phase-diagram: where an activation's networks are ordered, critical or chaotic."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from ..engine.correlation_grid import log10_xi, xi_c_diagram
from ..engine.layers.activations import ACTIVATIONS
from ..engine.params import ConfigError, ParamValue, resolve_params
from ..engine.theory import bistable_points, critical_sigma_w, phase_diagram
from .errors import config_error_response

router = APIRouter(prefix="/api/v1", tags=["theory"])
DEFAULT_STEPS = 100  # the grid the dashboard draws
Color = Literal["chi", "xi_c"]


def diagram_body(
    activation: str,
    params: dict[str, ParamValue],
    sigma_w_max: float,
    sigma_b_max: float,
    q0: float = 1.0,
    steps: int = DEFAULT_STEPS,
    color: Color = "chi",
) -> dict[str, Any]:
    """The phase diagram's JSON document: the endpoint's answer, and what the report embeds.
    color="xi_c" adds the grids of c* and log10 xi_c (keys absent otherwise: old answers keep
    their bytes)."""
    sigma_w = np.linspace(sigma_w_max / steps, sigma_w_max, steps)
    sigma_b = np.linspace(0.0, sigma_b_max, steps)
    log_chi, _ = phase_diagram(activation, params, sigma_w, sigma_b, q0)
    body: dict[str, Any] = {
        "activation": activation,
        "params": params,
        "q0": q0,
        "sigma_w": sigma_w.tolist(),
        "sigma_b": sigma_b.tolist(),
        # rows follow sigma_b, columns sigma_w; null where chi is 0 (log of 0)
        "log10_chi": [[round(v, 4) if math.isfinite(v) else None for v in row] for row in log_chi.tolist()],
        "critical_sigma_w": critical_sigma_w(activation, params, sigma_w, sigma_b, log_chi, q0),
        # true where the map has two stable fixed points: there chi depends on q0
        "bistable": bistable_points(activation, params, sigma_w, sigma_b).tolist(),
    }
    if color == "xi_c":
        fixed = xi_c_diagram(activation, tuple(sorted(params.items())), tuple(sigma_w), tuple(sigma_b), q0)
        body["color"] = "xi_c"
        body["c_star"] = [
            [round(v, 6) if math.isfinite(v) else None for v in row] for row in fixed.c_star.tolist()
        ]
        body["log10_xi_c"] = log10_xi(fixed.xi_c)
    return body


@router.get(
    "/phase-diagram",
    summary="log10 chi at the mean-field fixed point over (sigma_w, sigma_b), with the critical line",
    description="Rows follow `sigma_b`, columns `sigma_w`. `log10_chi`: chi = C'(1) = sigma_w^2 E[f'(z)^2] "
    "at the variance map's fixed point q* (null where chi is 0); `critical_sigma_w`: where chi crosses 1 "
    "per row; `bistable`: points with two stable q*. With `color=xi_c` the answer adds `color`, `c_star` "
    "(the C-map's stable correlation: 1 in the ordered phase, below 1 in the chaotic one) and `log10_xi_c` "
    "(the correlation's depth scale xi_c = -1 / log C'(c*) in layers, Schoenholz et al. 2017: "
    "-1 / log chi where ordered; it diverges at the critical line). Null where q* is 0 or infinite, where "
    "xi_c is infinite, and for maxout (no C-map).",
    responses={422: {"description": "An unknown activation or a parameter out of range."}},
)
def get_phase_diagram(
    request: Request,
    activation: Annotated[str, Query(examples=["tanh"], description="an activation from the catalog")],
    alpha: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    pieces: Annotated[int | None, Query()] = None,
    sigma_w_max: Annotated[float, Query(gt=0, le=50, allow_inf_nan=False)] = 4.0,
    sigma_b_max: Annotated[float, Query(gt=0, le=50, allow_inf_nan=False)] = 1.0,
    steps: Annotated[int, Query(ge=2, le=200)] = DEFAULT_STEPS,
    q0: Annotated[
        float,
        Query(
            ge=1e-12,
            le=1e12,
            allow_inf_nan=False,
            description="the variance the map starts from: a run's q_1 (GELU and SiLU have points "
            "with two stable fixed points, where the phase depends on it)",
        ),
    ] = 1.0,
    color: Annotated[
        Color,
        Query(
            description="chi: the grid of log10 chi only (the default); xi_c: also c* and log10 xi_c per "
            "point (a 200 x 200 grid costs about a second the first time an activation's decades of q* "
            "are met)",
        ),
    ] = "chi",
) -> Response:
    if activation not in ACTIVATIONS:
        err = ConfigError("activation", f"unknown activation {activation!r}; one of {', '.join(ACTIVATIONS)}")
        return config_error_response(err, "query")
    try:
        params = resolve_params(ACTIVATIONS[activation].params, {"alpha": alpha, "pieces": pieces})
    except ConfigError as err:
        return config_error_response(err, "query")
    return JSONResponse(diagram_body(activation, params, sigma_w_max, sigma_b_max, q0, steps, color))
