"""The rows of runs side by side: one table pairing the runs' comparable rows.

Runs of different architectures have different rows: a BatchNorm network has a norm row before
each activation, a residual one a stem, projections and sums. Rows are paired by what they follow:
the index of the layer or block and the role in it (its activation, a norm before or after it, the
projection, the sum). A plain stack's row j is layer j + 1's activation (its z is what the
activation receives), so it pairs with the activation row of a layer network's layer (or block)
j + 1; a row that only some runs have is a row of its own, empty in the others.

The table is known from the runs' configs before any weight is drawn: the experiment advances the
runs one table row at a time (each run with a cell there advancing its own rows), so a row's
histograms share one range across the rows the table pairs, and the answer carries the table for
the pages (static/js/layers.js rowTable reads it; its merge is this one's port).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..layers.activations import ACTIVATIONS
from ..layers.norm import NORMS
from .blocks import RowSpec, architecture
from .config import ExperimentConfig, RunConfig

NORM_TYPES = frozenset(norm.layer_type for norm in NORMS.values())


@dataclass(frozen=True)
class TableRow:
    key: str  # "3|act", "3|norm before", "3|dense projection", "3|residual", "stem|dense stem"
    cells: tuple[int | None, ...]  # per run, its row index (0-based) in this row, or None


def row_specs(run: RunConfig) -> tuple[RowSpec, ...]:
    """The rows blocks.build(run) makes, in order, without drawing a weight (a plain run's are its
    activations, as a plain run beside layer networks is built)."""
    arch = architecture(run)
    norm_type = NORMS[arch.norm].layer_type if arch.norm != "none" else None
    specs: list[RowSpec] = []
    if not arch.residual:
        for j, units in enumerate(run.widths):
            name, where = run.activation_at(j), f"layer {j + 1}"
            if norm_type and arch.norm_at == "before":
                pieces = _pieces(run, j)
                specs.append(RowSpec(norm_type, f"{where} · {norm_type}", norm_type, units * pieces))
            specs.append(RowSpec("activation", f"{where} · {name}", name, units))
            if norm_type and arch.norm_at == "after":
                specs.append(RowSpec(norm_type, f"{where} · {norm_type}", norm_type, units))
        return tuple(specs)
    width, name = run.widths[0], run.activation
    specs.append(RowSpec("dense", "stem", "dense", width))
    for k in range(run.depth):
        where = f"block {k + 1}"
        if norm_type and arch.norm_at == "pre":
            specs.append(RowSpec(norm_type, f"{where} · {norm_type} (pre)", norm_type, width))
        specs += [RowSpec("activation", f"{where} · {name} {i + 1}", name, width) for i in range(arch.branch)]
        specs.append(RowSpec("dense", f"{where} · projection", "dense", width))
        specs.append(RowSpec("residual", f"{where} · x + s F(x)", "residual", width))
        if norm_type and arch.norm_at == "post":
            specs.append(RowSpec(norm_type, f"{where} · {norm_type} (post)", norm_type, width))
    if norm_type and arch.norm_at == "pre":  # pre-norm stacks' final norm
        specs.append(RowSpec(norm_type, f"final · {norm_type}", norm_type, width))
    return tuple(specs)


def _pieces(run: RunConfig, j: int) -> int:
    return ACTIVATIONS[run.activation_at(j)].pieces(run.activation_params_at(j))


PLACE = re.compile(r"^(?:layer|block) (\d+)$")
BRANCH_NUMBER = re.compile(r" (\d+)$")
PLACEMENT = re.compile(r"\((\w+)\)$")


def row_keys(run: RunConfig) -> tuple[str, ...]:
    """Each row's key: "3|act" (layer or block 3's activation), "3|act 2" (a two-layer branch's
    second), "3|norm before", "3|norm (pre)", "3|dense projection", "3|residual", "stem|dense
    stem". A plain run's rows are its layers' activations."""
    if run.arch is None:
        return tuple(f"{j + 1}|act" for j in range(run.depth))
    active: set[str] = set()  # places whose activation came already: a norm there is "after" it
    keys = []
    for spec in row_specs(run):
        where, _, what = spec.name.partition(" · ")
        place_match = PLACE.match(where)
        place = place_match.group(1) if place_match else where
        kind = spec.layer_type
        if kind == "activation":
            active.add(place)
            number = BRANCH_NUMBER.search(what)
            n = number.group(1) if number else None
            keys.append(f"{place}|act{f' {n}' if n and n != '1' else ''}")
        elif kind in NORM_TYPES:
            placed = PLACEMENT.search(what)  # a residual block's "(pre)" or "(post)"
            where_norm = placed.group(0) if placed else "after" if place in active else "before"
            keys.append(f"{place}|norm {where_norm}")
        else:
            keys.append(f"{place}|{kind}{f' {what or where}' if kind == 'dense' else ''}")
    return tuple(keys)


