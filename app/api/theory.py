"""GET /api/v1/phase-diagram: where an activation's networks are ordered, critical or chaotic."""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from ..engine.layers.activations import ACTIVATIONS
from ..engine.params import ConfigError, ParamValue, resolve_params
from ..engine.theory import bistable_points, critical_sigma_w, phase_diagram
from .errors import config_error_response

router = APIRouter(prefix="/api/v1", tags=["theory"])
DEFAULT_STEPS = 100  # the grid the dashboard draws


def diagram_body(
    activation: str,
    params: dict[str, ParamValue],
    sigma_w_max: float,
    sigma_b_max: float,
    q0: float = 1.0,
    steps: int = DEFAULT_STEPS,
) -> dict[str, Any]:
    """The phase diagram's JSON document: the endpoint's answer, and what the report embeds."""
    sigma_w = np.linspace(sigma_w_max / steps, sigma_w_max, steps)
    sigma_b = np.linspace(0.0, sigma_b_max, steps)
    log_chi, _ = phase_diagram(activation, params, sigma_w, sigma_b, q0)
    return {
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


@router.get(
    "/phase-diagram",
    summary="log10 chi at the mean-field fixed point over (sigma_w, sigma_b), with the critical line",
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
) -> Response:
    if activation not in ACTIVATIONS:
        err = ConfigError("activation", f"unknown activation {activation!r}; one of {', '.join(ACTIVATIONS)}")
        return config_error_response(err, "query")
    try:
        params = resolve_params(ACTIVATIONS[activation].params, {"alpha": alpha, "pieces": pieces})
    except ConfigError as err:
        return config_error_response(err, "query")
    return JSONResponse(diagram_body(activation, params, sigma_w_max, sigma_b_max, q0, steps))
