"""Training sweeps: the link (of=train, its axes, its canonical form), the cost bound, the metrics,
and on a real LocalCluster: every point equals the same training link trained alone by /train,
and cancel stops a running training between its steps."""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client
from fastapi.testclient import TestClient

from app import train_codec
from app.engine.training.config import train_cost
from app.engine.training.trainer import train_runs
from app.main import create_app
from app.settings import load_settings
from app.sweeps import cluster
from app.sweeps.cost import SweepLimits, plan
from app.sweeps.engine import BudgetError, CodecError, Limits
from app.sweeps.link import parse_sweep
from app.sweeps.metrics import TRAIN_METRIC_NAMES, training_metrics
from app.sweeps.point import PointCancelledError, compute_training_point
from app.sweeps.presets import SWEEP_PRESETS
from app.sweeps.runner import PointCache, SweepRun, point_key
from app.sweeps.train_link import expand_training
from tests.sweeps.counting import logged_training
from tests.sweeps.loopback import wait_gone

TINY = "data=synthetic&samples=200&width=16-16&iterations=40&record_every=10&run=relu,he_normal"
GRID = f"of=train&{TINY}&axis.lr=0.01,0.3&axis.init=he_normal,xavier"
# layer networks: BatchNorm on and off over two weight scales (normal reads std; he_normal does not)
BN_GRID = f"of=train&{TINY.replace('he_normal', 'normal')}&axis.norm=none,batch&axis.std=0.01,1"
# ~50 us a step: 100,000 steps run for seconds if not stopped
LONG = "data=synthetic&samples=100&width=4&iterations=100000&record_every=100000&run=relu,he_normal"


def _plan(query: str, limits: SweepLimits | None = None, point_limits: Limits | None = None):
    return plan(parse_sweep(query), limits or SweepLimits(), point_limits or Limits())


# ---- the link ---------------------------------------------------------------------------------


def test_of_train_reads_the_base_as_a_training_link() -> None:
    sweep = parse_sweep(GRID)
    assert sweep.kind == "train"
    assert sweep.base == train_codec.encode(train_codec.decode(TINY))
    assert sweep.query.startswith("of=train&")
    assert parse_sweep(sweep.query) == sweep  # canonical: parse(format(s)) == s


def test_a_base_only_the_training_codec_reads_is_a_training_without_of() -> None:
    sweep = parse_sweep(f"{TINY}&axis.lr=0.01,0.1")  # data=, iterations= are a training's keys
    assert sweep.kind == "train"
    assert sweep.query == parse_sweep(f"of=train&{TINY}&axis.lr=0.01,0.1").query


def test_experiment_sweep_links_keep_their_meaning() -> None:
    for query in ("run=relu,normal&axis.std=0.1,1", "depth=4&run=tanh,xavier&axis.gain=1,2"):
        sweep = parse_sweep(query)
        assert sweep.kind == "experiment"
        assert sweep.query == query  # no of= added: the same string as before training sweeps
    # the same pairs are a training's when the sweep says so
    assert parse_sweep("of=train&run=relu,normal&axis.std=0.1,1").kind == "train"


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        (f"of=nope&{TINY}&axis.lr=0.1,1", "of", "experiment or train"),
        (f"of=train&of=train&{TINY}&axis.lr=0.1,1", "of", "given twice"),
        (f"of=train&{TINY}&axis.batch.run1=10,20", "axis.batch.run1", "every run of a training"),
        (f"of=train&{TINY}&axis.nope=1,2", "axis.nope", "lr"),
        (f"of=train&{TINY}&axis.lr=0.1,20", "axis.lr", "over the field's maximum of 10"),
        (f"of=train&{TINY}&axis.opt=sgd,nadam", "axis.opt", "unknown opt 'nadam'"),
        (f"of=train&{TINY}&axis.iterations=10,2000000", "axis.iterations", "maximum of 1000000"),
        (f"of=train&{TINY}&range=-1,1&axis.lr=0.1,1", "range", "a training link does not take it"),
    ],
)
def test_bad_training_sweeps_name_the_key(query: str, field: str, words: str) -> None:
    with pytest.raises(CodecError) as caught:
        parse_sweep(query)
    assert caught.value.field == field
    assert words in caught.value.message