def _place_rank(key: str) -> float:
    """Where a key sits among places: the stem first, layers and blocks by number, a final norm
    and the output last."""
    place = key.split("|")[0]
    if place == "stem":
        return -1
    return int(place) if place.isdigit() else float("inf")


def _table_first(skip_table: int, skip_run: int, table_key: str, run_key: str) -> bool:
    """Whether the merge takes the table's row next: it keeps the longest pairing (`skip_table` and
    `skip_run` are what is left to pair after skipping either's row), and where both keep it, the
    row of the earlier layer or block ("L1 · norm after" before "L2 · norm before"), else the
    table's."""
    if skip_table != skip_run:
        return skip_table > skip_run
    return _place_rank(table_key) <= _place_rank(run_key)


def _lcs(table: Sequence[str], keys: Sequence[str]) -> np.ndarray:
    """lcs[i, j]: the longest common subsequence of table[i:] and keys[j:]. Row i is row i + 1's
    best with a match taken, carried leftwards by a running maximum (one NumPy pass a row: a
    200-block network's 1,000 rows against as many)."""
    ids: dict[str, int] = {}
    run = np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.int64)
    m, n = len(table), len(keys)
    lcs = np.zeros((m + 1, n + 1), dtype=np.int32)
    for i in range(m - 1, -1, -1):
        match = run == ids.get(table[i], -1)
        best = np.maximum(lcs[i + 1, :n], lcs[i + 1, 1:] + match)
        lcs[i, :n] = np.maximum.accumulate(best[::-1])[::-1]
    return lcs


def merge(table: Sequence[TableRow], keys: Sequence[str], c: int) -> list[TableRow]:
    """Merge `keys` (run `c`'s) into `table` by their longest common subsequence: shared keys pair,
    the others keep their order, the earlier layer's first where both have rows between two pairs."""
    lcs = _lcs([row.key for row in table], keys)
    m, n = len(table), len(keys)
    out = []
    i = j = 0
    while i < m or j < n:
        if i < m and j < n and table[i].key == keys[j] and lcs[i, j] == lcs[i + 1, j + 1] + 1:
            out.append(TableRow(keys[j], (*table[i].cells, j)))
            i += 1
            j += 1
        elif j >= n or (i < m and _table_first(lcs[i + 1, j], lcs[i, j + 1], table[i].key, keys[j])):
            out.append(TableRow(table[i].key, (*table[i].cells, None)))
            i += 1
        else:
            out.append(TableRow(keys[j], (*[None] * c, j)))
            j += 1
    return out


def row_table(runs: Sequence[Sequence[str]]) -> tuple[TableRow, ...]:
    """The rows of runs side by side (each run's keys, in order): cells[c] is run c's row in that
    row, or None. Plain stacks alone: row j is every run's layer j."""
    table: list[TableRow] = []
    for c, keys in enumerate(runs):
        table = [TableRow(k, (j,)) for j, k in enumerate(keys)] if c == 0 else merge(table, keys, c)
    return tuple(table)


def experiment_rows(config: ExperimentConfig) -> tuple[TableRow, ...]:
    """The experiment's row table, from its runs' configs."""
    return row_table([row_keys(run) for run in config.runs])
