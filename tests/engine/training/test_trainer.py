"""Training: gradients against finite differences, the book's claims on MNIST, records, control."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from app.engine.layers.activations import ACTIVATIONS
from app.engine.layers.initializers import INITIALIZERS
from app.engine.network.config import make_run
from app.engine.network.forward import forward, input_samples
from app.engine.optimizers import OPTIMIZERS
from app.engine.params import ConfigError
from app.engine.training.config import (
    RECORD_OVERHEAD_MACS,
    STEP_OVERHEAD_MACS,
    TrainConfig,
    make_train_config,
    train_cost,
)
from app.engine.training.mlp import MLP, softmax_cross_entropy
from app.engine.training.trainer import Trainer, TrainResult, batch_schedule, train, train_runs

BOOK: dict[str, Any] = {"activation": "relu", "depth": 4, "width": 100}  # 784-100x4-10, zero biases
BOOK_INITS: dict[str, dict[str, Any]] = {
    "std 0.01": {"init": "normal", "std": 0.01},
    "xavier": {"init": "xavier"},
    "he": {"init": "he_normal"},
}
SMALL: dict[str, Any] = {"activation": "relu", "init": "he_normal", "depth": 2, "width": 32}


def _config(run: dict[str, Any], **settings: Any) -> TrainConfig:
    settings = {"iterations": 40, "record_every": 20, "captures": [], **settings}
    return make_train_config(run, **settings)


@pytest.fixture(scope="module")
def book_runs() -> dict[str, TrainResult]:
    """The book's init comparison (SGD lr 0.01, batch 128), shortened to 150 iterations: the order
    of the three is plain by then."""
    configs = [
        make_train_config({**BOOK, **init}, iterations=150, record_every=50, captures=[0, 150])
        for init in BOOK_INITS.values()
    ]
    return dict(zip(BOOK_INITS, train_runs(configs), strict=True))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_mlp_gradient_matches_finite_differences(name: str) -> None:
    run = make_run(
        {"activation": name, "init": "glorot_normal", "gain": 1.5, "bias": "normal", "bias_std": 0.3,
         "width": [4, 3], "input_dim": 5, "seed": 7}
    )  # fmt: skip
    model = MLP(run, 5, 3, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((6, 5))
    y = np.array([0, 1, 2, 2, 1, 0], dtype=np.intp)
    grads = model.new_grads()
    model.loss_and_grads(x, y, grads)
    h = 1e-6
    for key, p in model.params.items():
        numeric = np.zeros_like(p)
        for k in np.ndindex(p.shape):
            saved = p[k]
            p[k] = saved + h
            up = model.evaluate(x, y)[0]
            p[k] = saved - h
            down = model.evaluate(x, y)[0]
            p[k] = saved
            numeric[k] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[key], numeric, rtol=1e-5, atol=1e-8, err_msg=key)


def test_mlp_softmax_cross_entropy_stable_for_huge_logits() -> None:
    logits = np.array([[1e30, 0.0, -1e30], [3.0, 1.0, 0.5]], dtype=np.float32)
    y = np.array([1, 0], dtype=np.intp)
    loss, grad = softmax_cross_entropy(logits, y, out=None)
    reference = np.log(np.exp(np.array([3.0, 1.0, 0.5]) - 3.0).sum()) / 2 + 1e30 / 2
    assert loss == pytest.approx(reference, rel=1e-6)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-7)


def test_mlp_initial_weights_are_the_forward_pass_weights() -> None:
    """Training starts from the very network the dashboard shows for the run (position 0)."""
    run = make_run({**SMALL, "bias": "normal", "input_dim": 30, "samples": 10})
    model = MLP(run, 30, 10)
    for j, layer in enumerate(forward(run, input_samples(run), 0)):
        np.testing.assert_array_equal(model.params[f"W{j + 1}"], layer.weights)
        assert layer.bias is not None
        np.testing.assert_array_equal(model.params[f"b{j + 1}"], layer.bias)
    assert model.params["W3"].shape == (32, 10)


def test_training_short_run_learns(book_runs: dict[str, TrainResult]) -> None:
    he = book_runs["he"]
    assert he.status == "done"
    assert he.steps == len(he.loss) == 150
    assert he.loss.dtype == np.float64
    assert he.smoothed_loss()[-1] < 0.7 * he.loss[0]
    first, last = he.records[0], he.records[-1]
    assert [r.step for r in he.records] == [0, 50, 100, 150]
    assert last.train_accuracy > 0.6
    assert last.test_accuracy > 0.6  # chance is 0.1
    assert last.test_loss < first.test_loss


def test_training_book_claim_init_comparison(book_runs: dict[str, TrainResult]) -> None:
    """Book ch. 6: std 0.01 does not learn, He learns fastest, Xavier in between."""
    final = {name: float(r.smoothed_loss()[-1]) for name, r in book_runs.items()}
    assert final["std 0.01"] > 2.29  # ln 10 = 2.303: still guessing
    assert final["he"] < final["xavier"] - 0.3
    assert final["xavier"] < final["std 0.01"] - 0.01
    accuracy = {name: r.records[-1].test_accuracy for name, r in book_runs.items()}
    assert accuracy["he"] > accuracy["xavier"] > accuracy["std 0.01"]


def test_training_records_and_captures(book_runs: dict[str, TrainResult]) -> None:
    he = book_runs["he"]
    assert [c.step for c in he.captures] == [0, 150]
    first = he.records[0]
    assert first.update_ratio == ()
    assert len(first.dead_fraction) == 4
    for record in he.records[1:]:
        assert len(record.update_ratio) == 5  # four hidden weight matrices and the read-out
        # SGD at lr 0.01 moves He-initialized weights by about 1e-3 of their size per step
        assert all(r is not None and -5.0 < r < -1.5 for r in record.update_ratio)
    for layer in he.captures[-1].layers:
        assert layer.units == 100
        assert int(layer.activation.counts.sum()) == 1000 * 100  # the probe's samples x units
        assert int(layer.gradient.counts.sum()) == 1000 * 100
        assert layer.dead_units < 20
        assert layer.distinct_units == 100 - max(layer.dead_units - 1, 0)  # dead units are one function


@pytest.mark.parametrize(
    ("activation", "init"),
    [("sigmoid", {"init": "zeros"}), ("relu", {"init": "constant", "value": 0.01})],
)
def test_training_symmetric_init_stays_symmetric(activation: str, init: dict[str, Any]) -> None:
    """Text 000, claim A: a constant initialization never breaks the symmetry, however long the
    network trains (the gradients are the same for every unit of a layer)."""
    config = _config(
        {**BOOK, "activation": activation, **init}, iterations=60, optimizer_params={"lr": 0.1}, captures=[60]
    )
    result = train(config)
    assert result.status == "done"
    assert [layer.distinct_units for layer in result.captures[-1].layers] == [1, 1, 1, 1]
    moved = result.records[-1].update_ratio
    assert moved[-1] is not None  # the read-out is learning all the same


def test_training_large_learning_rate_kills_relu_units() -> None:
    """Text 001: too large a learning rate leaves ReLU units dead (0 on every sample) for good."""
    run = {**BOOK, "init": "he_normal", "seed": 0}
    calm = train(_config(run, iterations=30, record_every=10))  # the book's SGD at lr 0.01
    wild = train(_config(run, optimizer="adam", optimizer_params={"lr": 0.1}, iterations=30, record_every=10))
    assert max(calm.records[-1].dead_fraction) < 0.15
    assert max(wild.records[-1].dead_fraction) > 0.8
    assert all(max(r.dead_fraction) > 0.8 for r in wild.records[1:])  # dead from the first steps on


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_training_every_activation_trains(activation: str) -> None:
    result = train(_config({**SMALL, "activation": activation, "init": "glorot_normal"}, iterations=20))
    assert result.status == "done"
    assert np.isfinite(result.loss).all()
    assert len(result.records[-1].dead_fraction) == 2


@pytest.mark.parametrize("init", INITIALIZERS)
def test_training_every_initializer_trains(init: str) -> None:
    result = train(_config({**SMALL, "init": init, "bias": "none"}, iterations=20, captures=[20]))
    assert result.status == "done"
    assert sorted(result.config.run.init_params()) == sorted(p.name for p in INITIALIZERS[init].params)
    assert "b1" not in Trainer(result.config).model.params  # bias none: no bias anywhere


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_training_every_optimizer_lowers_the_loss(optimizer: str) -> None:
    result = train(_config(SMALL, optimizer=optimizer, iterations=60, record_every=60))
    first, last = result.records[0], result.records[-1]
    assert last.train_loss < first.train_loss - 0.1


def test_training_update_ratio_is_the_actual_change() -> None:
    """Adam's first step moves every weight by about lr, whatever its gradient: the ratio must
    measure that change, not lr * gradient."""
    trainer = Trainer(_config(SMALL, optimizer="adam", optimizer_params={"lr": 0.01}, record_every=1))
    before = {k: p.copy() for k, p in trainer.model.params.items()}
    trainer.advance(1)
    ratios = trainer.records[-1].update_ratio
    for k, ratio in enumerate(ratios, start=1):
        w = f"W{k}"
        change = trainer.model.params[w].astype(np.float64) - before[w]
        assert ratio is not None
        assert ratio == pytest.approx(math.log10(change.std() / before[w].std()), abs=1e-6)
        naive = math.log10(0.01 * trainer.grads[w].std() / before[w].std())
        assert abs(ratio - naive) > 0.5


def test_training_divergence_stops_with_a_flag() -> None:
    result = train(_config({**BOOK, "init": "he_normal"}, optimizer_params={"lr": 5.0}, iterations=30))
    assert result.status == "diverged"
    assert result.steps < 30
    assert len(result.loss) == result.steps + 1
    assert not math.isfinite(float(result.loss[-1]))
    assert np.isfinite(result.loss[:-1]).all()


def test_training_identical_configs_identical_results() -> None:
    config = _config(SMALL, captures=[20], optimizer="momentum")
    a, b = train(config), train(config)
    assert a.loss.tobytes() == b.loss.tobytes()
    assert a.records == b.records
    for la, lb in zip(a.captures[0].layers, b.captures[0].layers, strict=True):
        assert la.activation.counts.tobytes() == lb.activation.counts.tobytes()
        assert la.gradient.counts.tobytes() == lb.gradient.counts.tobytes()
        assert (la.dead_units, la.distinct_units) == (lb.dead_units, lb.distinct_units)


def test_training_runs_share_batches() -> None:
    """With a learning rate of 0 the weights never move, so each step's loss is that of the same
    network on that step's batch: equal curves mean equal batches, whatever the optimizer."""
    frozen = [
        _config(SMALL, optimizer="sgd", optimizer_params={"lr": 0.0}),
        _config(SMALL, optimizer="adam", optimizer_params={"lr": 0.0}),
    ]
    a, b = train_runs(frozen)
    assert a.loss.tobytes() == b.loss.tobytes()
    assert len(set(a.loss.tolist())) > 30  # the batches differ from step to step
    other = train(_config(SMALL, optimizer_params={"lr": 0.0}, batch_seed=1))
    assert other.loss[0] != a.loss[0]
    first = next(batch_schedule(4000, 128, 0))
    again = next(batch_schedule(4000, 128, 0))
    np.testing.assert_array_equal(first, again)


