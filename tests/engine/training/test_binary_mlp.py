"""The binary classifier: one sigmoid output unit on binary cross-entropy, beside MLP's layers."""

from __future__ import annotations

import numpy as np

from app.engine.network.config import make_run
from app.engine.training.binary_mlp import BinaryMLP, sigmoid, sigmoid_cross_entropy
from app.engine.training.config import make_train_config, train_cost
from app.engine.training.datasets import mnist, mnist_pair
from app.engine.training.mlp import MLP
from app.engine.training.trainer import train


def test_binary_mlp_loss_and_gradient_are_binary_cross_entropys() -> None:
    s = np.array([[-40.0], [-2.0], [0.0], [3.0], [40.0]])
    y = np.array([0, 1, 1, 0, 1], dtype=np.intp)
    loss, grad = sigmoid_cross_entropy(s, y, out=None)
    p = 1 / (1 + np.exp(-s[:, 0]))
    # -[y log σ(s) + (1 - y) log(1 - σ(s))], written with logaddexp: log σ(s) = -log(1 + e^-s)
    expected = np.mean(y * np.logaddexp(0, -s[:, 0]) + (1 - y) * np.logaddexp(0, s[:, 0]))
    assert np.isclose(loss, expected, rtol=1e-9) and np.isfinite(loss)  # no log(0) at |s| = 40
    assert np.allclose(grad[:, 0], (p - y) / len(y))
    # the gradient is the loss's derivative, by central differences
    h = 1e-6
    for i in range(len(s)):
        up, down = s.copy(), s.copy()
        up[i] += h
        down[i] -= h
        numeric = (sigmoid_cross_entropy(up, y, None)[0] - sigmoid_cross_entropy(down, y, None)[0]) / (2 * h)
        assert np.isclose(grad[i, 0], numeric, atol=1e-7)
    assert sigmoid(np.array([-800.0, 800.0])).tolist() == [0.0, 1.0]  # no overflow warning either way


def test_binary_mlp_hidden_layers_are_mlps_own_draws() -> None:
    run = make_run({"activation": "tanh", "init": "xavier", "width": [30, 20], "bias": "zeros"})
    binary, softmax = BinaryMLP(run, 784), MLP(run, 784, 10)
    for name in ("W1", "W2", "b1", "b2"):
        assert np.array_equal(binary.params[name], softmax.params[name])
    assert binary.params["W3"].shape == (20, 1) and softmax.params["W3"].shape == (20, 10)


def test_binary_mlp_pair_of_digits_is_a_balanced_two_class_task() -> None:
    pair, full = mnist_pair(4, 9), mnist()
    assert (len(pair.y_train), len(pair.y_test), pair.classes) == (800, 200, 2)
    assert pair.y_train[:4].tolist() == [0, 1, 0, 1]  # alternating: every prefix (the probe) balanced
    fours = full.x_train[full.y_train == 4]
    assert np.array_equal(pair.x_train[pair.y_train == 0], fours)


def test_binary_mlp_trains_and_costs_less_than_ten_outputs() -> None:
    run = make_run({"activation": "tanh", "init": "xavier", "width": [20], "bias": "zeros"})
    binary = make_train_config(run, loss="bce", digits=(3, 8), iterations=100, record_every=50)
    softmax = make_train_config(run, iterations=100, record_every=50)
    assert train_cost(binary).macs < train_cost(softmax).macs  # one output, a fifth of the data
    result = train(binary)
    assert (
        result.records[-1].test_accuracy > 0.8
        and result.records[-1].train_loss < result.records[0].train_loss
    )
    output = result.captures[-1].output
    assert output is not None and 0 < (output.activation.min or 0) <= (output.activation.max or 1) < 1
    assert train(binary).loss.tobytes() == result.loss.tobytes()  # deterministic
