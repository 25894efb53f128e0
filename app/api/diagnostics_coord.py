"""GET /api/v1/coord-check: the muP coordinate check (width scaling) of an MLP, SP beside muP."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response

from .. import codec
from ..engine.network.cost import BudgetError
from ..engine.params import ConfigError
from ..engine.training.coord_check import (
    MAX_COORD_DEPTH,
    MAX_STEPS,
    MAX_WIDTHS,
    OPTIMIZERS,
    CoordConfig,
    CoordResult,
    coord_check,
    coord_cost,
    coord_memory,
    make_coord_config,
    width_ratio,
)
from .errors import config_error_response
from .shared import SettingsDep

router = APIRouter(prefix="/api/v1", tags=["diagnostics"])
CACHE_ENTRIES = 32  # answers kept (a few kB each)
_cache: OrderedDict[str, bytes] = OrderedDict()
_one_at_a_time = threading.Lock()  # a check is seconds of NumPy: one runs, others wait their turn


def _answer(config: CoordConfig) -> bytes:
    """The check's JSON, computed once per canonical query (in a worker thread, one at a time)."""
    key = coord_query(config)
    with _one_at_a_time:
        body = _cache.get(key)
        if body is None:
            body = orjson.dumps(coord_dict(coord_check(config)))
            _cache[key] = body
            while len(_cache) > CACHE_ENTRIES:
                _cache.popitem(last=False)
        _cache.move_to_end(key)
        return body


DESCRIPTION = """An MLP (32 inputs, `depth` hidden layers of each width, 10 outputs) trained `steps`
steps on one fixed batch of 64 (MSE to random targets) under the standard parametrization (`sp`) and
under muP as the mup package defines it (`mup`: read-out / m; with Adam, matrix-like weights' lr / m;
m = width / the narrowest). Per step (0 = initialization), per layer and per width, the mean
|activation|, and the ratio widest / narrowest (1: width-stable). The work (multiply-adds) and memory
are bounded by the server's limits before it starts; one check runs at a time."""


def coord_query(config: CoordConfig) -> str:
    """The canonical query of a check: every field, in order."""
    widths = ",".join(str(w) for w in config.widths)
    return (
        f"widths={widths}&depth={config.depth}&activation={config.activation}&optimizer={config.optimizer}"
        f"&lr={codec.format_number(config.lr)}&steps={config.steps}&seed={config.seed}"
    )


def coord_dict(result: CoordResult) -> dict[str, Any]:
    c = result.config
    return {
        "query": coord_query(c),
        "widths": list(c.widths),
        "depth": c.depth,
        "activation": c.activation,
        "optimizer": c.optimizer,
        "lr": c.lr,
        "steps": list(range(c.steps + 1)),
        "layers": list(result.layers),
        "curves": [
            {
                "parametrization": curve.parametrization,
                "values": curve.values,
                "ratios": [
                    [width_ratio(curve, s, layer) for layer in range(len(result.layers))]
                    for s in range(c.steps + 1)
                ],
            }
            for curve in result.curves
        ],
    }


def _widths(text: str | None) -> list[int] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > MAX_WIDTHS or not all(p.isascii() and p.isdigit() and len(p) <= 6 for p in parts):
        raise ConfigError("widths", f"must be 2 to {MAX_WIDTHS} whole numbers, comma-separated")
    return [int(p) for p in parts]


@router.get(
    "/coord-check",
    summary="The muP coordinate check: mean |activation| per layer against width, SP and muP",
    description=DESCRIPTION,
    responses={422: {"description": "A field out of range, or the check over a budget; `detail` names it."}},
)
async def get_coord_check(
    settings: SettingsDep,
    widths: Annotated[str | None, Query(description="increasing widths, e.g. 128,256,512,1024,2048")] = None,
    depth: Annotated[
        int | None, Query(ge=2, le=MAX_COORD_DEPTH, description="hidden layers (default 3)")
    ] = None,
    activation: Annotated[str | None, Query(description="an elementwise activation (default relu)")] = None,
    optimizer: Annotated[
        str | None, Query(description=f"one of {', '.join(OPTIMIZERS)} (default adam)")
    ] = None,
    lr: Annotated[float | None, Query(gt=0, le=1, allow_inf_nan=False, description="default 0.001")] = None,
    steps: Annotated[int | None, Query(ge=1, le=MAX_STEPS, description="training steps (default 3)")] = None,
    seed: Annotated[int | None, Query(ge=0, le=2**32 - 1)] = None,
) -> Response:
    limits = settings.limits
    try:
        config = make_coord_config(
            _widths(widths), depth, activation, optimizer, lr, steps, seed, max_width=limits.max_width
        )
        for value, limit, name, what in (
            (coord_cost(config), limits.max_macs, "max_macs", "multiply-adds"),
            (coord_memory(config), limits.max_memory_bytes, "max_memory_bytes", "bytes of memory"),
        ):
            if value > limit:
                raise BudgetError(
                    "widths",
                    f"the check needs {value:,} {what}, over the budget of {limit:,}; use narrower widths, "
                    "fewer layers or steps",
                    name,
                )
    except ConfigError as err:
        return config_error_response(err, "query")
    cached = coord_query(config) in _cache
    body = await asyncio.to_thread(_answer, config)
    return Response(body, media_type="application/json", headers={"X-Cache": "hit" if cached else "miss"})
