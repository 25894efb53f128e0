"""Error answers: every bad input is a 422 naming the field and what it accepts.

The body keeps FastAPI's shape ({"detail": [{"loc", "msg", "type"}]}) so clients handle
validation errors from Pydantic and from the engine alike. Pydantic's errors go without the
`input` and `ctx` FastAPI would echo: Python's JSON reader takes NaN, Infinity and lone
surrogates, none of which a JSON answer in UTF-8 can hold.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..engine.network.cost import BudgetError
from ..engine.params import ConfigError
from ..settings import env_name
from .runner import OverloadedError

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def field_loc(field: str) -> list[str | int]:
    """'runs[1].std' -> ['runs', 1, 'std']."""
    return [int(index) if index else name for name, index in _PATH_PART.findall(field)]


def config_error_response(err: ConfigError, source: str) -> JSONResponse:
    detail: dict[str, Any] = {
        "loc": [source, *(_text(part) if isinstance(part, str) else part for part in field_loc(err.field))],
        "msg": _text(f"{err.field}: {err.message}"),
        "type": "value_error",
    }
    if isinstance(err, BudgetError):
        detail["type"] = "budget_exceeded"
        detail["limit"] = err.limit
        detail["setting"] = env_name(err.limit)
        detail["msg"] += f" (server setting {env_name(err.limit)})"
    return JSONResponse({"detail": [detail]}, status_code=422)


def detail_body(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    """The API's error document, FastAPI's shape: one detail naming where, what and which kind."""
    return {"detail": [{"loc": loc, "msg": msg, "type": kind}]}


def detail_response(status: int, loc: list[str | int], msg: str, kind: str) -> JSONResponse:
    return JSONResponse(detail_body(loc, msg, kind), status_code=status)


def overloaded_response(err: OverloadedError) -> JSONResponse:
    detail = {"loc": [], "msg": str(err), "type": "overloaded", "retry_after": err.retry_after}
    return JSONResponse({"detail": [detail]}, status_code=503, headers={"Retry-After": str(err.retry_after)})


def _text(value: object) -> str:
    """`value` as text that UTF-8 can encode: a lone surrogate becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", str(value))


async def request_validation_response(request: Request, exc: Exception) -> JSONResponse:
    """The 422 of a request Pydantic refuses (registered for RequestValidationError)."""
    assert isinstance(exc, RequestValidationError)
    detail = [
        {
            "loc": [part if isinstance(part, int) else _text(part) for part in error["loc"]],
            "msg": _text(error["msg"]),
            "type": error["type"],
        }
        for error in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def handle_validation_errors(app: FastAPI) -> None:
    """Answer Pydantic's refusals with `request_validation_response` instead of FastAPI's own."""
    app.add_exception_handler(RequestValidationError, request_validation_response)