def test_training_batch_schedule_covers_each_epoch() -> None:
    batches = batch_schedule(10, 4, seed=5)
    seen = np.concatenate([next(batches) for _ in range(5)])  # two epochs of 10 rows
    assert sorted(seen[:10].tolist()) == list(range(10))
    assert sorted(seen[10:20].tolist()) == list(range(10))


def test_training_cancellation_stops_promptly() -> None:
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 7

    progress: list[int] = []
    result = train(
        _config(SMALL, iterations=1000, record_every=5),
        on_record=lambda r: progress.append(r.steps),
        should_stop=stop,
    )
    assert result.status == "cancelled"
    assert result.steps == 7
    assert progress == [5, 7]


def test_training_trainer_advances_in_steps() -> None:
    trainer = Trainer(_config(SMALL, iterations=30, record_every=10))
    trainer.advance(12)
    partial = trainer.result()
    assert (partial.status, partial.steps, len(partial.loss)) == ("running", 12, 12)
    assert [r.step for r in partial.records] == [0, 10]
    trainer.advance()
    assert trainer.result().status == "done"
    assert trainer.result().loss[:12].tobytes() == partial.loss.tobytes()


def test_training_synthetic_data_learns() -> None:
    run = {**SMALL, "input_dim": 20, "samples": 2000, "seed": 2}
    config = _config(
        run, data="synthetic", optimizer="adam", optimizer_params={"lr": 0.01}, iterations=150, batch_size=64
    )
    result = train(config)
    assert result.config.run.input_dim == 20
    assert result.records[-1].test_accuracy > 0.6  # 10 classes


