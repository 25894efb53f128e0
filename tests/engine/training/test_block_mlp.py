"""Layer networks as classifiers (block_mlp.py): gradients, BatchNorm's two modes, training."""

from __future__ import annotations

import numpy as np
import pytest

from app import train_codec
from app.engine.layers.norm import BatchNorm
from app.engine.network.blocks import output, set_training
from app.engine.network.config import make_run
from app.engine.training.block_mlp import BinaryBlockMLP, BlockMLP, block_model
from app.engine.training.config import make_train_config, train_cost, train_parameters
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


@pytest.mark.parametrize("arch", ARCHS, ids=str)
def test_bce_loss_gradients_match_central_differences(arch: dict[str, object]) -> None:
    run = make_run({"activation": "tanh", "init": "xavier", "bias": "normal", "depth": 2, "width": 5, **arch})
    model = BinaryBlockMLP(run, features=4, dtype=np.float64)
    assert model.readout.weights.shape == (5, 1)
    rng = np.random.default_rng(0)
    for p in model.params.values():
        p += rng.standard_normal(p.shape) * 0.2
    x = rng.standard_normal((9, 4))
    y = rng.integers(0, 2, 9).astype(np.intp)
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
    # the loss is binary cross-entropy of the one logit, in inference mode for evaluate
    s = model.infer(x)[:, 0]
    expected = np.mean(np.log1p(np.exp(-np.where(y == 1, s, -s))))
    loss_value, accuracy, _ = model.evaluate(x, y)
    assert loss_value == pytest.approx(expected, rel=1e-12)
    assert accuracy == np.mean((s > 0) == (y == 1))


def test_a_layer_network_trains_on_bce_with_lsuv() -> None:
    """MNIST 0 against 1 with LayerNorm blocks and LSUV: learns, and the records carry the output
    unit's histogram as a plain bce training's do."""
    config = make_train_config(
        {"activation": "tanh", "init": "lsuv", "block": "residual", "norm": "layer", "depth": 2, "width": 32},
        loss="bce",
        iterations=100,
        record_every=50,
        captures=[0, 100],
    )
    # stem, two blocks' projections, the read-out (weights, zero biases), three LayerNorms' gamma, beta
    assert train_parameters(config) == (784 * 32 + 32) + 2 * (32 * 32 + 32) + (32 + 1) + 3 * 2 * 32
    result = train(config)
    assert result.status == "done" and result.records[-1].test_accuracy > 0.95
    assert result.captures[-1].output is not None


def test_lsuv_scales_the_classifier_on_its_data() -> None:
    run = make_run(
        {"activation": "tanh", "init": "lsuv", "norm": "batch", "depth": 2, "width": 20, "bias": "zeros"}
    )
    x = np.random.default_rng(2).standard_normal((200, 4)).astype(np.float32)
    model = BlockMLP(run, features=4, classes=3, init_data=x)
    logits = model.readout.forward(output(model.net, x))
    assert abs(float(logits.var(dtype=np.float64)) - 1.0) < 0.1
    with pytest.raises(ValueError, match="needs the inputs"):
        BlockMLP(run, features=4, classes=3)


@pytest.mark.parametrize(
    "arch",
    [
        {"norm": "batch"},
        {"norm": "rms", "norm_at": "after", "activation": "maxout"},
        {"norm": "layer", "activation": "maxout", "pieces": 3, "width": [7, 5, 4], "depth": 3},
        {"block": "residual", "branch": 2, "norm": "layer"},
        {"block": "residual", "branch": 2, "norm": "batch", "norm_at": "post"},
        {"block": "residual", "res_init": "rezero", "bias": "normal"},
        {"block": "residual", "res_init": "fixup", "branch": 2, "bias": "none"},
    ],
    ids=str,
)
@pytest.mark.parametrize("loss", ["softmax", "bce"])
def test_train_parameters_count_every_trained_number(arch: dict[str, object], loss: str) -> None:
    """train_parameters counts what the model trains: residual branches' layers (both of a
    branch=2), every norm's gamma and beta, ReZero's scalars, maxout's k weight sets."""
    config = make_train_config(
        {"activation": "relu", "init": "he_normal", "depth": 3, "width": 6, **arch}, loss=loss
    )
    model = block_model(config.run, 784, 10, loss, None)
    assert train_parameters(config) == sum(p.size for p in model.params.values())


@pytest.mark.parametrize("arch", ARCHS, ids=str)
@pytest.mark.parametrize("loss", ["softmax", "bce"])
def test_loss_and_gradients_match_pytorch(arch: dict[str, object], loss: str) -> None:
    """The classifier's loss and every parameter's gradient against PyTorch's autograd on the same
    weights: the network as test_blocks builds it in torch, the read-out, cross-entropy or
    binary cross-entropy with logits (BatchNorm on the batch's statistics, as a step has it)."""
    torch = pytest.importorskip("torch", reason="the PyTorch comparison runs wherever torch is installed")
    from tests.engine.network.test_blocks import _torch_forward

    run = make_run({"activation": "tanh", "init": "xavier", "bias": "normal", "depth": 2, "width": 5, **arch})
    model = (
        BinaryBlockMLP(run, 4, dtype=np.float64) if loss == "bce" else BlockMLP(run, 4, 3, dtype=np.float64)
    )
    rng = np.random.default_rng(0)
    for p in model.params.values():
        p += rng.standard_normal(p.shape) * 0.2
    x = rng.standard_normal((9, 4))
    y = rng.integers(0, model.readout.weights.shape[1] if loss == "softmax" else 2, 9).astype(np.intp)
    grads = model.new_grads()
    ours = model.loss_and_grads(x, y, grads)

    rows: dict[int, object] = {}
    hidden = _torch_forward(model.net, torch.tensor(x, dtype=torch.float64, requires_grad=True), rows)
    w = torch.tensor(model.readout.params["W"], requires_grad=True)
    b = torch.tensor(model.readout.params["b"], requires_grad=True)
    logits = hidden @ w + b
    if loss == "bce":
        theirs = torch.nn.functional.binary_cross_entropy_with_logits(
            logits[:, 0], torch.tensor(y, dtype=torch.float64)
        )
    else:
        theirs = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
    theirs.backward()
    assert ours == pytest.approx(float(theirs.detach()), rel=1e-12)
    torch_params = model.net.torch_params  # type: ignore[attr-defined]
    for key, (layer, name) in model._owners.items():
        tensor = (w if name == "W" else b) if layer is model.readout else torch_params[id(layer)][name]
        np.testing.assert_allclose(grads[key], tensor.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=key)
