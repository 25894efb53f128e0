"""`initscope sweep` on a real local Dask cluster: in process, and as the installed script
(whose LocalCluster's worker processes start from its __main__); and `Client.sweep` against a
real server."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app import cli, train_codec
from app.client import Client, InitscopeError
from app.sweeps.link import parse_sweep
from app.sweeps.metrics import METRIC_NAMES
from app.sweeps.point import compute_point, compute_training_point

SCRIPT = Path(sys.executable).with_name("initscope")
BASE = "depth=6&width=30&samples=100&bias=normal&run=tanh,xavier"
AXES = ("--axis", "gain=0.5:2:lin:3", "--axis", "bias_std=0,0.5")


def test_sweep_writes_every_point_as_computed_alone(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["sweep", "--link", f"http://x/?{BASE}#grid", *AXES, "--workers", "1"])
    out, err = capsys.readouterr()
    assert status == 0
    assert "6 points" in err and "[##############################] 6/6 points" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 6
    assert list(rows[0]) == ["index", "link", "gain", "bias_std", "run", "error", *METRIC_NAMES]
    for row in rows:
        (metrics,) = compute_point(row["link"])
        assert float(row["chi_measured"]) == metrics["chi_measured"]
        assert row["act_std"] == " ".join(repr(v) for v in metrics["act_std"])  # type: ignore[union-attr]
    assert [(r["gain"], r["bias_std"]) for r in rows[:2]] == [("0.5", "0.0"), ("0.5", "0.5")]


TRAIN_BASE = "data=synthetic&samples=200&width=16&iterations=20&record_every=10&run=relu,he_normal"


def test_a_train_page_link_sweeps_trainings(capsys: pytest.CaptureFixture[str]) -> None:
    # a training link with no training key of its own: the /train address says what it is
    link = "http://x/train?data=synthetic&samples=200&width=16&run=relu,he_normal"
    argv = ["sweep", "--link", link, "--axis", "lr=0.01,0.1", "--workers", "1"]
    status = cli.main([*argv, "--metric", "test_accuracy", "--metric", "steps"])
    out, err = capsys.readouterr()
    assert status == 0 and "2 points" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["index", "link", "lr", "run", "error", "test_accuracy", "steps"]
    for row in rows:
        (metrics,) = compute_training_point(row["link"])
        assert float(row["test_accuracy"]) == metrics["test_accuracy"]
        assert float(row["steps"]) == metrics["steps"] == 2000  # the default iterations
    hand = [f"data=synthetic&samples=200&width=16&lr={lr}&run=relu,he_normal" for lr in (0.01, 0.1)]
    assert [r["link"] for r in rows] == [train_codec.encode(train_codec.decode(h)) for h in hand]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--link", BASE, "--axis", "gain"], "--axis: is FIELD=VALUES"),
        (["--link", BASE, "--axis", "gain=1:2:lin:1"], "axis.gain: a range's point count must be 2 to 1000"),
        (["--link", BASE, *AXES, "--metric", "nope"], "--metric nope: unknown"),
        (["--preset", "nope"], "--preset nope: unknown"),
        (["--link", "run=relu,he_normal", "--axis", "std=1,2"], "the runs do not read std"),
        (["--link", BASE, *AXES, "--metric", "test_accuracy"], "not a metric of an experiment's points"),
        (
            ["--link", f"of=train&{TRAIN_BASE}", "--axis", "lr=0.1,1", "--metric", "chi_star"],
            "not a metric of a training's points",
        ),
        (["--link", f"of=train&{TRAIN_BASE}", "--axis", "batch.run1=1,2"], "every run of a training"),
    ],
)
def test_sweep_usage_errors_name_the_argument(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    assert cli.main(["sweep", *argv]) == 2
    assert words in capsys.readouterr().err


def test_installed_script_writes_json_with_chosen_metrics(tmp_path: Path) -> None:
    out = tmp_path / "grid.json"
    done = subprocess.run(
        [str(SCRIPT), "sweep", "--link", BASE, *AXES, "--metric", "chi_star", "--metric", "std_ratio",
         "--out", str(out), "--workers", "2"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    assert (
        document["complete"]
        and document["sweep"] == parse_sweep(f"{BASE}&axis.gain=0.5:2:lin:3&axis.bias_std=0,0.5").query
    )
    assert [m["name"] for m in document["metrics"]] == ["chi_star", "std_ratio"]
    for point in document["points"]:
        (metrics,) = compute_point(point["link"])
        assert point["runs"] == [{"chi_star": metrics["chi_star"], "std_ratio": metrics["std_ratio"]}]


def test_client_sweep_returns_rows(live_server: str) -> None:
    with Client(live_server) as client:
        rows = client.sweep(link=BASE, axes={"gain": "0.5:2:lin:3", "bias_std": [0, 0.5]})
        assert len(rows) == 6
        assert rows[1]["gain"] == 0.5 and rows[1]["bias_std"] == 0.5 and rows[1]["run"] == 1
        for row in rows:
            (metrics,) = compute_point(row["link"])
            assert {k: row[k] for k in METRIC_NAMES} == metrics
        same = client.sweep(f"{BASE}&axis.gain=0.5:2:lin:3&axis.bias_std=0,0.5")
        assert same == rows
        with pytest.raises(InitscopeError) as caught:
            client.sweep(link=BASE, axes={"gain": "1:2:lin:1"})
        assert caught.value.status_code == 422 and "axis.gain" in str(caught.value)
