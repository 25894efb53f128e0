"""GET /api/v1/diagnostics: the correlation map and the Jacobian spectrum of a share link's runs."""

from __future__ import annotations

from dataclasses import asdict, replace
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from .. import codec
from ..claims.diagnostics import DiagnosticsClaim
from ..diagnostics_codec import options_query, split_options
from ..diagnostics_presets import DIAGNOSTICS_PRESETS, expand_preset
from ..engine.measure.jacobian import EXACT_MAX, RANDOM_DIRECTIONS
from ..engine.network.cost import check_limits
from ..engine.network.diagnostics import (
    DEFAULT_C0,
    DEFAULT_JACOBIAN,
    DEFAULT_PAIRS,
    MAX_C0,
    MAX_JACOBIAN,
    MAX_PAIRS,
    MAX_SEEDS,
    SPECTRUM_LAYERS,
    check_diagnostics_limits,
)
from ..engine.params import ConfigError
from ..engine.training.coord_check import CoordConfig
from .diagnostics_payload import diagnostics_answer
from .errors import config_error_response, overloaded_response
from .runner import OverloadedError, Work
from .shared import ERRORS, RunnerDep, SettingsDep, share_query_parameters
from .simulate import served

router = APIRouter(prefix="/api/v1", tags=["diagnostics"])

DESCRIPTION = f"""Takes the dashboard's share query plus `c0`, `pairs`, `seeds` and `jacobian`, e.g.
`?bias=normal&bias_std=0.3&run=tanh,xavier,gain:1.3&run=tanh,xavier,gain:4&c0=0.1,0.5,0.9&seeds=4`.

**Seed ensembles**: `seeds=N` repeats each run over N weight draws (seeds seed, seed + 1, ...) with
the inputs fixed (the pairs and the Jacobian's samples are the link's); each measured value is then
the mean over the draws, with `low` and `high` the lowest and highest draw's (the band), and each
spectrum pools every draw's singular values. Without `seeds` (or with 1), the answer is one draw's.

**Correlation map** (Poole et al. 2016): for each starting correlation c0, `pairs` pairs of inputs
with exactly that correlation (and the run's E[x^2] per feature) go through each run's network (the
very network /simulate shows: same seed, same weights); per layer, the mean correlation of their
pre-activations q12 / sqrt(q11 q22) and its sd across the pairs, beside the mean-field C-map's
prediction, and the C-map's fixed point at q*: c*, chi1 = C'(1), C'(c*) and the depth scales
xi_q and xi_c (Schoenholz et al. 2017). Ordered networks (chi1 < 1) send every pair to c = 1.

**Jacobian spectrum** (Pennington et al. 2017): at the run's first `jacobian` input samples, the
input-output Jacobian da_l/dx of every layer, built in forward mode in float64: its mean squared
singular value per layer beside the mean-field prod chi_l (scaled by N_l / min(N0, N_l)), and at up
to {SPECTRUM_LAYERS} evenly spaced layers the singular values' histogram (of log10 sigma), min, max,
spread (max / min) and the variance of sigma^2. Exact SVD when the input and every layer are at most
{EXACT_MAX} wide; beyond, J restricted to {RANDOM_DIRECTIONS} random orthonormal input directions
(`method: random_subspace`): its singular values lie within J's (interlacing) and its mean square
is an unbiased estimate of J's.

The share query is bounded by the same limits as /simulate, and the diagnostics' own work
(multiply-adds of the pairs, the Jacobian's carry and SVDs; their memory) by the same budgets,
before any work."""

PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "c0",
        "in": "query",
        "description": f"starting correlations of the input pairs, comma-separated, 1 to {MAX_C0} "
        f"numbers from -1 to 1 (default {','.join(codec.format_number(c) for c in DEFAULT_C0)})",
        "schema": {"type": "string", "example": "0.1,0.5,0.9"},
    },
    {
        "name": "pairs",
        "in": "query",
        "description": f"independent pairs per c0, 1 to {MAX_PAIRS} (default {DEFAULT_PAIRS})",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAIRS, "default": DEFAULT_PAIRS},
    },
    {
        "name": "seeds",
        "in": "query",
        "description": f"weight draws, 1 to {MAX_SEEDS} (default 1): seed, seed + 1, ...; the inputs, pairs "
        "and Jacobian samples stay the link's. With more than one, measured values are the mean over the "
        "draws and `low`/`high` give the lowest and highest draw's; spectra pool every draw's singular "
        "values",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SEEDS, "default": 1},
    },
    {
        "name": "jacobian",
        "in": "query",
        "description": f"input samples at which the Jacobian is taken, 0 (none) to {MAX_JACOBIAN} "
        f"(default {DEFAULT_JACOBIAN})",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_JACOBIAN, "default": DEFAULT_JACOBIAN},
    },
]


class FixedPointModel(BaseModel):
    q_star: float | None = Field(description="fixed point of the hidden layers' variance map")
    c_star: float | None = Field(description="the C-map's stable correlation (1 when chi1 <= 1)")
    chi1: float | None = Field(description="C'(1) = sigma_w^2 E[f'(z)^2] at q*")
    slope_c_star: float | None = Field(description="C'(c*)")
    xi_q: float | None = Field(description="depth scale of q; null where infinite or undefined")
    xi_c: float | None = Field(description="depth scale of c; null where infinite (criticality)")


