"""Optimizers: steps computed by hand, the book's defaults, in-place updates and parameter checks."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.optimizers import OPTIMIZERS, make_optimizer
from app.engine.params import ConfigError

BOOK_DEFAULTS = {
    "sgd": {"lr": 0.01},
    "momentum": {"lr": 0.01, "momentum": 0.9},
    "nesterov": {"lr": 0.01, "momentum": 0.9},
    "adagrad": {"lr": 0.01},
    "rmsprop": {"lr": 0.01, "decay": 0.99},
    "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999},
}

# (optimizer, params, gradients fed one per step, the parameter after each step), from p = 1.
# Worked by hand from the book's formulas; eps = 1e-7 only shows below the tolerance.
HAND_STEPS = {
    "sgd": (
        {"lr": 0.1},
        [2.0, 1.0, -1.0],
        # p - 0.1 g
        [0.8, 0.7, 0.8],
    ),
    "momentum": (
        {"lr": 0.1, "momentum": 0.9},
        [1.0, 1.0, -1.0],
        # v = -0.1, -0.09 - 0.1 = -0.19, -0.171 + 0.1 = -0.071; p += v
        [0.9, 0.71, 0.639],
    ),
    "nesterov": (
        {"lr": 0.1, "momentum": 0.9},
        [1.0, 1.0, -1.0],
        # v as for momentum; p += 0.81 v - 0.19 g
        # 1 - 0.081 - 0.19; 0.729 - 0.1539 - 0.19; 0.3851 - 0.05751 + 0.19
        [0.729, 0.3851, 0.51759],
    ),
    "adagrad": (
        {"lr": 0.1},
        [2.0, 1.0, 2.0],
        # h = 4, 5, 9; p -= 0.1 g / sqrt(h): 0.1, 0.1 / sqrt(5) = 0.04472136, 0.2 / 3
        [0.9, 0.85527864, 0.78861197],
    ),
    "rmsprop": (
        {"lr": 0.1, "decay": 0.99},
        [2.0, 1.0],
        # h = 0.01 * 4 = 0.04, step 0.1 * 2 / 0.2 = 1; h = 0.0396 + 0.01 = 0.0496,
        # step 0.1 / sqrt(0.0496) = 0.44901326
        [0.0, -0.44901326],
    ),
    "adam": (
        {"lr": 0.1, "beta1": 0.9, "beta2": 0.999},
        [2.0, 1.0, -1.0],
        # t=1: lr_t = 0.1 sqrt(0.001) / 0.1, m = 0.2, v = 0.004: the step is lr = 0.1
        # t=2: lr_t = 0.1 sqrt(0.001999) / 0.19 = 0.02353167, m = 0.28, v = 0.004996, step 0.09321768
        # t=3: lr_t = 0.1 sqrt(0.002997001) / 0.271 = 0.02020106, m = 0.152, v = 0.005991004,
        #      step 0.03967047
        [0.9, 0.80678233, 0.76711185],
    ),
}


def test_optimizers_hand_steps_cover_the_registry() -> None:
    assert set(HAND_STEPS) == set(OPTIMIZERS)
    assert set(BOOK_DEFAULTS) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", list(HAND_STEPS))
def test_optimizers_match_hand_computed_steps(name: str) -> None:
    params_in, grads, expected = HAND_STEPS[name]
    opt = make_optimizer(name, **params_in)
    params = {"w": np.array([1.0])}
    seen = []
    for g in grads:
        opt.update(params, {"w": np.array([g])})
        seen.append(float(params["w"][0]))
    assert seen == pytest.approx(expected, abs=2e-6)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_defaults_are_the_books(name: str) -> None:
    assert OPTIMIZERS[name].defaults() == BOOK_DEFAULTS[name]
    opt = make_optimizer(name)
    for key, value in BOOK_DEFAULTS[name].items():
        assert getattr(opt, key) == value


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_update_in_place_per_key(name: str) -> None:
    """The caller's arrays change (no rebinding), each key keeps its own state, dtype is kept."""
    opt = make_optimizer(name, lr=0.1)
    w = np.array([[1.0, -2.0], [3.0, 0.5]], dtype=np.float32)
    b = np.zeros(3)
    params: dict[str, np.ndarray] = {"W": w, "b": b}
    for _ in range(3):
        opt.update(params, {"W": 2 * params["W"], "b": np.ones(3)})
    assert params["W"] is w and params["b"] is b
    assert w.dtype == np.float32
    assert np.all(np.abs(w) < np.abs(np.array([[1.0, -2.0], [3.0, 0.5]])))
    assert np.all(b < 0)
    # A key seen for the first time later gets fresh state.
    params["c"] = np.array([1.0])
    opt.update(params, {"W": 2 * w, "b": np.ones(3), "c": np.array([1.0])})
    assert params["c"][0] < 1.0


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_zero_gradient_moves_nothing(name: str) -> None:
    opt = make_optimizer(name)
    params = {"w": np.array([1.5, -0.5])}
    for _ in range(5):
        opt.update(params, {"w": np.zeros(2)})
    np.testing.assert_array_equal(params["w"], [1.5, -0.5])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_descend_a_quadratic(name: str) -> None:
    opt = make_optimizer(name, lr=0.2)
    params = {"w": np.array([2.0, -1.0])}
    for _ in range(200):
        opt.update(params, {"w": 2 * params["w"]})
    assert np.abs(params["w"]).max() < 0.5


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_spec_describes_itself(name: str) -> None:
    spec = OPTIMIZERS[name]
    assert spec.name == name
    assert spec.label and spec.formula
    assert spec.params[0].name == "lr"
    for p in spec.params:
        assert p.low is not None and p.high is not None
        assert p.low <= float(p.default) <= p.high


def test_optimizers_reject_unknown_optimizer() -> None:
    with pytest.raises(ConfigError, match="unknown optimizer 'lbfgs'; one of sgd") as info:
        make_optimizer("lbfgs")
    assert info.value.field == "optimizer"


def test_optimizers_reject_unknown_parameter() -> None:
    with pytest.raises(ConfigError, match="SGD takes no parameter 'momentum'; it takes lr") as info:
        make_optimizer("sgd", momentum=0.9)
    assert info.value.field == "momentum"


@pytest.mark.parametrize(
    ("name", "params", "field", "message"),
    [
        ("sgd", {"lr": -0.1}, "lr", "between 0 and 10"),
        ("adam", {"lr": 11.0}, "lr", "between 0 and 10"),
        ("momentum", {"momentum": 1.0}, "momentum", "between 0 and 0.999"),
        ("rmsprop", {"decay": 1.5}, "decay", "between 0 and 0.9999"),
        ("adam", {"beta1": 1.0}, "beta1", "between 0 and 0.999"),
        ("adam", {"beta2": float("nan")}, "beta2", "finite"),
    ],
)
def test_optimizers_reject_out_of_range(name: str, params: dict[str, float], field: str, message: str):
    with pytest.raises(ConfigError, match=message) as info:
        make_optimizer(name, **params)
    assert info.value.field == field
