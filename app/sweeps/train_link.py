"""Training sweeps: a training link (app/train_codec.py) plus axes, expanded into training links.

    of=train&width=100-100&iterations=200&run=relu,normal&axis.std=0.01,0.1&axis.lr=0.01:1:log:5

An axis names a field of the network (any share-link field an experiment axis may vary: std,
init, seed, width, ...) or of the training: `batch`, `iterations`, `batch_seed`, `record_every`,
`probe` (every run: a training's runs share their batches), `opt` and the optimizer's parameters
(`lr`, `momentum`, `decay`, `beta1`, `beta2`; every run, or one with `.run<k>`). A point is the
base link with its axes' values set, read by the training codec and written canonically, so
each point is exactly the link /train runs. An optimizer parameter the point's optimizer does
not take is an error naming it (lr=0.1 with opt=sgd is fine; beta1 with sgd is not).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from urllib.parse import quote, unquote, unquote_plus

from .engine import (
    BATCH_SEED,
    BATCH_SIZE,
    FIELDS,
    ITERATIONS,
    LOSS_KEYS,
    OPT_KEYS,
    OPTIMIZERS,
    PROBE_SIZE,
    RECORD_EVERY,
    TRAIN_KEYS,
    CodecError,
    ConfigError,
    DecodedQuery,
    FieldDoc,
    Training,
    decode,
    decode_training,
    encode_training,
    format_query,
    format_value,
)
from .link import AXIS_KINDS, Axis, Point, Sweep, _apply, check_distinct, describe_values

_SHARED_SPECS = {  # link key -> the training's own bounds (train_config's ParamSpecs)
    "batch": BATCH_SIZE,
    "iterations": ITERATIONS,
    "batch_seed": BATCH_SEED,
    "record_every": RECORD_EVERY,
    "probe": PROBE_SIZE,
}


def _optimizer_fields() -> dict[str, FieldDoc]:
    """Each optimizer parameter with the union of its bounds over the optimizers that take it."""
    out: dict[str, FieldDoc] = {}
    for spec in OPTIMIZERS.values():
        for p in spec.params:
            known = out.get(p.name)
            lows = [x for x in (p.low, None if known is None else known.low) if x is not None]
            highs = [x for x in (p.high, None if known is None else known.high) if x is not None]
            low = min(lows) if lows else None
            high = max(highs) if highs else None
            out[p.name] = FieldDoc(p.name, "float", p.doc, low, high)
    return out


TRAINING_FIELDS: dict[str, FieldDoc] = {
    **{key: FieldDoc(key, "int", spec.doc, spec.low, spec.high) for key, spec in _SHARED_SPECS.items()},
    "opt": FieldDoc("opt", "choice", "the optimizer", choices=tuple(OPTIMIZERS)),
    **_optimizer_fields(),
}
NETWORK_FIELDS = {name: doc for name, doc in FIELDS.items() if doc.kind in AXIS_KINDS}
AXIS_FIELDS: dict[str, FieldDoc] = {**NETWORK_FIELDS, **TRAINING_FIELDS}
PER_RUN_FIELDS = frozenset({*NETWORK_FIELDS, *OPT_KEYS})  # the batches are every run's


def canonical_base(query: str) -> str:
    """The canonical training link of a sweep's base (ConfigError naming the bad key)."""
    return encode_training(decode_training(query))


def run_count(base: str) -> int:
    return len(decode_training(base).runs)


class _Parts:
    """A canonical training link taken apart: its network (an experiment link's values), its shared
    training and optimizer pairs, and each run's own optimizer items, as train_codec reads them."""

    def __init__(self, link: str) -> None:
        network: list[str] = []
        self.shared: dict[str, str] = {}  # training and optimizer keys -> link text
        self.run_opts: list[dict[str, str]] = []
        for piece in link.split("&"):
            raw_key, _, raw_value = piece.partition("=")
            key = unquote_plus(raw_key)
            if key in TRAIN_KEYS or key in OPT_KEYS or key in ("data", "captures", *LOSS_KEYS):
                self.shared[key] = unquote_plus(raw_value)
            elif key == "run":
                kept, own = [], {}
                for item in raw_value.split(","):
                    name = unquote(item.partition(":")[0]) if ":" in item else ""
                    if name in OPT_KEYS:
                        own[name] = unquote_plus(item.partition(":")[2])
                    else:
                        kept.append(item)
                self.run_opts.append(own)
                network.append("run=" + ",".join(kept))
            else:
                network.append(piece)
        self.network: DecodedQuery = decode("&".join(network), presets=False)

    def link(self, axes: tuple[Axis, ...], values: tuple[int | float | str, ...]) -> str:
        """The training link with the axes' values set (not yet canonical)."""
        pairs = list(zip(axes, values, strict=True))
        net = [(a, v) for a, v in pairs if a.field in NETWORK_FIELDS]
        network = _apply(self.network, tuple(a for a, _ in net), tuple(v for _, v in net))
        shared = dict(self.shared)
        run_opts = [dict(own) for own in self.run_opts]
        # every-run axes first, so that an axis on one run wins over one on every run
        for axis, value in sorted(pairs, key=lambda pair: pair[0].run is not None):
            if axis.field in NETWORK_FIELDS:
                continue
            text = format_value(axis.field, value)
            if axis.run is None:
                shared[axis.field] = text
                for own in run_opts:
                    own.pop(axis.field, None)
            else:
                run_opts[axis.run - 1][axis.field] = text
        head = format_query(replace(network, runs=[]))
        out = [head] if head else []
        out += [f"{k}={quote(v, safe='.-')}" for k, v in shared.items()]
        for run, own in zip(network.runs, run_opts, strict=True):
            # every item as key:value: an every-run axis on init leaves a run without its positional init
            items = [f"{k}:{_escape(format_value(k, v))}" for k, v in run.items()]
            items += [f"{k}:{_escape(v)}" for k, v in own.items()]
            out.append("run=" + quote(",".join(items), safe="-._~,:"))
        return "&".join(out)


def _escape(text: str) -> str:
    """As the codec escapes run items: ',' separates them, ':' splits key from value."""
    return text.replace("%", "%25").replace(",", "%2C").replace(":", "%3A")


def expand_training(sweep: Sweep, max_points: int) -> list[tuple[Point, Training]]:
    """Every grid point of a training sweep as its canonical training link and its training;
    refused before any is made past `max_points`. As for experiments, two points with the same
    link are an error naming the axis."""
    if sweep.size > max_points:
        raise CodecError("sweep", f"has {sweep.size:,} points, over the limit of {max_points:,}")
    parts = _Parts(sweep.base)
    out: list[tuple[Point, Training]] = []
    seen: dict[str, tuple[int | float | str, ...]] = {}
    for index, values in enumerate(itertools.product(*(axis.values for axis in sweep.axes))):
        try:
            training = decode_training(parts.link(sweep.axes, values))
        except ConfigError as err:
            where = describe_values(sweep.axes, values)
            field = sweep.axes[0].key if len(sweep.axes) == 1 else "sweep"
            raise CodecError(field, f"at {where}: {err.field}: {err.message}") from None
        link = encode_training(training)
        check_distinct(sweep, seen, link, values)
        out.append((Point(index, values, link), training))
    return out


__all__ = ["AXIS_FIELDS", "PER_RUN_FIELDS", "TRAINING_FIELDS", "canonical_base", "expand_training"]
