"""Error answers: every bad input is a 422 naming the field and what it accepts.

The body keeps FastAPI's shape ({"detail": [{"loc", "msg", "type"}]}) so clients handle
validation errors from Pydantic and from the engine alike.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.responses import JSONResponse

from ..engine.cost import BudgetError
from ..engine.params import ConfigError
from ..settings import env_name
from .runner import OverloadedError

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def field_loc(field: str) -> list[str | int]:
    """'runs[1].std' -> ['runs', 1, 'std']."""
    return [int(index) if index else name for name, index in _PATH_PART.findall(field)]


def config_error_response(err: ConfigError, source: str) -> JSONResponse:
    detail: dict[str, Any] = {
        "loc": [source, *field_loc(err.field)],
        "msg": f"{err.field}: {err.message}",
        "type": "value_error",
    }
    if isinstance(err, BudgetError):
        detail["type"] = "budget_exceeded"
        detail["limit"] = err.limit
        detail["setting"] = env_name(err.limit)
        detail["msg"] += f" (server setting {env_name(err.limit)})"
    return JSONResponse({"detail": [detail]}, status_code=422)


def overloaded_response(err: OverloadedError) -> JSONResponse:
    detail = {"loc": [], "msg": str(err), "type": "overloaded", "retry_after": err.retry_after}
    return JSONResponse({"detail": [detail]}, status_code=503, headers={"Retry-After": str(err.retry_after)})
