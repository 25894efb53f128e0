"""The sweep link: a share link plus axes, and its expansion into one share link per grid point.

A sweep reads like the experiment it varies, with one `axis.<field>=` pair per axis:

    depth=30&run=tanh,xavier&bias=normal&axis.gain=0.5:4:lin:15&axis.bias_std=0:1:lin:11

- `axis.<field>=<values>` sets the field in every run; `axis.<field>.run<k>=<values>` in run k
  alone (1-based, as the dashboard numbers its columns).
- Values are a list, `0.5,1,2` or `relu,tanh`, or a range of a numeric field, `low:high:lin:n`
  or `low:high:log:n` (n points, both ends included; log ranges need positive ends). Range points
  between the ends are rounded to 10 significant digits so that links stay readable (`0.3`, not
  `0.30000000000000004`); an integer field's range points are rounded to integers, and repeats
  dropped.
- Every other pair is the base link, read by the share-link codec (app/codec.py, `preset=`
  included): a sweep has one parser of links, and each of its points is exactly one share link.
- A training sweep varies a training link (app/train_codec.py, the /train page's link): its base
  starts with `of=train` (`of=train&iterations=100&run=relu,normal&axis.lr=0.01,0.1`), and its
  axes may also name the training's fields (app/sweeps/train_link.py). Without `of=`, a base the
  share-link codec refuses but the training codec reads (it has `lr=` or `iterations=`, say) is a
  training's; the canonical link then says `of=train`. A link the share-link codec reads stays an
  experiment's, so every experiment sweep link keeps its meaning.

Grid points follow the axes in the order given, the first axis slowest. The canonical sweep link
is the base's canonical share link, then the axes in their order with canonical values, so equal
sweeps give equal strings and parse(format(s)) == s.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote_plus

from .engine import (
    FIELDS,
    PRESETS,
    CodecError,
    ConfigError,
    DecodedQuery,
    ExperimentConfig,
    FieldDoc,
    decode,
    encode,
    format_number,
    format_value,
    to_experiment,
)

AXIS_PREFIX = "axis."
KIND_KEY = "of"  # of=train: the base is a training link
PRESET = "preset"  # preset=<sweep preset>: that sweep's link (or a share link's preset, the base's)
KINDS = ("experiment", "train")
MAX_SWEEP_QUERY_LENGTH = 16384
MAX_AXES = 4
MAX_AXIS_VALUES = 1000
SIGNIFICANT_DIGITS = 10
AXIS_KINDS = ("int", "float", "choice", "widths")  # widths: one width for every layer
RUN_SUFFIX = re.compile(r"run([1-9][0-9]{0,2})")

Value = int | float | str
Scale = Literal["lin", "log"]
Kind = Literal["experiment", "train"]


@dataclass(frozen=True)
class Axis:
    """One axis: a field, in every run (`run` None) or in run `run` (1-based), and its values."""

    field: str
    run: int | None
    values: tuple[Value, ...]
    text: str  # canonical value text: the list, or the range it came from

    @property
    def key(self) -> str:
        return f"{AXIS_PREFIX}{self.field}" + ("" if self.run is None else f".run{self.run}")

    @property
    def name(self) -> str:
        """How tables and pages title this axis: `std`, or `std.run2`."""
        return self.key.removeprefix(AXIS_PREFIX)


@dataclass(frozen=True)
class Sweep:
    base: str  # the canonical share link of the base experiment (or training link, kind "train")
    axes: tuple[Axis, ...]
    kind: Literal["experiment", "train"] = "experiment"

    @property
    def size(self) -> int:
        return math.prod(len(axis.values) for axis in self.axes)

    @property
    def query(self) -> str:
        return format_sweep(self)


@dataclass(frozen=True)
class Point:
    index: int  # position in the grid, the first axis slowest
    values: tuple[Value, ...]  # one per axis
    link: str  # the point's canonical share link


# ---- parse and format ----------------------------------------------------------------------------


def _split(query: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The base link's raw pieces (left for the codec to read) and the axis pairs, decoded."""
    base, axes = [], []
    for piece in query.lstrip("?").split("&"):
        if not piece:
            continue
        key, _, raw = piece.partition("=")
        name = unquote_plus(key)
        if name.startswith(AXIS_PREFIX):
            axes.append((name, unquote_plus(raw)))
        else:
            base.append(piece)
    return base, axes


