"""Layer networks as classifiers (block_mlp.py): gradients, BatchNorm's two modes, training."""

from __future__ import annotations

import numpy as np
import pytest

from app import train_codec
from app.engine.layers.norm import BatchNorm
from app.engine.network.blocks import set_training
from app.engine.network.config import make_run
from app.engine.params import ConfigError
from app.engine.training.block_mlp import BlockMLP
from app.engine.training.config import make_train_config, train_cost
from app.engine.training.trainer import train, train_runs

ARCHS = [
    {"norm": "batch"},
    {"norm": "layer", "norm_at": "after"},
    {"block": "residual", "norm": "batch", "branch": 2},
    {"block": "residual", "norm": "rms", "norm_at": "post", "res_init": "rezero"},
]


@pytest.mark.parametrize("arch", ARCHS, ids=str)
def test_loss_gradients_match_central_differences(arch: dict[str, object]) -> None:
    run = make_run({"activation": "tanh", "init": "xavier", "bias": "normal", "depth": 2, "width": 5, **arch})
    model = BlockMLP(run, features=4, classes=3, dtype=np.float64)
    rng = np.random.default_rng(0)
    for p in model.params.values():  # away from ReZero's 0, norms' 1 and 0
        p += rng.standard_normal(p.shape) * 0.2
    x = rng.standard_normal((9, 4))
    y = rng.integers(0, 3, 9).astype(np.intp)
    grads = model.new_grads()
    model.loss_and_grads(x, y, grads)

    def loss() -> float:
        set_training(model.net, False)
        return model.backward(x, model._run(x, keep=True, training=False), y, None)

    h = 1e-6
    for key, p in model.params.items():
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            keep = p[i]
            p[i] = keep + h
            up = loss()
            p[i] = keep - h
            down = loss()
            p[i] = keep
            numeric[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[key], numeric, rtol=1e-5, atol=1e-9, err_msg=key)


def test_batch_norm_trains_on_batch_statistics_and_evaluates_on_running_averages() -> None:
    run = make_run({"activation": "relu", "init": "he_normal", "depth": 2, "width": 6, "norm": "batch"})
    model = BlockMLP(run, features=4, classes=3, dtype=np.float64)
    norms = [layer for layer in model.net.layers if isinstance(layer, BatchNorm)]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 4)) * 3 + 1
    y = rng.integers(0, 3, 50).astype(np.intp)
    before = norms[0].running_mean.copy()
    model.loss_and_grads(x, y, model.new_grads())
    z = x @ model.params["W1"]
    np.testing.assert_allclose(norms[0].running_mean, 0.9 * before + 0.1 * z.mean(axis=0))
    np.testing.assert_allclose(norms[0].running_var, 0.9 * 1.0 + 0.1 * z.var(axis=0))
    # Inference: each sample alone gives the same logits as in the batch (no batch statistics)
    whole = model.infer(x)
    alone = np.concatenate([model.infer(x[i : i + 1]) for i in range(5)])
    np.testing.assert_allclose(whole[:5], alone, rtol=1e-12)
    # An evaluation between a pass and its backward leaves that pass's caches (captures rely on it)
    loss, accuracy, probe = model.evaluate(x, y, keep=True)
    model.evaluate(x[:7], y[:7])
    assert model.backward(x, probe, y, None) == pytest.approx(
        model.backward(x, model._run(x, keep=True, training=False), y, None)
    )
    assert 0.0 <= accuracy <= 1.0 and np.isfinite(loss)


def test_the_books_batch_norm_comparison_at_std_0_01() -> None:
    """Saito 6.3.2 at one of its scales: 5 ReLU layers of 100, weights std 0.01, SGD 0.01, batch
    100: without BN the network stays at chance, with BN it learns."""
    link = (
        "batch=100&iterations=300&record_every=100"
        "&run=relu,normal,norm:batch,std:0.01&run=relu,normal,std:0.01"
    )
    normed, plain = train_runs(train_codec.decode(link).runs)
    assert normed.status == plain.status == "done"
    assert normed.records[-1].test_accuracy > 0.8
    assert plain.records[-1].test_accuracy < 0.15
    layers = normed.captures[-1].layers
    assert len(layers) == 10  # a row per norm and per activation, each saying which
    assert [(c.layer_type, c.name) for c in layers[:2]] == [
        ("batch_norm", "layer 1 · batch_norm"),
        ("activation", "layer 1 · relu"),
    ]
    assert plain.captures[-1].layers[0].layer_type is None  # a plain stack's captures as before
    assert train_codec.encode(train_codec.decode(link)) == link


def test_a_residual_network_trains() -> None:
    config = make_train_config(
        {
            "activation": "relu",
            "init": "he_normal",
            "block": "residual",
            "norm": "layer",
            "depth": 3,
            "width": 64,
        },
        optimizer="adam",
        optimizer_params={"lr": 0.001},
        iterations=200,
        record_every=100,
    )
    result = train(config)
    assert result.status == "done" and result.records[-1].test_accuracy > 0.7
    assert result.loss[-20:].mean() < result.loss[:20].mean() / 2


def test_cost_counts_every_branch_and_row() -> None:
    base = {"activation": "relu", "init": "he_normal", "depth": 6, "width": 64}
    plain = train_cost(make_train_config(base))
    residual = train_cost(make_train_config({**base, "block": "residual", "branch": 2, "norm": "batch"}))
    assert residual.macs > plain.macs and residual.memory_bytes > plain.memory_bytes


def test_bce_is_refused_for_layer_networks() -> None:
    with pytest.raises(ConfigError) as err:
        make_train_config({"activation": "tanh", "init": "xavier", "norm": "layer"}, loss="bce")
    assert err.value.field == "loss"
