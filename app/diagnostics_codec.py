"""The diagnostics' link keys beside a share query: c0, pairs, jacobian and seeds, both ways.

`?<share query>&c0=0.1,0.5,0.9&pairs=16&jacobian=2` reads as the share link's experiment and the
diagnostics' options; canonical text leaves out defaults and lists c0 as the shortest numbers.
"""

from __future__ import annotations

import math
from urllib.parse import unquote_plus

from . import codec
from .engine.network.diagnostics import (
    DEFAULT_C0,
    DEFAULT_JACOBIAN,
    DEFAULT_PAIRS,
    MAX_C0,
    MAX_JACOBIAN,
    MAX_PAIRS,
    MAX_SEEDS,
    DiagnosticsOptions,
    make_options,
)
from .engine.params import ConfigError

KEYS = ("c0", "pairs", "jacobian", "seeds")
MAX_DIGITS = 6  # a count longer than this is refused as out of range, never parsed as huge


def options_query(options: DiagnosticsOptions) -> str:
    """The options as link keys, defaults left out (canonical: equal options, equal text)."""
    items = []
    if options.c0 != DEFAULT_C0:
        items.append("c0=" + ",".join(codec.format_number(c) for c in options.c0))
    if options.pairs != DEFAULT_PAIRS:
        items.append(f"pairs={options.pairs}")
    if options.jacobian != DEFAULT_JACOBIAN:
        items.append(f"jacobian={options.jacobian}")
    if options.seeds != 1:
        items.append(f"seeds={options.seeds}")
    return "&".join(items)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError("c0", f"each correlation must be a number from -1 to 1, got {text!r}") from None
    if not math.isfinite(value):
        raise ConfigError("c0", f"each correlation must be a number from -1 to 1, got {text!r}")
    return value


def _count(key: str, text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS):
        high = {"pairs": MAX_PAIRS, "jacobian": MAX_JACOBIAN}.get(key, MAX_SEEDS)
        raise ConfigError(key, f"must be a whole number up to {high}, got {text!r}")
    return int(text)


def split_options(query: str) -> tuple[str, DiagnosticsOptions]:
    """The share query without the diagnostics' keys, and the options they give. Raises
    ConfigError naming the key when one is given twice or cannot be read."""
    kept, given = [], {}
    for piece in query.lstrip("?").split("&"):
        key, _, raw = piece.partition("=")
        name = unquote_plus(key)
        if name in KEYS:
            if name in given:
                raise ConfigError(name, "is given twice")
            given[name] = unquote_plus(raw)
        elif piece:
            kept.append(piece)
    c0 = None
    if "c0" in given:
        parts = given["c0"].split(",")
        if len(parts) > MAX_C0:
            raise ConfigError("c0", f"must be a list of 1 to {MAX_C0} correlations")
        c0 = [_number(p.strip()) for p in parts]
    pairs = _count("pairs", given["pairs"]) if "pairs" in given else None
    jacobian = _count("jacobian", given["jacobian"]) if "jacobian" in given else None
    seeds = _count("seeds", given["seeds"]) if "seeds" in given else None
    return "&".join(kept), make_options(c0, pairs, jacobian, seeds)
