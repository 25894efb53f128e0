"""A finished training's downloads: its curves and its histograms as CSV, read from the same
document as GET /api/v1/train, and never a training started without the stream's checks."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from app.api.train_export import HISTOGRAM_COLUMNS, STEP_COLUMNS
from app.main import create_app
from app.settings import Settings

# Tiny: 30 steps of a 2-layer, 6-unit network on synthetic data, in milliseconds.
TINY = (
    "data=synthetic&depth=2&width=6&batch=8&iterations=30&record_every=10&captures=0-30"
    "&run=relu,he_normal&run=relu,normal,std:0.01"
)
LONG = "depth=1&width=8&batch=8&iterations=1000000&record_every=50&run=relu,he_normal"
CSV = "/api/v1/export/train-csv"
HISTOGRAMS = "/api/v1/export/train-histograms-csv"


@pytest.fixture
def fresh() -> Iterator[TestClient]:
    """A server of its own, nothing cached."""
    with TestClient(create_app(Settings())) as test_client:
        yield test_client


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(text.splitlines()))


def _number(cell: str) -> float | None:
    return None if cell == "" else float(cell)


def test_train_csv_has_a_row_per_run_and_step_with_the_documents_values(fresh: TestClient) -> None:
    document = fresh.get(f"/api/v1/train?{TINY}").json()
    response = fresh.get(f"{CSV}?{TINY}")
    assert response.status_code == 200 and response.headers["x-cache"] == "hit"  # the cached training
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="initscope-training.csv"'
    header, *rows = _rows(response.text)
    assert header == [
        *STEP_COLUMNS,
        "dead_fraction_1",
        "dead_fraction_2",
        "update_ratio_1",
        "update_ratio_2",
        "update_ratio_3",  # the output layer's
    ]
    # steps 0 to 30 of each run: a loss at 0..29, records at 0, 10, 20, 30
    assert [(row[0], row[2]) for row in rows] == [(str(r), str(s)) for r in (1, 2) for s in range(31)]
    column = {name: i for i, name in enumerate(header)}
    for r, run in enumerate(document["runs"]):
        mine = rows[31 * r : 31 * (r + 1)]
        assert {row[1] for row in mine} == {run["label"]}
        assert [_number(row[column["loss"]]) for row in mine] == [*run["loss"], None]
        assert [_number(row[column["loss_smoothed"]]) for row in mine] == [*run["loss_smoothed"], None]
        records = run["records"]
        for k, step in enumerate(records["step"]):
            row = mine[step]
            for name in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
                assert _number(row[column[name]]) == records[name][k]
            assert [_number(row[column[f"dead_fraction_{j}"]]) for j in (1, 2)] == records["dead_fraction"][k]
            ratios = [_number(row[column[f"update_ratio_{j}"]]) for j in (1, 2, 3)]
            assert ratios == (records["update_ratio"][k] or [None] * 3)  # none at step 0
        assert all(cell == "" for cell in mine[5][column["train_loss"] :])  # not a recorded step


def test_train_histograms_csv_has_a_row_per_run_capture_layer_kind_and_bin(fresh: TestClient) -> None:
    document = fresh.get(f"/api/v1/train?{TINY}").json()
    response = fresh.get(f"{HISTOGRAMS}?{TINY}")
    assert response.status_code == 200 and response.headers["x-cache"] == "hit"
    header, *rows = _rows(response.text)
    assert header == list(HISTOGRAM_COLUMNS)
    expected = [
        [
            *(str(r), run["label"], str(capture["step"]), str(layer["layer"]), str(layer["units"]), kind),
            *(str(b + 1), repr(float(edges[b])), repr(float(edges[b + 1])), str(count)),
        ]
        for r, run in enumerate(document["runs"], start=1)
        for capture in run["captures"]
        for layer in capture["layers"]
        for kind in ("post", "grad")
        for edges in [layer[kind]["edges"]]
        for b, count in enumerate(layer[kind]["counts"])
    ]
    assert rows == expected
    assert {row[2] for row in rows} == {"0", "30"} and {row[5] for row in rows} == {"post", "grad"}


def test_train_csv_of_a_training_not_cached_trains_it_first(fresh: TestClient) -> None:
    response = fresh.get(f"{CSV}?{TINY}")
    assert response.status_code == 200 and response.headers["x-cache"] == "miss"
    assert fresh.get(f"/api/v1/train?{TINY}").headers["x-cache"] == "hit"  # and it is kept


# A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return) as a formula.
FORMULAS = ["=1+2", "+1+2", "-1+2", "@SUM(A1:A2)", '=HYPERLINK("http://x.invalid","y")']


@pytest.mark.parametrize("path", [CSV, HISTOGRAMS])
def test_train_csv_neutralizes_formula_labels(client: TestClient, path: str) -> None:
    """Run labels are the link's text (label:...): as in the experiment's CSV, a cell a
    spreadsheet would run gets a quote in front, inside its quotes; numbers stay bare."""
    escape = {"%": "%25", ",": "%2C", ":": "%3A"}
    runs = "".join(
        f"&run=relu,he_normal,label:{quote(''.join(escape.get(c, c) for c in label), safe='')}"
        for label in FORMULAS
    )
    link = "data=synthetic&depth=1&width=4&batch=4&iterations=4&record_every=2&captures=4" + runs
    response = client.get(f"{path}?{link}")
    assert response.status_code == 200, response.text
    rows = _rows(response.text)[1:]
    assert {row[1] for row in rows} == {"'" + label for label in FORMULAS}
    for label in FORMULAS:
        assert '"' + "'" + label.replace('"', '""') + '"' in response.text  # in quotes, as text
    for line in response.text.splitlines()[1:]:
        cells: list[Any] = next(csv.reader([line], quoting=csv.QUOTE_NONNUMERIC))
        assert isinstance(cells[0], float) and isinstance(cells[2], float)  # run, step: bare numbers


@pytest.mark.parametrize("path", [CSV, HISTOGRAMS])
@pytest.mark.parametrize(
    ("query", "field", "kind"),
    [
        ("iterations=0&run=relu,he_normal", "iterations", "value_error"),
        ("iterations=1000000&run=relu,he_normal", "iterations", "budget_exceeded"),
    ],
)
def test_train_csv_checks_the_link_and_its_budget_first(
    client: TestClient, path: str, query: str, field: str, kind: str
) -> None:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"][1] == field and detail["type"] == kind


@pytest.mark.parametrize("path", [CSV, HISTOGRAMS])
def test_train_csv_takes_a_place_among_the_jobs_or_is_503(path: str) -> None:
    limits = Settings().limits
    settings = Settings(limits=type(limits)(**{**limits.describe(), "max_train_macs": 10**15}), max_jobs=1)
    app = create_app(settings)
    with TestClient(app) as client, client.stream("GET", f"/api/v1/train/stream?{LONG}") as running:
        lines = running.iter_lines()
        assert next(lines).startswith("event: start")
        busy = client.get(f"{path}?{TINY}")  # not cached: it would need a second job
        assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1
        assert busy.json()["detail"][0]["type"] == "overloaded"
        assert len(app.state.train_jobs.running) == 1


def _steps(text: str) -> list[dict[str, Any]]:
    header, *rows = _rows(text)
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_train_csv_of_a_diverged_run_stops_where_it_did(client: TestClient) -> None:
    link = "depth=4&width=100&iterations=30&record_every=10&captures=0&lr=5&run=relu,he_normal"
    document = client.get(f"/api/v1/train?{link}").json()
    [run] = document["runs"]
    assert run["status"] == "diverged" and run["steps"] < 30
    rows = _steps(client.get(f"{CSV}?{link}").text)
    assert [int(row["step"]) for row in rows] == list(range(run["steps"] + 1))
    # the step whose loss overflowed is an empty cell (null in the JSON), not "nan" or "inf"
    assert run["loss"][-1] is None and rows[-1]["loss"] == ""
    assert all(float(row["loss"]) < 1e300 for row in rows[:-1])
