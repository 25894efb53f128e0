"""Optimizer-path comparison <-> share-link query string and JSON body, both ways.

The optimizers page's address bar and `GET /api/v1/optimizer-paths` read the same query:

    surface=rosenbrock&start=-1,2&steps=50&opt=sgd,lr:0.001&opt=adam,lr:0.05,beta1:0.8

`surface`, `start` (x,y) and `steps` are left out when they are the defaults (the book's bowl, the
surface's own start, 30 steps); each `opt=` is one path: the optimizer's name, then `key:value`
items for the parameters that differ from that optimizer's defaults. Without any `opt=`, the
book's four optimizers run at the book's rates. The canonical query always lists its optimizers, so
a link says what it shows; equal comparisons give equal strings and decode(encode(x)) == x.

These link defaults never change, whatever a surface's `defaults` (the start, steps and rates the
page opens it with): an old link keeps its meaning, and a comparison at a surface's defaults spells
them out, e.g. `surface=rosenbrock&start=-1.2,1&steps=1000&opt=sgd,lr:0.0019&...`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote_plus

from .codec import format_number
from .engine.optimizers import OPTIMIZERS
from .engine.params import ConfigError
from .engine.paths.surfaces import (
    DEFAULT_SURFACE,
    STEPS,
    SURFACES,
    ZIGZAG_LR,
    ZIGZAG_SEED,
    ZIGZAG_STEPS,
    PathsConfig,
    Surface,
    ZigzagConfig,
    default_config,
    make_paths_config,
    make_zigzag_config,
)

KEYS = ("surface", "start", "steps", "opt")
MAX_QUERY_LENGTH = 4096
MAX_OPT_ITEMS = 16


def _number(field: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(field, f"must be a number, got {text!r}") from None


def _decode_opt(text: str, index: int) -> tuple[str, dict[str, float]]:
    name, *items = text.split(",")
    if len(items) > MAX_OPT_ITEMS:
        raise ConfigError(f"opt[{index}]", f"has more than {MAX_OPT_ITEMS} items")
    params: dict[str, float] = {}
    for item in items:
        key, colon, value = item.partition(":")
        field = f"opt[{index}].{key}"
        if not colon:
            raise ConfigError(f"opt[{index}]", f"{item!r}: after the optimizer's name, items are key:value")
        if key in params:
            raise ConfigError(field, "is given twice")
        params[key] = _number(field, value)
    return name, params


def decode(query: str) -> PathsConfig:
    """The checked comparison a share query describes (with or without the leading '?')."""
    if len(query) > MAX_QUERY_LENGTH:
        raise ConfigError("query", f"is {len(query)} characters, over the limit of {MAX_QUERY_LENGTH}")
    values: dict[str, str] = {}
    runs: list[tuple[str, Mapping[str, object]]] = []
    for piece in query.lstrip("?").split("&"):
        if not piece:
            continue
        raw_key, _, raw = piece.partition("=")
        key, text = unquote_plus(raw_key), unquote_plus(raw)
        if key not in KEYS:
            raise ConfigError(key, f"unknown setting; settings are {', '.join(KEYS)}")
        if key == "opt":
            if len(runs) >= 64:  # a structural cap; make_paths_config names the real limit
                raise ConfigError("opt", "too many optimizers")
            runs.append(_decode_opt(text, len(runs)))
        elif key in values:
            raise ConfigError(key, "is given twice")
        else:
            values[key] = text
    start = None
    if "start" in values:
        parts = values["start"].split(",")
        if len(parts) != 2:
            raise ConfigError("start", f"must be two numbers 'x,y', got {values['start']!r}")
        start = (_number("start", parts[0]), _number("start", parts[1]))
    steps = _number("steps", values["steps"]) if "steps" in values else None
    return make_paths_config(values.get("surface"), start, steps, runs or None)


def _changed_params(name: str, params: Mapping[str, float]) -> dict[str, float]:
    defaults = OPTIMIZERS[name].defaults()
    return {k: v for k, v in params.items() if v != defaults[k]}


def encode(config: PathsConfig) -> str:
    """The canonical share query (no leading '?')."""
    parts = []
    if config.surface != DEFAULT_SURFACE:
        parts.append(f"surface={config.surface}")
    if config.start != SURFACES[config.surface].start:
        parts.append(f"start={format_number(config.start[0])},{format_number(config.start[1])}")
    if config.steps != STEPS.default:
        parts.append(f"steps={config.steps}")
    for run in config.runs:
        items = [run.optimizer]
        items += [f"{k}:{format_number(v)}" for k, v in _changed_params(run.optimizer, run.params).items()]
        parts.append("opt=" + quote(",".join(items), safe="-._~,:"))
    return "&".join(parts)


def as_json(config: PathsConfig) -> dict[str, Any]:
    """The JSON body form (POST /api/v1/optimizer-paths), every value spelled out."""
    return {
        "surface": config.surface,
        "start": list(config.start),
        "steps": config.steps,
        "optimizers": [{"name": run.optimizer, **run.params} for run in config.runs],
    }


def from_json(body: Mapping[str, Any]) -> PathsConfig:
    """The checked comparison of a JSON body (missing keys take their defaults)."""
    start = body.get("start")
    optimizers = body.get("optimizers")
    runs: list[tuple[str, Mapping[str, object]]] | None = None
    if optimizers is not None:
        runs = [(o["name"], {k: v for k, v in o.items() if k != "name"}) for o in optimizers]
    try:
        return make_paths_config(
            body.get("surface"), None if start is None else (start[0], start[1]), body.get("steps"), runs
        )
    except ConfigError as err:
        if err.field.startswith("opt"):  # the body's key is `optimizers`, the link's `opt`
            raise ConfigError("optimizers" + err.field.removeprefix("opt"), err.message) from None
        raise


def defaults_json(surface: Surface) -> dict[str, Any]:
    """A surface's defaults as the catalog and the paths API give them: start, steps, a learning rate
    per optimizer, why, and the share query of the book's four optimizers at them."""
    d = surface.defaults
    return {
        "start": list(d.start),
        "steps": d.steps,
        "lr": dict(d.lr),
        "note": d.note,
        "share": encode(default_config(surface.name)),
    }


