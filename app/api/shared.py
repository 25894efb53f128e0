"""What the experiment endpoints share: settings, the run path, and the share-query's documentation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from app import codec
from app.engine.config import FIELDS
from app.engine.cost import check_limits
from app.engine.experiment import ExperimentResult, run_experiment
from app.settings import Settings, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "A field is invalid or the experiment is over a limit; `detail` names it."}
}


def run_values(values: codec.DecodedQuery, settings: Settings) -> ExperimentResult:
    """Validate, bound, then run: the one path of every experiment endpoint. Raises ConfigError
    (a BudgetError when over a limit) before any work starts."""
    config = codec.to_experiment(values)
    check_limits(config, settings.limits)
    return run_experiment(config)


_RANGE = {"type": "string", "pattern": r"^-?[0-9.]+,-?[0-9.]+$"}


def share_query_parameters() -> list[dict[str, Any]]:
    """OpenAPI parameters of a share query (the handlers read the raw query with the codec)."""
    types = {
        "int": "integer",
        "float": "number",
        "choice": "string",
        "text": "string",
        "widths": "string",
    }
    params: list[dict[str, Any]] = [
        {
            "name": "run",
            "in": "query",
            "required": True,
            "style": "form",
            "explode": True,
            "description": "one column each: 'activation,init', then 'key:value' items "
            "(e.g. relu,he_normal,depth:20)",
            "schema": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "example": ["sigmoid,normal", "sigmoid,xavier", "relu,he_normal"],
        },
        {
            "name": "range",
            "in": "query",
            "description": "activation histogram range 'low,high'",
            "schema": {"type": "string"},
        },
        {
            "name": "z_range",
            "in": "query",
            "description": "z histogram range 'low,high'",
            "schema": {"type": "string"},
        },
        {
            "name": "v",
            "in": "query",
            "description": "share-link format version (1)",
            "schema": {"type": "string"},
        },
        {
            "name": "grad",
            "in": "query",
            "description": "1: also run the backward pass",
            "schema": {"type": "string", "enum": ["0", "1"]},
        },
        {
            "name": "loss",
            "in": "query",
            "description": "backward signal",
            "schema": {"type": "string", "enum": ["normal", "mse"]},
        },
    ]
    for doc in FIELDS.values():
        schema: dict[str, Any] = {"type": types[doc.kind]}
        if doc.choices:
            schema["enum"] = list(doc.choices)
        if doc.kind in ("int", "float"):
            schema.update({k: v for k, v in (("minimum", doc.low), ("maximum", doc.high)) if v is not None})
        if doc.kind == "widths":
            schema["pattern"] = r"^[0-9]+(-[0-9]+)*$"
        params.append({"name": doc.name, "in": "query", "description": f"shared {doc.doc}", "schema": schema})
    return params