def test_points_are_the_training_links_a_user_would_write() -> None:
    sweep = parse_sweep(GRID)
    got = [(p.values, p.link) for p, _ in expand_training(sweep, 100)]
    by_hand = [
        ((lr, init), train_codec.encode(train_codec.decode(f"{TINY.replace('he_normal', init)}&lr={lr}")))
        for lr in (0.01, 0.3)
        for init in ("he_normal", "xavier")
    ]
    assert got == by_hand


def test_per_run_axes_and_the_optimizer() -> None:
    base = "data=synthetic&samples=100&width=8&iterations=5&run=relu,he_normal&run=tanh,xavier"
    sweep = parse_sweep(f"of=train&{base}&axis.opt=sgd,adam&axis.lr.run2=0.5")
    links = [p.link for p, _ in expand_training(sweep, 100)]
    runs = [train_codec.decode(link).runs for link in links]
    assert [[c.optimizer for c in r] for r in runs] == [["sgd", "sgd"], ["adam", "adam"]]
    assert [[dict(c.optimizer_params)["lr"] for c in r] for r in runs] == [[0.01, 0.5], [0.001, 0.5]]
    # a parameter the optimizer does not take is an error at the point that has it
    with pytest.raises(CodecError) as caught:
        expand_training(parse_sweep(f"of=train&{base}&axis.opt=adam,sgd&axis.beta1=0.8"), 100)
    assert caught.value.message.startswith("at opt=sgd, beta1=0.8: ")


def test_norm_and_std_axes_give_the_layer_network_links_a_user_would_write() -> None:
    sweep = parse_sweep(BN_GRID)
    assert [a.field for a in sweep.axes] == ["norm", "std"]
    got = [(p.values, p.link) for p, _ in expand_training(sweep, 100)]
    base = TINY.replace("he_normal", "normal")
    by_hand = [
        ((norm, std), train_codec.encode(train_codec.decode(f"{base},norm:{norm},std:{std}")))
        for norm in ("none", "batch")
        for std in (0.01, 1.0)
    ]
    assert got == by_hand
    archs = [t.runs[0].run.arch for _, t in expand_training(sweep, 100)]
    # the plain stack without a norm has no architecture; BatchNorm sits before the ReLU
    got_norms = [None if a is None else (a.norm, a.norm_at) for a in archs]
    assert got_norms == [None, None, ("batch", "before"), ("batch", "before")]
    # where the norm sits is an axis too, of the run that has one
    two = f"of=train&{base}&run=relu,normal,norm:batch&axis.norm_at.run2=before,after"
    links = [p.link for p, _ in expand_training(parse_sweep(two), 100)]
    run_archs = [[c.run.arch for c in train_codec.decode(link).runs] for link in links]
    assert [[None if a is None else a.norm_at for a in runs] for runs in run_archs] == [
        [None, "before"],
        [None, "after"],
    ]
    # without a norm, norm_at changes nothing: the duplicate points are refused, naming why
    with pytest.raises(CodecError) as caught:
        expand_training(parse_sweep(f"of=train&{base}&axis.norm=none,batch&axis.norm_at=before,after"), 100)
    assert caught.value.field == "axis.norm_at" and "norm_at only with a norm" in caught.value.message


def test_axes_that_change_nothing_are_refused() -> None:
    with pytest.raises(CodecError) as caught:  # he_normal does not read std
        expand_training(parse_sweep(f"of=train&{TINY}&axis.std=0.1,1"), 100)
    assert caught.value.field == "axis.std" and "same training" in caught.value.message


# ---- the cost ---------------------------------------------------------------------------------


def test_the_cost_counts_each_training_before_it_starts() -> None:
    planned = _plan(GRID)
    trainings = [t for _, t in expand_training(planned.sweep, 100)]
    assert planned.macs == tuple(sum(train_cost(c).macs for c in t.runs) for t in trainings)
    with pytest.raises(BudgetError) as caught:
        _plan(GRID, SweepLimits(max_macs=planned.total_macs - 1))
    assert caught.value.limit == "max_sweep_macs"
    # a point over a single training's budget is named, as /train would name it
    with pytest.raises(BudgetError) as caught:
        _plan(GRID, point_limits=Limits(max_train_macs=min(planned.macs) - 1))
    assert caught.value.limit == "max_train_macs"
    assert caught.value.message.startswith("at lr=0.01, init=he_normal: the training needs")


# ---- metrics ----------------------------------------------------------------------------------


