"""Experiment <-> share-link query string, both ways, driven by one table of fields.

A link reads like the experiment it shows and can be edited by hand:

    depth=5&width=100&run=sigmoid,normal&run=sigmoid,xavier&run=relu,he_normal

Shared settings are plain `key=value` pairs; each `run=` is one column: its activation and
initializer first, then `key:value` items for its parameters and for any shared setting it
overrides (`run=relu,he_normal,depth:20`). Lists of widths are written `width=100-50-20` and
histogram ranges `range=0,1` (`axes=run` gives each run its own ranges instead of one per layer).
The query is read with ordinary form decoding (so clients that percent-encode the commas work
too), and inside a run item the three characters `,` `:` `%` are escaped once more, so labels
may hold any character. `v=1` names this format; links without it are version 1.

`preset=<name>` stands for that preset's link (app/presets.py), and any other key beside it
replaces the preset's own (`preset=saito-compare&depth=8`; run= keys replace all its runs).

Canonical form: defaults are omitted, shared settings come from the first run, later runs list
only what differs, and keys follow the field table's order; so equal experiments give equal
strings and decode(encode(x)) == x.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from .engine.network.config import (
    FIELDS,
    RUN_FIELDS,
    ExperimentConfig,
    RunConfig,
    inherited_default,
    make_experiment,
)
from .engine.params import ConfigError

FORMAT_VERSION = "1"
RANGE_KEYS = ("range", "z_range")
# grad=0 skips the backward pass, theory=0 the mean-field prediction; loss=mse changes the backward
# signal; axes=run bins each run on its own ranges
FLAG_KEYS = ("grad", "theory")
OPTION_KEYS = (*FLAG_KEYS, "loss", "axes")
TOP_KEYS = frozenset(RUN_FIELDS) | {"run", "v", *RANGE_KEYS, *OPTION_KEYS}
PRESET_KEY = "preset"
FLAGS = {"1": True, "0": False, "true": True, "false": False}
MAX_QUERY_LENGTH = 8192
MAX_RUN_ITEMS = 64


class CodecError(ConfigError):
    """A share link that cannot be read; `field` names the offending key."""


@dataclass(frozen=True)
class DecodedQuery:
    """A share link's content as plain values, ready for `make_experiment`."""

    shared: dict[str, Any]
    runs: list[dict[str, Any]]
    post_range: list[float] | None = None
    pre_range: list[float] | None = None
    gradients: bool = True
    loss: str = "normal"
    theory: bool = True
    axes: str = "shared"


# ---- values <-> text ---------------------------------------------------------------------------


def format_number(x: float | int) -> str:
    """Shortest text that reads back as the same number: 1.0 -> "1", 0.01 -> "0.01"."""
    if isinstance(x, int):
        return str(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def format_value(name: str, value: object) -> str:
    if name == "width" and isinstance(value, list | tuple):
        return "-".join(str(w) for w in value)
    if isinstance(value, bool):  # not a field type; guard so True never prints as 1
        raise TypeError(name)
    if isinstance(value, int | float):
        return format_number(value)
    return str(value)


def _parse_number(field: str, text: str) -> int | float:
    try:
        if text.strip().lstrip("+-").isdigit():
            return int(text)
        return float(text)
    except ValueError:
        raise CodecError(field, f"must be a number, got {text!r}") from None


def parse_value(name: str, text: str) -> object:
    """A field's value from its link text, typed by the field table (bounds are checked later)."""
    kind = FIELDS[name].kind
    if kind in ("int", "float"):
        return _parse_number(name, text)
    if kind == "widths":
        parts = text.split("-")
        if len(parts) == 1:
            return _parse_number(name, text)
        return [_parse_number(name, part) for part in parts]
    return text


def _parse_range(name: str, text: str) -> list[float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise CodecError(name, f"must be two numbers 'low,high', got {text!r}")
    return [float(_parse_number(name, part)) for part in parts]


# ---- decode ------------------------------------------------------------------------------------


def _split_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for piece in query.lstrip("?").split("&"):
        if not piece:
            continue
        key, _, raw = piece.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(raw)))
    return pairs