# ---- The zig-zag view's link: steps, lr, seed (GET /api/v1/unit-paths) ----------------------------

ZIGZAG_KEYS = ("steps", "lr", "seed")


def decode_zigzag(query: str) -> ZigzagConfig:
    """The checked unit-paths configuration of a query; keys left out are the defaults."""
    if len(query) > MAX_QUERY_LENGTH:
        raise ConfigError("query", f"is {len(query)} characters, over the limit of {MAX_QUERY_LENGTH}")
    values: dict[str, str] = {}
    for piece in query.lstrip("?").split("&"):
        if not piece:
            continue
        raw_key, _, raw = piece.partition("=")
        key, text = unquote_plus(raw_key), unquote_plus(raw)
        if key not in ZIGZAG_KEYS:
            raise ConfigError(key, f"unknown setting; settings are {', '.join(ZIGZAG_KEYS)}")
        if key in values:
            raise ConfigError(key, "is given twice")
        values[key] = text
    numbers = {key: _number(key, text) for key, text in values.items()}
    return make_zigzag_config(numbers.get("steps"), numbers.get("lr"), numbers.get("seed"))


def encode_zigzag(config: ZigzagConfig) -> str:
    """The canonical query: only what differs from the defaults."""
    parts = []
    if config.steps != ZIGZAG_STEPS.default:
        parts.append(f"steps={config.steps}")
    if config.lr != ZIGZAG_LR.default:
        parts.append(f"lr={format_number(config.lr)}")
    if config.seed != ZIGZAG_SEED.default:
        parts.append(f"seed={config.seed}")
    return "&".join(parts)