def test_metrics_come_from_the_trainers_records() -> None:
    (config,) = train_codec.decode(TINY).runs
    (result,) = train_runs([config])
    (m,) = training_metrics([result])
    assert tuple(m) == TRAIN_METRIC_NAMES
    last, first = result.records[-1], result.records[0]
    assert last.step == 40 and m["steps"] == 40 and m["diverged"] == 0
    assert (m["final_loss"], m["test_accuracy"]) == (last.train_loss, last.test_accuracy)
    # records every 10 steps: a quarter of 40 is step 10, a half 20, three quarters 30
    assert [m["loss_25"], m["loss_50"], m["loss_75"]] == [r.train_loss for r in result.records[1:4]]
    assert m["loss_start"] == first.train_loss
    assert m["dead_layers"] == list(last.dead_fraction)
    assert m["dead_fraction"] == pytest.approx(sum(last.dead_fraction) / 2, abs=1e-15)


def test_a_diverged_run_has_no_final_metrics() -> None:
    (m,) = compute_training_point("width=50&iterations=40&record_every=10&lr=10&run=relu,he_normal")
    assert m["diverged"] == 1 and m["steps"] == 4  # MNIST at lr 10 overflows at its fifth step
    assert m["final_loss"] is m["test_accuracy"] is m["dead_fraction"] is m["loss_25"] is None
    assert m["loss_start"] is not None and m["dead_layers"] == []


def test_should_stop_ends_a_training_between_steps() -> None:
    asked = []

    def stop_after_five() -> bool:
        asked.append(1)
        return len(asked) > 5

    with pytest.raises(PointCancelledError) as caught:
        compute_training_point(LONG, stop_after_five)
    assert caught.value.steps == 5  # it asked before each step, and stopped at the sixth


def test_the_preset_is_a_small_relu_init_by_learning_rate_grid() -> None:
    preset = SWEEP_PRESETS["relu-init-lr"]
    planned = _plan(preset.query)
    assert planned.sweep.kind == "train" and planned.sweep.size == 21
    assert [a.field for a in planned.sweep.axes] == ["lr", "init"]
    trainings = [t for _, t in expand_training(planned.sweep, 100)]
    assert all(c.run.activation == "relu" and c.data == "mnist" for t in trainings for c in t.runs)
    assert {c.iterations for t in trainings for c in t.runs} == {200}
    assert preset.metric in TRAIN_METRIC_NAMES


def test_the_batchnorm_preset_is_the_books_grid() -> None:
    preset = SWEEP_PRESETS["batchnorm-scales"]
    planned = _plan(preset.query)
    assert planned.sweep.query == preset.query  # canonical, as the page finds it
    assert planned.sweep.kind == "train" and planned.sweep.size == 32
    std, norm = planned.sweep.axes
    assert (std.field, norm.field, norm.values) == ("std", "norm", ("none", "batch"))
    # Saito's np.logspace(0, -4, num=16), ascending, to the 10 digits sweep links keep
    assert std.values == pytest.approx(sorted(10.0 ** (-4 * i / 15) for i in range(16)), rel=1e-9)
    trainings = [t for _, t in expand_training(planned.sweep, 100)]
    for (point, training), cost in zip(expand_training(planned.sweep, 100), planned.macs, strict=True):
        (c,) = training.runs
        assert (c.run.activation, c.run.init, c.run.widths) == ("relu", "normal", (100,) * 5)
        assert (c.optimizer, c.optimizer_params, c.batch_size, c.iterations) == (
            "sgd",
            (("lr", 0.01),),
            100,
            200,
        )
        assert c.data == "mnist" and c.run.init_params()["std"] == point.values[0]
        normed = point.values[1] == "batch"
        assert (c.run.arch is not None and (c.run.arch.norm, c.run.arch.norm_at)) == (
            normed and ("batch", "before")
        )
        assert cost == train_cost(c).macs
    assert len(trainings) == 32 and planned.total_macs <= SweepLimits().max_macs
    assert preset.metric == "test_accuracy"