def _escape_item(text: str) -> str:
    """Escape the characters that delimit run items: ',' between items, ':' in key:value."""
    return text.replace("%", "%25").replace(",", "%2C").replace(":", "%3A")


def _decode_run(text: str, index: int) -> dict[str, Any]:
    run: dict[str, Any] = {}
    positional = ("activation", "init")
    items = text.split(",")
    if len(items) > MAX_RUN_ITEMS:
        raise CodecError(f"runs[{index}]", f"has more than {MAX_RUN_ITEMS} items")
    given = 0
    for item in items:
        if not item:
            continue
        if ":" in item:
            key, _, value = item.partition(":")
            key = unquote(key)
        else:
            if given >= len(positional):
                raise CodecError(
                    f"runs[{index}]",
                    f"{unquote(item)!r}: after activation and init, items are key:value",
                )
            key, value = positional[given], item
            given += 1
        if key not in FIELDS:
            raise CodecError(f"runs[{index}].{key}", f"unknown field; fields are {', '.join(RUN_FIELDS)}")
        if key in run:
            raise CodecError(f"runs[{index}].{key}", "is given twice")
        run[key] = parse_value(key, unquote(value))
    return run


def _expand_preset(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`preset=<name>` replaced by the pairs of that preset's link, less the keys the link gives
    itself (all the preset's run= when the link has a run=)."""
    names = [text for key, text in pairs if key == PRESET_KEY]
    if not names:
        return pairs
    if len(names) > 1:
        raise CodecError(PRESET_KEY, "is given twice")
    from .presets import PRESETS  # presets are links in this format: that module imports this one

    preset = PRESETS.get(names[0])
    if preset is None:
        raise CodecError(PRESET_KEY, f"unknown preset {names[0]!r}; presets are {', '.join(PRESETS)}")
    given = {key for key, _ in pairs}
    kept = [(key, text) for key, text in _split_pairs(preset.query) if key not in given]
    return kept + [(key, text) for key, text in pairs if key != PRESET_KEY]


def decode(query: str, *, presets: bool = True) -> DecodedQuery:
    """Read a share query (with or without the leading '?'); `presets=False` refuses preset=."""
    if len(query) > MAX_QUERY_LENGTH:
        raise CodecError("query", f"is {len(query)} characters, over the limit of {MAX_QUERY_LENGTH}")
    shared: dict[str, Any] = {}
    runs: list[dict[str, Any]] = []
    ranges: dict[str, list[float]] = {}
    options: dict[str, Any] = {}
    pairs = _split_pairs(query)
    for key, text in _expand_preset(pairs) if presets else pairs:
        if key not in TOP_KEYS:
            named = "preset, run" if presets else "run"
            raise CodecError(
                key,
                f"unknown setting; settings are {named}, v, range, z_range, {', '.join(OPTION_KEYS)}, "
                f"{', '.join(RUN_FIELDS)}",
            )
        if key == "run":
            runs.append(_decode_run(text, len(runs)))
            continue
        if key in shared or key in ranges or (key == "v" and "v" in shared):
            raise CodecError(key, "is given twice")
        if key == "v":
            if text != FORMAT_VERSION:
                raise CodecError("v", f"share-link version {text!r} is not known; this server reads v=1")
            shared["v"] = text
        elif key in RANGE_KEYS:
            ranges[key] = _parse_range(key, text)
        elif key in OPTION_KEYS:
            if key in options:
                raise CodecError(key, "is given twice")
            if key in FLAG_KEYS and text not in FLAGS:
                raise CodecError(key, f"must be 1 or 0, got {text!r}")
            options[key] = FLAGS[text] if key in FLAG_KEYS else text
        else:
            shared[key] = parse_value(key, text)
    shared.pop("v", None)
    return DecodedQuery(
        shared,
        runs,
        ranges.get("range"),
        ranges.get("z_range"),
        options.get("grad", True),
        options.get("loss", "normal"),
        options.get("theory", True),
        options.get("axes", "shared"),
    )


# ---- encode ------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return quote(text, safe="-._~,:")


def _shared_values(first: RunConfig) -> dict[str, object]:
    fields = first.as_dict()
    return {
        name: fields[name]
        for name in RUN_FIELDS
        if name in fields and not FIELDS[name].run_scoped and fields[name] != inherited_default(first, name)
    }


def _run_values(run: RunConfig, shared: Mapping[str, object]) -> dict[str, object]:
    fields = run.as_dict()
    values: dict[str, object] = {"activation": run.activation, "init": run.init}
    for name in RUN_FIELDS:
        if name in values or name not in fields:
            continue
        if fields[name] != shared.get(name, inherited_default(run, name)):
            values[name] = fields[name]
    return values


def to_values(config: ExperimentConfig) -> DecodedQuery:
    """The canonical, shortest description of an experiment: what `encode` writes and what the
    API's JSON body accepts (shared settings, then each run's own values)."""
    shared = _shared_values(config.runs[0])
    return DecodedQuery(
        shared=shared,
        runs=[_run_values(run, shared) for run in config.runs],
        post_range=list(config.post_range) if config.post_range else None,
        pre_range=list(config.pre_range) if config.pre_range else None,
        gradients=config.gradients,
        loss=config.loss,
        theory=config.theory,
        axes=config.axes,
    )


def to_experiment(values: DecodedQuery) -> ExperimentConfig:
    return make_experiment(
        values.shared,
        values.runs,
        values.post_range,
        values.pre_range,
        values.gradients,
        values.loss,
        values.theory,
        values.axes,
    )


def as_json(values: DecodedQuery) -> dict[str, object]:
    """The JSON body form (POST /api/v1/simulate) of decoded values."""
    body: dict[str, object] = {**values.shared, "runs": values.runs}
    if values.post_range is not None:
        body["range"] = values.post_range
    if values.pre_range is not None:
        body["z_range"] = values.pre_range
    # Defaults are left out, as in a link: both on, the normal backward signal, shared axes.
    if not values.gradients:
        body["grad"] = False
    if values.loss != "normal":
        body["loss"] = values.loss
    if not values.theory:
        body["theory"] = False
    if values.axes != "shared":
        body["axes"] = values.axes
    return body


def from_json(body: Mapping[str, Any]) -> DecodedQuery:
    """Values from a JSON body (POST /api/v1/simulate), the inverse of `as_json`."""
    shared = dict(body)
    runs, post, pre = shared.pop("runs"), shared.pop("range", None), shared.pop("z_range", None)
    grad, loss, theory = shared.pop("grad", True), shared.pop("loss", "normal"), shared.pop("theory", True)
    axes = shared.pop("axes", "shared")
    return DecodedQuery(shared, runs, post, pre, grad, loss, theory, axes)


def encode(config: ExperimentConfig) -> str:
    """The canonical share query of an experiment (no leading '?')."""
    return format_query(to_values(config))


def format_query(values: DecodedQuery) -> str:
    """The share query of canonical values (see `to_values`)."""
    parts = [f"{name}={_quote(format_value(name, value))}" for name, value in values.shared.items()]
    for key, bounds in (("range", values.post_range), ("z_range", values.pre_range)):
        if bounds is not None:
            parts.append(f"{key}={format_number(bounds[0])},{format_number(bounds[1])}")
    if values.axes != "shared":  # left out by default: every link made before axes= reads the same
        parts.append(f"axes={_quote(values.axes)}")
    if not values.gradients:
        parts.append("grad=0")
    if values.loss != "normal":
        parts.append(f"loss={_quote(values.loss)}")
    if not values.theory:
        parts.append("theory=0")
    for run in values.runs:
        items = [str(run["activation"]), str(run["init"])]
        items += [
            f"{k}:{_escape_item(format_value(k, v))}"
            for k, v in run.items()
            if k not in ("activation", "init")
        ]
        parts.append("run=" + _quote(",".join(items)))
    return "&".join(parts)
