"""The runs' row table (rows.py): the pages' merge ported, from configs, and given in the answers."""

from __future__ import annotations

import itertools
import json
import random
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from app import codec
from app.api.runner import compute
from app.engine.network.blocks import build
from app.engine.network.config import ExperimentConfig
from app.engine.network.rows import TableRow, experiment_rows, merge, row_keys, row_specs, row_table
from app.presets import PRESETS

ROOT = Path(__file__).resolve().parents[3]
# static/js/layers.js's rowTable of these presets' and links' answers, as the pages computed it
# before the engine gave answers their table (generated with node from the answers of that time).
TABLES = json.loads((Path(__file__).with_name("rows_tables.json")).read_text())
LAYER_PRESETS = sorted(n for n, p in PRESETS.items() if any(r.arch is not None for r in p.experiment.runs))


def _config(name: str) -> ExperimentConfig:
    return PRESETS[name].experiment if name in PRESETS else codec.to_experiment(codec.decode(name))


def _plain(table: tuple[TableRow, ...]) -> list[dict[str, object]]:
    return [{"key": row.key, "cells": list(row.cells)} for row in table]


def test_rows_tables_cover_every_layer_network_preset() -> None:
    assert LAYER_PRESETS and set(LAYER_PRESETS) <= set(TABLES)


@pytest.mark.parametrize("name", list(TABLES))
def test_rows_table_is_the_pages_table(name: str) -> None:
    assert _plain(experiment_rows(_config(name))) == TABLES[name]


ARCHS = [
    "relu,he_normal",
    "relu,he_normal,norm:batch",
    "maxout,he_normal,pieces:3,norm:batch",
    "tanh,xavier,norm:rms,norm_at:after",
    "relu,he_normal,block:residual",
    "relu,he_normal,block:residual,norm:layer",
    "tanh,xavier,block:residual,branch:2,norm:batch,norm_at:post",
    "gelu,he_normal,block:residual,branch:2,res_init:fixup",
]


@pytest.mark.parametrize("run", ARCHS)
def test_rows_specs_are_the_rows_build_makes(run: str) -> None:
    config = _config(f"depth=3&width=8&input_dim=6&samples=4&run={run}")
    assert list(row_specs(config.runs[0])) == build(config.runs[0]).specs


def test_rows_plain_stacks_pair_row_j_of_every_run() -> None:
    config = _config("depth=3&run=relu,he_normal&run=tanh,xavier,depth:5")
    assert _plain(experiment_rows(config)) == [
        {"key": f"{j + 1}|act", "cells": [j if j < 3 else None, j]} for j in range(5)
    ]


def test_rows_norm_places_pair_by_what_they_follow() -> None:
    config = _config("depth=2&run=relu,he_normal,norm:batch&run=relu,he_normal,norm:layer,norm_at:after")
    assert [row.key for row in experiment_rows(config)] == [
        "1|norm before",
        "1|act",
        "1|norm after",
        "2|norm before",
        "2|act",
        "2|norm after",
    ]
    assert [row.cells for row in experiment_rows(config)][:3] == [(0, None), (1, 0), (None, 1)]


def _lcs_length(a: list[str], b: list[str]) -> int:
    """The textbook dynamic programme, cell by cell."""
    best = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, j in itertools.product(range(len(a) - 1, -1, -1), range(len(b) - 1, -1, -1)):
        best[i][j] = best[i + 1][j + 1] + 1 if a[i] == b[j] else max(best[i + 1][j], best[i][j + 1])
    return best[0][0]


@pytest.mark.parametrize("seed", range(40))
def test_rows_merge_pairs_a_longest_common_subsequence_in_order(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = [f"{p}|{r}" for p in ("stem", "1", "2", "3") for r in ("act", "norm before", "residual")]
    a = rng.sample(alphabet, rng.randint(0, 8))
    b = rng.sample(alphabet, rng.randint(0, 8))
    table = merge([TableRow(k, (i,)) for i, k in enumerate(a)], b, 1)
    # every row of each run once, in its order; a pair only of equal keys; as many pairs as an LCS
    assert [r.cells[0] for r in table if r.cells[0] is not None] == list(range(len(a)))
    assert [r.cells[1] for r in table if r.cells[1] is not None] == list(range(len(b)))
    pairs = [r for r in table if None not in r.cells]
    assert all(a[r.cells[0]] == b[r.cells[1]] == r.key for r in pairs)  # type: ignore[index]
    assert len(pairs) == _lcs_length(a, b)


def test_rows_table_of_the_deepest_runs_is_bounded() -> None:
    # 200 blocks of two-layer branches with norms: ~1,000 rows a run, eight kinds of runs
    depth = "depth=200&width=4&input_dim=4&samples=2"
    runs = [
        "relu,he_normal,block:residual,branch:2,norm:layer",
        "relu,he_normal,block:residual,branch:2,norm:batch,norm_at:post",
        "relu,he_normal,norm:layer",
        "relu,he_normal,norm:layer,norm_at:after",
        "tanh,xavier",
        "relu,he_normal,block:residual",
        "relu,he_normal,block:residual,norm:rms",
        "relu,he_normal,norm:batch",
    ]
    config = _config(depth + "".join(f"&run={r}" for r in runs))
    table = experiment_rows(config)
    for c, run in enumerate(config.runs):
        assert [row.cells[c] for row in table if row.cells[c] is not None] == list(range(len(row_keys(run))))
    assert len(table) < sum(len(row_keys(run)) for run in config.runs)


def test_rows_answers_carry_the_table_only_for_layer_networks() -> None:
    plain = orjson.loads(compute(PRESETS["saito-compare"].experiment).json)
    assert "rows" not in plain
    layered = orjson.loads(compute(PRESETS["bn-sigmoid"].experiment).json)
    assert layered["rows"] == TABLES["bn-sigmoid"]


JS_TABLE = """
import { readFileSync } from "node:fs";
import { mergedTable } from "%s";
const answers = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(answers.map((a) => mergedTable(a.runs))));
"""

MIXED = [
    "depth=3&width=12&samples=30&run=relu,he_normal,block:residual,norm:batch"
    "&run=relu,he_normal,depth:5&run=tanh,xavier,norm:layer,norm_at:after",
    "depth=4&width=12&samples=30&grad=0&run=maxout,he_normal,norm:rms"
    "&run=relu,he_normal,block:residual,branch:2,norm:layer,norm_at:post,depth:2&run=relu,he_normal",
]


def test_rows_the_pages_merge_gives_the_answers_table() -> None:
    """While the pages keep their merge (trainings' captured rows have no table), it must give
    what the engine gives: run it with node on the answers, their `rows` aside."""
    node = shutil.which("node")
    assert node is not None
    names = LAYER_PRESETS + MIXED
    answers = [orjson.loads(compute(_config(name)).json) for name in names]
    layers_js = (ROOT / "static" / "js" / "layers.js").as_uri()
    done = subprocess.run(
        [node, "--input-type=module", "-e", JS_TABLE % layers_js],
        input=json.dumps([{"runs": a["runs"]} for a in answers]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for name, answer, table in zip(names, answers, json.loads(done.stdout), strict=True):
        assert table == answer["rows"], name


def test_rows_from_keys_alone() -> None:
    assert row_table([]) == ()
    assert row_table([["1|act"], ["stem|dense stem", "1|act"]]) == (
        TableRow("stem|dense stem", (None, 0)),
        TableRow("1|act", (0, 1)),
    )