def test_the_batchnorm_preset_shows_the_books_effect_on_two_of_its_scales() -> None:
    """The preset's settings at two of its scales, 4e-3 and 1: with BatchNorm the network learns at
    both, without it stays at chance (4e-3: the signal vanishes) or overflows (1)."""
    preset = SWEEP_PRESETS["batchnorm-scales"]
    std = parse_sweep(preset.query).axes[0]
    small, large = std.values[6], std.values[15]
    assert (small, large) == (0.003981071706, 1.0)
    query = preset.query.replace(f"axis.std={std.text}", f"axis.std={small},{large}")
    subset = parse_sweep(query)
    assert subset.base == parse_sweep(preset.query).base and subset.size == 4
    got = {p.values: compute_training_point(p.link)[0] for p, _ in expand_training(subset, 100)}

    def number(values: tuple[int | float | str, ...], name: str) -> float:
        value = got[values][name]
        assert isinstance(value, float), (values, name, value)
        return value

    assert number((small, "none"), "test_accuracy") == pytest.approx(0.1, abs=0.01)  # chance
    assert number((small, "batch"), "test_accuracy") > 0.9
    assert got[(large, "none")]["diverged"] == 1 and got[(large, "none")]["test_accuracy"] is None
    assert number((large, "batch"), "test_accuracy") > 0.2  # twice chance, and still learning:
    losses = [number((large, "batch"), k) for k in ("loss_25", "loss_50", "loss_75", "final_loss")]
    assert losses == sorted(losses, reverse=True) and len(set(losses)) == 4  # its loss falls


# ---- on a LocalCluster ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_client() -> Iterator[Client]:
    client = cluster.connect(workers=2)
    pids = list(client.run(os.getpid).values())
    try:
        yield client
    finally:
        cluster.close(client)
        assert wait_gone(pids) == [], "the local cluster's worker processes outlived it"


@pytest.mark.parametrize("grid", [GRID, BN_GRID], ids=["init-lr", "norm-std"])
def test_every_point_equals_its_link_trained_alone_by_the_train_api(local_client: Client, grid: str) -> None:
    planned = _plan(grid)
    results = list(SweepRun(local_client, planned.points, PointCache(), kind="train"))
    assert sorted(r.point.index for r in results) == [0, 1, 2, 3]
    with TestClient(create_app(load_settings({}))) as api:
        for result in results:
            assert result.error is None and result.metrics is not None
            answer = api.get(f"/api/v1/train?{result.point.link}")
            assert answer.status_code == 200
            body = answer.json()
            assert body["share"] == result.point.link  # the point's link is /train's canonical link
            (run,) = body["runs"]
            (m,) = result.metrics
            records = run["records"]
            assert m["steps"] == body["steps"] == 40
            assert m["final_loss"] == records["train_loss"][-1]
            assert m["train_accuracy"] == records["train_accuracy"][-1]
            assert m["test_loss"] == records["test_loss"][-1]
            assert m["test_accuracy"] == records["test_accuracy"][-1]
            assert [m["loss_start"], m["loss_25"], m["loss_50"], m["loss_75"]] == records["train_loss"][:4]
            assert m["dead_layers"] == records["dead_fraction"][-1]
    # and equal to this process's own computation, bit for bit
    for result in results:
        assert result.metrics == compute_training_point(result.point.link)


def test_training_and_experiment_points_of_the_same_text_are_apart(local_client: Client) -> None:
    link = "run=relu,he_normal"  # a canonical experiment link and a canonical training link
    assert point_key(link) != point_key(link, "train")
    cache = PointCache()
    (experiment,) = SweepRun(local_client, _plan("run=relu,he_normal&axis.seed=1").points, cache)
    (training,) = SweepRun(local_client, _plan(f"of=train&{TINY}&axis.seed=1").points, cache, kind="train")
    assert experiment.metrics is not None and training.metrics is not None
    assert "chi_measured" in experiment.metrics[0] and "test_accuracy" in training.metrics[0]


def _wait_for_line(path: Path, prefix: str, seconds: float = 60.0) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text().splitlines():
                if line.startswith(prefix):
                    return line
        time.sleep(0.05)
    raise AssertionError(f"no {prefix!r} line in {path} after {seconds} s")


def test_cancel_stops_a_running_training_between_steps(local_client: Client, tmp_path: Path) -> None:
    log = tmp_path / "points.log"
    planned = _plan(f"of=train&{LONG}&axis.batch_seed=7")
    run = SweepRun(
        local_client,
        planned.points,
        PointCache(),
        compute=functools.partial(logged_training, str(log)),
        kind="train",
    )
    seen: list[object] = []
    iterating = threading.Thread(target=lambda: seen.extend(run))
    iterating.start()
    _wait_for_line(log, "start ")
    run.cancel()
    iterating.join(timeout=30)
    assert not iterating.is_alive() and seen == []
    steps = int(_wait_for_line(log, "cancelled ").split()[1])
    assert steps < 100_000  # it stopped early, between two steps, and said so
    assert "done" not in log.read_text().splitlines()