def test_training_config_checks_fields() -> None:
    config = make_train_config({**SMALL, "input_dim": 5}, iterations=100)
    assert config.run.input_dim == 784  # MNIST's
    assert config.run.bias == "zeros"
    assert config.captures == (0, 25, 50, 100)
    assert dict(config.optimizer_params) == {"lr": 0.01}
    with pytest.raises(ConfigError, match="batch_size"):
        make_train_config(SMALL, batch_size=0)
    with pytest.raises(ConfigError, match="captures"):
        make_train_config(SMALL, iterations=10, captures=[11])
    with pytest.raises(ConfigError, match="optimizer"):
        make_train_config(SMALL, optimizer="lbfgs")
    with pytest.raises(ConfigError, match="data"):
        make_train_config(SMALL, data="cifar")


def test_training_cost_counts_multiply_adds() -> None:
    config = make_train_config(BOOK | BOOK_INITS["he"], iterations=100, record_every=50, captures=[100])
    per_sample = 784 * 100 + 3 * 100 * 100 + 100 * 10
    step = 128 * (3 * per_sample - 784 * 100)
    evaluations = 3 * (1000 + 1000) * per_sample  # records at 0, 50, 100
    capture = 1000 * 2 * per_sample
    overhead = (100 * STEP_OVERHEAD_MACS + 3 * RECORD_OVERHEAD_MACS) * 5  # per layer, 5 layers
    cost = train_cost(config)
    assert cost.macs == 100 * step + evaluations + capture + overhead
    assert train_cost(make_train_config(BOOK | BOOK_INITS["he"], iterations=200)).macs > cost.macs
    assert 16 << 20 < cost.memory_bytes < 256 << 20
    assert cost.response_values > 100
