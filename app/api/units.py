"""GET /api/v1/units: one layer of every run, unit by unit (the symmetry claim's view)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from .. import codec
from ..engine.measure.unit_profile import MATRIX_SAMPLES, MATRIX_UNITS, check_layer
from ..engine.network.cost import check_limits, experiment_cost
from ..engine.params import ConfigError
from .errors import config_error_response, overloaded_response
from .runner import OverloadedError, Work
from .shared import ERRORS, RunnerDep, SettingsDep, share_query_parameters
from .simulate import served
from .units_payload import units_answer

router = APIRouter(prefix="/api/v1", tags=["units"])

LAYER_KEY = "layer"
LAYER_DIGITS = 9  # more digits than any depth has: refused as out of range, never parsed as huge

LAYER_PARAMETER: dict[str, Any] = {
    "name": LAYER_KEY,
    "in": "query",
    "description": "the hidden layer to profile, 1-based (1 to the experiment's depth; default 1)",
    "schema": {"type": "integer", "minimum": 1, "default": 1},
}


class UnitMatrix(BaseModel):
    units: int = Field(description=f"rows: the layer's first units (at most {MATRIX_UNITS})")
    samples: int = Field(description=f"columns: the first input samples (at most {MATRIX_SAMPLES})")
    values: list[list[float | None]] = Field(
        description="values[u][s]: unit u's activation for sample s (null where it is NaN or infinite)"
    )


class UnitProfileSummary(BaseModel):
    layer: int = Field(description="1-based hidden layer")
    activation: str
    units: int
    samples: int
    mean: list[float | None] = Field(description="per unit: its mean activation across the samples")
    std: list[float | None] = Field(description="per unit: its std across the samples")
    between: float | None = Field(
        description="std over the units of their means: 0 when every unit has the same mean"
    )
    within: float | None = Field(description="mean over the units of their stds across the samples")
    dead_units: int = Field(description="units whose activation is 0 for every sample")
    distinct_units: int | None = Field(
        description="how many different functions the units compute (1 = all identical); null if NaN/inf"
    )
    matrix: UnitMatrix


class RunUnitsSummary(BaseModel):
    label: str
    depth: int = Field(description="the run's hidden layers")
    profile: UnitProfileSummary | None = Field(description="null when the run has fewer layers than asked")


class UnitsResponse(BaseModel):
    share: str = Field(description="canonical share query of the experiment (without layer)")
    layer: int
    depth: int = Field(description="the experiment's depth: its deepest run's layers")
    matrix_limits: dict[str, int] = Field(description="the most units and samples a matrix holds")
    runs: list[RunUnitsSummary]


def split_layer(query: str) -> tuple[str, int]:
    """The share query without its `layer=` item, and that layer (1 when absent). Raises
    ConfigError naming `layer` when it is given twice or is not a whole number."""
    kept, given = [], []
    for piece in query.lstrip("?").split("&"):
        key, _, raw = piece.partition("=")
        if unquote_plus(key) == LAYER_KEY:
            given.append(unquote_plus(raw))
        else:
            kept.append(piece)
    if len(given) > 1:
        raise ConfigError(LAYER_KEY, "is given twice")
    text = given[0] if given else "1"
    if not (text.isascii() and text.isdigit() and len(text) <= LAYER_DIGITS):
        raise ConfigError(LAYER_KEY, f"must be a whole number from 1 to the experiment's depth, got {text!r}")
    return "&".join(kept), int(text)


@router.get(
    "/units",
    response_model=None,
    responses={200: {"model": UnitsResponse}, **ERRORS},
    summary="One layer of every run, unit by unit",
    description="Takes the dashboard's share query plus `layer` (1-based, default 1), e.g. "
    "`?bias=zeros&run=tanh,zeros&run=tanh,constant&layer=2`. Per run: each unit's mean and std "
    "across the input samples, their spread between units (0 when every unit has the same mean) "
    "and within a unit, dead and distinct units, and the activations of the first "
    f"{MATRIX_UNITS} units for the first {MATRIX_SAMPLES} samples. The experiment is bounded by the "
    "same limits as /simulate, before any work.",
    openapi_extra={"parameters": [LAYER_PARAMETER, *share_query_parameters()]},
)
async def units(request: Request, settings: SettingsDep, runner: RunnerDep) -> Response:
    try:
        query, layer = split_layer(request.url.query)
        config = codec.to_experiment(codec.decode(query))
        check_layer(config, layer)
        check_limits(config, settings.limits)  # as /simulate: the same link is refused alike
        # Forward only, up to the layer: the forward pass of the whole network bounds its work.
        macs = experiment_cost(replace(config, gradients=False)).macs
        work = Work(f"units/{layer}", partial(units_answer, layer=layer))
        # No alias: this query without layer= is also a /simulate link, whose answer differs.
        answer, cached = await runner.answer(config, macs, None, work)
    except ConfigError as err:
        return config_error_response(err, "query")
    except OverloadedError as err:
        return overloaded_response(err)
    return served(answer, cached, request)