def _expand_sweep_preset(query: str) -> str:
    """`preset=<sweep preset>` replaced by that preset's sweep link, less what the query gives
    itself: a key of its base, all its run= when the query has a run=, and an axis of the same
    key (given in the preset axis's place, so the grid's order stays the preset's). A preset= naming
    a share-link preset is the base's, left to the share-link codec."""
    from .presets import SWEEP_PRESETS

    pieces = [piece for piece in query.lstrip("?").split("&") if piece]
    keys = [unquote_plus(piece.partition("=")[0]) for piece in pieces]
    names = [
        unquote_plus(piece.partition("=")[2])
        for piece, key in zip(pieces, keys, strict=True)
        if key == PRESET
    ]
    if not any(name in SWEEP_PRESETS for name in names):
        for name in names:
            if name not in PRESETS:
                raise unknown_preset_error(name)
        return query  # a share link's preset: the base's
    if len(names) > 1:
        raise CodecError(PRESET, "is given twice")
    given = {key: piece for piece, key in zip(pieces, keys, strict=True) if key != PRESET}
    expanded: list[str] = []
    for piece in SWEEP_PRESETS[names[0]].query.split("&"):
        key = unquote_plus(piece.partition("=")[0])
        if key.startswith(AXIS_PREFIX) and key in given:
            expanded.append(given.pop(key))  # the query's values for the preset's axis, in its place
        elif key not in given and not (key == "run" and "run" in given):
            expanded.append(piece)
    return "&".join(expanded + [piece for key, piece in zip(keys, pieces, strict=True) if key in given])


def unknown_preset_error(name: str) -> CodecError:
    """A preset= naming neither a sweep preset nor a share link's."""
    from .presets import SWEEP_PRESETS

    return CodecError(
        PRESET,
        f"unknown preset {name!r}; sweep presets are {', '.join(SWEEP_PRESETS)}; "
        f"share-link presets (as a sweep's base) are {', '.join(PRESETS)}",
    )