class CorrelationLayerModel(BaseModel):
    layer: int
    measured: list[float | None] = Field(description="per c0: mean correlation of z over the pairs")
    sd: list[float | None] = Field(description="per c0: its sd across the pairs")
    predicted: list[float | None] = Field(description="per c0: the C-map's prediction (null: none)")
    low: list[float | None] | None = Field(None, description="seeds > 1 only: per c0, the lowest draw's mean")
    high: list[float | None] | None = Field(
        None, description="seeds > 1 only: per c0, the highest draw's mean"
    )


class CorrelationModel(BaseModel):
    c0: list[float]
    layers: list[CorrelationLayerModel]
    q: list[float | None] = Field(description="predicted variance of z per layer")
    fixed_point: FixedPointModel
    note: str


class SpectrumModel(BaseModel):
    min: float = Field(description="smallest singular value above the numerical-rank threshold")
    max: float
    spread: float | None = Field(description="max / min")
    var_sq: float | None = Field(description="variance of the squared singular values")
    zeros: int = Field(description="singular values at or below max * max(m, n) * eps")
    count: int = Field(description="singular values pooled over the samples")
    log10_edges: list[float] = Field(description="histogram edges of log10 sigma")
    counts: list[int]


class JacobianLayerModel(BaseModel):
    layer: int
    mean_sq: float | None = Field(description="mean squared singular value of da_l/dx")
    predicted_mean_sq: float | None = Field(description="mean field: N_l prod chi / min(N0, N_l)")
    spectrum: SpectrumModel | None = Field(description=f"at up to {SPECTRUM_LAYERS} layers, else null")
    low: float | None = Field(None, description="seeds > 1 only: the lowest draw's mean_sq")
    high: float | None = Field(None, description="seeds > 1 only: the highest draw's mean_sq")


class JacobianModel(BaseModel):
    method: str = Field(description="exact or random_subspace")
    directions: int = Field(description="input directions J is carried on (N0 when exact)")
    samples: int
    layers: list[JacobianLayerModel]


class RunDiagnosticsModel(BaseModel):
    label: str
    depth: int
    correlation: CorrelationModel
    jacobian: JacobianModel | None = Field(description="null when jacobian=0")


class DiagnosticsOptionsModel(BaseModel):
    c0: list[float]
    pairs: int
    jacobian: int
    seeds: int | None = Field(None, description="present when more than 1")


class DiagnosticsResponse(BaseModel):
    share: str = Field(description="canonical share query of the experiment (without the diagnostics' keys)")
    query: str = Field(
        description="canonical query of this answer: the share query and the non-default options"
    )
    options: DiagnosticsOptionsModel
    runs: list[RunDiagnosticsModel]


@router.get(
    "/diagnostics",
    response_model=None,
    responses={200: {"model": DiagnosticsResponse}, **ERRORS},
    summary="Correlation map and Jacobian spectrum of every run",
    description=DESCRIPTION,
    openapi_extra={"parameters": [*PARAMETERS, *share_query_parameters()]},
)
async def diagnostics(request: Request, settings: SettingsDep, runner: RunnerDep) -> Response:
    try:
        query, options = split_options(expand_preset(request.url.query))
        config = codec.to_experiment(codec.decode(query))
        # /simulate's limits on the runs' size; its forward pass only (no backward pass is run here)
        check_limits(replace(config, gradients=False), settings.limits)
        cost = check_diagnostics_limits(config, options, settings.limits)
        work = Work(f"diagnostics/{options_query(options)}", partial(diagnostics_answer, options=options))
        answer, cached = await runner.answer(config, cost.macs, None, work)
    except ConfigError as err:
        return config_error_response(err, "query")
    except OverloadedError as err:
        return overloaded_response(err)
    return served(answer, cached, request)


def _claim(claim: DiagnosticsClaim) -> dict[str, Any]:
    return {
        "text": claim.text,
        "source": claim.source,
        "view": {"page": "diagnostics", "section": claim.view.section},
        "look_at": claim.look_at,
        "verdict": claim.verdict,
        "reason": claim.reason,
    }


def diagnostics_catalog() -> dict[str, Any]:
    """The diagnostics' keys, methods and presets, for the catalog and forms."""
    return {
        "endpoint": "/api/v1/diagnostics",
        "page": "/diagnostics",
        "keys": [
            {
                "name": "c0",
                "kind": "floats",
                "default": list(DEFAULT_C0),
                "low": -1.0,
                "high": 1.0,
                "most": MAX_C0,
            },
            {"name": "pairs", "kind": "int", "default": DEFAULT_PAIRS, "low": 1, "high": MAX_PAIRS},
            {"name": "jacobian", "kind": "int", "default": DEFAULT_JACOBIAN, "low": 0, "high": MAX_JACOBIAN},
            {"name": "seeds", "kind": "int", "default": 1, "low": 1, "high": MAX_SEEDS},
        ],
        "jacobian": {
            "exact_max_width": EXACT_MAX,
            "random_directions": RANDOM_DIRECTIONS,
            "spectrum_layers": SPECTRUM_LAYERS,
        },
        # width scaling: GET /api/v1/coord-check (app/api/diagnostics_coord.py), its defaults
        "coord_check": {"endpoint": "/api/v1/coord-check", "defaults": asdict(CoordConfig())},
        "presets": [
            {"name": p.name, "title": p.title, "query": p.query, "claim": _claim(p.claim)}
            for p in DIAGNOSTICS_PRESETS.values()
        ],
    }


@router.get(
    "/diagnostics/presets",
    summary="The diagnostics presets, each with its /diagnostics query and claim",
)
async def diagnostics_presets() -> list[dict[str, Any]]:
    return list(diagnostics_catalog()["presets"])