def _number(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CodecError(key, f"must be numbers, got {text!r}") from None
    if not math.isfinite(value):
        raise CodecError(key, f"must be finite numbers, got {text!r}")
    return value


def _typed(key: str, kind: str, value: float) -> Value:
    if kind in ("int", "widths"):
        if not value.is_integer():
            raise CodecError(key, f"{format_number(value)} is not an integer, which this field needs")
        return int(value)
    return value


def _check_bounds(key: str, doc_low: float | None, doc_high: float | None, value: float) -> None:
    if doc_low is not None and value < doc_low:
        raise CodecError(
            key, f"{format_number(value)} is under the field's minimum of {format_number(doc_low)}"
        )
    if doc_high is not None and value > doc_high:
        raise CodecError(
            key, f"{format_number(value)} is over the field's maximum of {format_number(doc_high)}"
        )


def _range(key: str, kind: str, text: str) -> tuple[tuple[Value, ...], str]:
    parts = text.split(":")
    if len(parts) != 4:
        raise CodecError(key, f"a range is low:high:lin:n or low:high:log:n, got {text!r}")
    low, high = _number(key, parts[0]), _number(key, parts[1])
    scale, count = parts[2], parts[3]
    if scale not in ("lin", "log"):
        raise CodecError(key, f"a range's scale is lin or log, got {scale!r}")
    if not count.isdigit() or not 2 <= int(count) <= MAX_AXIS_VALUES:
        raise CodecError(key, f"a range's point count must be 2 to {MAX_AXIS_VALUES}, got {count!r}")
    n = int(count)
    if low == high:
        raise CodecError(key, "a range's low and high must differ")
    if scale == "log" and (low <= 0 or high <= 0):
        raise CodecError(key, "a log range needs positive low and high")
    if scale == "lin":
        raw = [low + (high - low) * i / (n - 1) for i in range(n)]
    else:
        a, b = math.log10(low), math.log10(high)
        raw = [10.0 ** (a + (b - a) * i / (n - 1)) for i in range(n)]
    values: list[Value] = []
    for i, x in enumerate(raw):
        if kind in ("int", "widths"):
            value: Value = round(x)
        elif i in (0, n - 1):
            value = (low, high)[i > 0]  # the ends exactly as written
        else:
            value = float(f"{x:.{SIGNIFICANT_DIGITS}g}")
        if value not in values:
            values.append(value)
    canonical = f"{format_number(_plain(low))}:{format_number(_plain(high))}:{scale}:{n}"
    return tuple(values), canonical


def _plain(x: float) -> int | float:
    return int(x) if x.is_integer() and abs(x) < 1e15 else x


def _list(key: str, field: str, text: str, fields: Mapping[str, FieldDoc]) -> tuple[Value, ...]:
    doc = fields[field]
    items = text.split(",")
    if len(items) > MAX_AXIS_VALUES:
        raise CodecError(key, f"has {len(items)} values, over the limit of {MAX_AXIS_VALUES}")
    values: list[Value] = []
    for item in items:
        item = item.strip()
        if not item:
            raise CodecError(key, f"has an empty value in {text!r}")
        if doc.kind == "choice":
            if item not in doc.choices:
                raise CodecError(key, f"unknown {field} {item!r}; one of {', '.join(doc.choices)}")
            value: Value = item
        else:
            value = _typed(key, doc.kind, _number(key, item))
        if value in values:
            raise CodecError(key, f"lists {item} twice")
        values.append(value)
    return tuple(values)


def _axis(
    key: str, text: str, runs: int, fields: Mapping[str, FieldDoc] = FIELDS, per_run: Container[str] = FIELDS
) -> Axis:
    parts = key.removeprefix(AXIS_PREFIX).split(".")
    field = parts[0]
    if field not in fields or fields[field].kind not in AXIS_KINDS:
        names = ", ".join(name for name, doc in fields.items() if doc.kind in AXIS_KINDS)
        raise CodecError(key, f"{field!r} is not a field an axis can vary; fields are {names}")
    run: int | None = None
    if len(parts) == 2 and (match := RUN_SUFFIX.fullmatch(parts[1])):
        run = int(match.group(1))
        if field not in per_run:
            raise CodecError(key, f"{field} is set for every run of a training; use axis.{field}")
        if run > runs:
            raise CodecError(key, f"names run {run}, but the link has {runs} run{'s' if runs > 1 else ''}")
    elif len(parts) != 1:
        raise CodecError(key, "an axis is axis.<field> (every run) or axis.<field>.run<k> (run k)")
    doc = fields[field]
    if ":" in text:
        if doc.kind == "choice":
            raise CodecError(key, f"{field} takes a list of names, not a range")
        values, canonical = _range(key, doc.kind, text)
    else:
        values = _list(key, field, text, fields)
        canonical = ",".join(format_value(field, v) for v in values)
    if doc.kind != "choice":
        for value in values:
            assert not isinstance(value, str)
            _check_bounds(key, doc.low, doc.high, float(value))
    return Axis(field, run, values, canonical)


def parse_sweep(query: str) -> Sweep:
    """A sweep from its link (with or without the leading '?'); CodecError names the bad key."""
    if len(query) > MAX_SWEEP_QUERY_LENGTH:
        raise CodecError("sweep", f"is {len(query)} characters, over the limit of {MAX_SWEEP_QUERY_LENGTH}")
    base_pieces, axis_pairs = _split(_expand_sweep_preset(query))
    if not axis_pairs:
        raise CodecError("axis", "a sweep needs at least one axis, like axis.std=0.1:2:log:10")
    if len(axis_pairs) > MAX_AXES:
        raise CodecError("axis", f"{len(axis_pairs)} axes, over the limit of {MAX_AXES}")
    from . import train_link  # it builds on this module

    kind = _kind(base_pieces)
    base_pieces = [p for p in base_pieces if unquote_plus(p.partition("=")[0]) != KIND_KEY]
    if kind is None:  # no of=: an experiment's, unless only the training codec reads it
        try:
            base = encode(to_experiment(decode("&".join(base_pieces))))
            kind = "experiment"
        except ConfigError as err:
            try:
                base = train_link.canonical_base("&".join(base_pieces))
            except ConfigError:
                raise err from None  # neither reads it: the experiment codec's word, as before
            kind = "train"
    elif kind == "train":
        base = train_link.canonical_base("&".join(base_pieces))
    else:
        base = encode(to_experiment(decode("&".join(base_pieces))))
    fields: Mapping[str, FieldDoc] = train_link.AXIS_FIELDS if kind == "train" else FIELDS
    per_run: Container[str] = train_link.PER_RUN_FIELDS if kind == "train" else FIELDS
    runs = train_link.run_count(base) if kind == "train" else len(decode(base, presets=False).runs)
    axes: list[Axis] = []
    for key, text in axis_pairs:
        if any(axis.key == key for axis in axes):
            raise CodecError(key, "is given twice")
        axes.append(_axis(key, text, runs, fields, per_run))
    return Sweep(base, tuple(axes), kind)


def _kind(pieces: list[str]) -> Kind | None:
    given = [
        unquote_plus(p.partition("=")[2]) for p in pieces if unquote_plus(p.partition("=")[0]) == KIND_KEY
    ]
    if not given:
        return None
    if len(given) > 1:
        raise CodecError(KIND_KEY, "is given twice")
    if given[0] not in KINDS:
        raise CodecError(KIND_KEY, f"is what the sweep varies: {' or '.join(KINDS)}, got {given[0]!r}")
    return given[0]  # type: ignore[return-value]


def format_sweep(sweep: Sweep) -> str:
    """The canonical sweep link (no leading '?'); a training sweep's starts with of=train."""
    axes = [f"{axis.key}={quote(axis.text, safe='-._~,:')}" for axis in sweep.axes]
    head = [f"{KIND_KEY}=train"] if sweep.kind == "train" else []
    return "&".join([*head, sweep.base, *axes])


# ---- expansion ------------------------------------------------------------------------------------


def _apply(base: DecodedQuery, axes: tuple[Axis, ...], values: tuple[Value, ...]) -> DecodedQuery:
    shared = dict(base.shared)
    runs = [dict(run) for run in base.runs]
    # every-run axes first, so that an axis on one run wins over one on every run
    for axis, value in sorted(zip(axes, values, strict=True), key=lambda pair: pair[0].run is not None):
        if axis.run is None:
            shared[axis.field] = value
            for run in runs:
                run.pop(axis.field, None)
                if axis.field == "width":
                    run.pop("depth", None)  # a run's own depth came with its own list of widths
        else:
            runs[axis.run - 1][axis.field] = value
    return DecodedQuery(
        shared,
        runs,
        base.post_range,
        base.pre_range,
        base.gradients,
        base.loss,
        base.theory,
        base.axes,
    )


def describe_values(axes: tuple[Axis, ...], values: tuple[Value, ...]) -> str:
    return ", ".join(
        f"{axis.name}={format_value(axis.field, v)}" for axis, v in zip(axes, values, strict=True)
    )


def check_distinct(
    sweep: Sweep, seen: dict[str, tuple[Value, ...]], link: str, values: tuple[Value, ...]
) -> None:
    """Two points with the same link are an error naming the axis that made no difference."""
    if link in seen:
        other = seen[link]
        axis = next(a for a, x, y in zip(sweep.axes, values, other, strict=True) if x != y)
        what = "training" if sweep.kind == "train" else "experiment"
        raise CodecError(
            axis.key,
            f"{describe_values(sweep.axes, other)} and {describe_values(sweep.axes, values)} are the "
            f"same {what}: the runs do not read {axis.field} (see the catalog for which "
            "initializer, activation, bias or norm reads it: norm_at only with a norm)",
        )
    seen[link] = values


def expand(sweep: Sweep, max_points: int) -> list[tuple[Point, ExperimentConfig]]:
    """Every grid point as its canonical share link and configuration; refused before any is made
    when the grid has more than `max_points` points. Two points with the same link (a value the
    runs do not read, like std with he_normal) are an error naming the axis."""
    if sweep.size > max_points:
        raise CodecError("sweep", f"has {sweep.size:,} points, over the limit of {max_points:,}")
    if sweep.kind == "train":
        raise ValueError("a training sweep expands with train_link.expand_training")
    base = decode(sweep.base, presets=False)
    out: list[tuple[Point, ExperimentConfig]] = []
    seen: dict[str, tuple[Value, ...]] = {}
    for index, values in enumerate(itertools.product(*(axis.values for axis in sweep.axes))):
        try:
            config = to_experiment(_apply(base, sweep.axes, values))
        except ConfigError as err:
            where = describe_values(sweep.axes, values)
            raise CodecError(sweep.axes[0].key if len(sweep.axes) == 1 else "sweep",
                             f"at {where}: {err.field}: {err.message}") from None  # fmt: skip
        link = encode(config)
        check_distinct(sweep, seen, link, values)
        out.append((Point(index, values, link), config))
    return out
