"""Surfaces and optimizer paths: gradients, the book's comparison, divergence, configuration checks."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.optimizers import OPTIMIZERS
from app.engine.params import ConfigError
from app.engine.paths.surfaces import (
    BOOK_LR,
    BOOK_OPTIMIZERS,
    DIVERGENCE_BOUND,
    SURFACES,
    ZIGZAG_NEAR,
    ZIGZAG_START,
    ZIGZAG_TARGET,
    PathRun,
    compute_paths,
    contour_grid,
    make_paths_config,
    make_zigzag_config,
    optimizer_path,
    optimizer_paths,
    plot_window,
    unit_paths,
    zigzag_inputs,
)

BOOK = SURFACES["book"]


def _book_paths() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    paths = optimizer_paths(BOOK, (-7.0, 2.0), 30, list(BOOK_OPTIMIZERS))
    return {p.optimizer: (p.x, p.y) for p in paths}


@pytest.mark.parametrize("name", list(SURFACES))
def test_surfaces_gradient_matches_finite_differences(name: str) -> None:
    s = SURFACES[name]
    rng = np.random.default_rng(0)
    x0, x1, y0, y1 = s.window
    x, y = rng.uniform(x0, x1, 20), rng.uniform(y0, y1, 20)
    h = 1e-6
    gx, gy = s.grad(x, y)
    np.testing.assert_allclose(gx, (s.f(x + h, y) - s.f(x - h, y)) / (2 * h), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(gy, (s.f(x, y + h) - s.f(x, y - h)) / (2 * h), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", list(SURFACES))
def test_surfaces_minima_are_stationary_and_lowest(name: str) -> None:
    s = SURFACES[name]
    for mx, my in s.minima:
        gx, gy = s.grad(np.array(mx), np.array(my))
        assert abs(float(gx)) < 1e-12 and abs(float(gy)) < 1e-12
        assert float(s.f(np.array(mx), np.array(my))) == pytest.approx(s.f_min)
    x, y, _ = contour_grid(s, s.window)
    gx, gy = np.meshgrid(x, y)
    assert s.f(gx, gy).min() >= s.f_min - 1e-12


@pytest.mark.parametrize("name", list(SURFACES))
def test_surfaces_registry_entries_are_complete(name: str) -> None:
    s = SURFACES[name]
    assert s.name == name and s.label and s.formula.startswith("f(x, y) = ") and s.note
    x0, x1, y0, y1 = s.window
    assert x0 < s.start[0] < x1 and y0 < s.start[1] < y1
    assert all(x0 < mx < x1 and y0 < my < y1 for mx, my in s.minima)
    x, y, z = contour_grid(s, s.window, points=31)
    assert x.shape == (31,) and y.shape == (31,) and z.shape == (31, 31)
    assert np.isfinite(z).all()
    # Rows follow y: the value at row i, column j is the level at (x[j], y[i]).
    level = s.f(np.array(x[3]), np.array(y[7]))
    expected = np.log10(1 + level - s.f_min) if s.log_levels else level
    assert z[7, 3] == pytest.approx(float(expected))


def test_surfaces_book_sgd_steps_by_hand() -> None:
    x, y = _book_paths()["sgd"]
    # grad = (x / 10, 2 y); p -= 0.95 grad
    assert x[:3] == pytest.approx([-7.0, -7 + 0.95 * 0.7, -6.335 + 0.95 * 0.6335])
    assert y[:3] == pytest.approx([2.0, 2 - 0.95 * 4, -1.8 + 0.95 * 3.6])
    assert (x[1], y[1]) == pytest.approx((-6.335, -1.8))
    assert (x[2], y[2]) == pytest.approx((-5.733175, 1.62))


def test_surfaces_book_adagrad_and_adam_steps_by_hand() -> None:
    paths = _book_paths()
    x, y = paths["adagrad"]
    # Step 1 moves lr = 1.5 against the gradient's sign in each coordinate; step 2:
    # g = (-0.55, 1), h = (0.49 + 0.3025, 16 + 1): x += 1.5 * 0.55 / sqrt(0.7925), y -= 1.5 / sqrt(17)
    assert (x[1], y[1]) == pytest.approx((-5.5, 0.5), abs=1e-6)
    assert (x[2], y[2]) == pytest.approx((-4.573268, 0.136197), abs=1e-6)
    x, y = paths["adam"]
    assert (x[1], y[1]) == pytest.approx((-6.7, 1.7), abs=1e-5)  # Adam's first step: lr * sign(g)


def test_surfaces_book_sgd_zigzags_in_y_and_arrives_last() -> None:
    paths = _book_paths()
    x, y = paths["sgd"]
    assert np.all(np.sign(y[1:]) == -np.sign(y[:-1]))  # y changes sign every step
    assert np.all(np.diff(x) > 0)  # while x creeps steadily towards 0

    def first_near(name: str) -> int:
        px, py = paths[name]
        return int(np.argmax(np.hypot(px, py) < 0.5))

    assert first_near("sgd") > max(first_near(n) for n in ("momentum", "adagrad", "adam"))
    for name in ("adagrad", "adam"):
        px, py = paths[name]
        assert np.hypot(px[-1], py[-1]) < 0.5
    assert np.hypot(*paths["adagrad"])[-1] < np.hypot(*paths["sgd"])[-1]


def test_surfaces_divergence_stops_and_says_so() -> None:
    path = optimizer_path(SURFACES["rosenbrock"], (-1.5, 2.0), 30, "sgd", {"lr": 0.95})
    # step 1 lands at (145.75, 49.5); step 2 overshoots far beyond the bound
    assert path.diverged and path.diverged_at == 2
    assert len(path.x) == len(path.y) == len(path.values) == 2
    assert np.isfinite(path.values).all()


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_surfaces_paths_stay_finite_at_any_learning_rate(surface: str, optimizer: str) -> None:
    """The largest learning rates: no overflow warning (warnings are errors), finite points only."""
    s = SURFACES[surface]
    for lr in (10.0, BOOK_LR[optimizer]):
        path = optimizer_path(s, (100.0, -100.0), 200, optimizer, {"lr": lr})
        assert np.isfinite(path.values).all()
        assert np.abs(np.concatenate([path.x, path.y])).max() <= DIVERGENCE_BOUND
        assert len(path.x) == (201 if path.diverged_at is None else path.diverged_at)


def test_surfaces_plot_window_grows_to_show_the_start() -> None:
    assert plot_window(BOOK, (-7.0, 2.0)) == BOOK.window
    x0, x1, y0, y1 = plot_window(BOOK, (30.0, -8.0))  # margins: a tenth of the window (20 by 10)
    assert x0 == -10 and x1 == pytest.approx(32.0) and y0 == pytest.approx(-9.0) and y1 == 5


def test_surfaces_config_defaults_are_the_books() -> None:
    config = make_paths_config()
    assert (config.surface, config.start, config.steps) == ("book", (-7.0, 2.0), 30)
    assert config.runs[0] == PathRun("sgd", {"lr": 0.95})
    assert config.runs[3] == PathRun("adam", {"lr": 0.3, "beta1": 0.9, "beta2": 0.999})
    assert make_paths_config("rosenbrock").start == SURFACES["rosenbrock"].start
    assert [len(p.x) for p in compute_paths(config)] == [31] * 4


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"surface": "sphere"}, "surface", "unknown surface 'sphere'; one of book"),
        ({"start": (0.0, 101.0)}, "start", "each coordinate must be between -100 and 100"),
        ({"start": (float("nan"), 0.0)}, "start", "finite"),
        ({"steps": 0}, "steps", "between 1 and 1000"),
        ({"steps": 1001}, "steps", "between 1 and 1000"),
        ({"steps": 2.5}, "steps", "integer"),
        ({"runs": []}, "opt", "between 1 and 8 optimizers, got 0"),
        ({"runs": [("sgd", {})] * 9}, "opt", "between 1 and 8 optimizers, got 9"),
        ({"runs": [("sgd", {}), ("lbfgs", {})]}, "opt[1]", "unknown optimizer 'lbfgs'"),
        ({"runs": [("adam", {"lr": 20.0})]}, "opt[0].lr", "between 0 and 10"),
        ({"runs": [("sgd", {"beta1": 0.5})]}, "opt[0].beta1", "takes no parameter"),
    ],
)
def test_surfaces_config_rejects_bad_values(kwargs: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        make_paths_config(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_surfaces_zigzag_positive_inputs_move_both_weights_the_same_way() -> None:
    config = make_zigzag_config()
    positive, centred = unit_paths(config)
    x_pos, x_cen = zigzag_inputs(config.seed)
    assert (x_pos > 0).all() and np.allclose(x_cen.mean(axis=0), 0)  # what each kind of input is
    steps = np.diff(positive.w, axis=0)
    assert (np.sign(steps[:, 0]) == np.sign(steps[:, 1])).all() and positive.same_sign == 1.0
    assert 0.3 < centred.same_sign < 0.7  # centred: a step goes down-right as often as not
    assert positive.detour > 2 * centred.detour > 2  # the staircase is the longer way
    for path in (positive, centred):
        assert path.w.shape == (config.steps + 1, 2) and tuple(path.w[0]) == ZIGZAG_START
        assert np.isclose(path.length, np.hypot(*np.diff(path.w, axis=0).T).sum())
        assert np.isclose(path.straight, np.hypot(*(path.w[-1] - path.w[0])))
        assert path.arrived is not None and np.hypot(*(path.w[path.arrived] - ZIGZAG_TARGET)) < ZIGZAG_NEAR
        assert np.hypot(*(path.w[path.arrived - 1] - ZIGZAG_TARGET)) >= ZIGZAG_NEAR
    again = unit_paths(config)
    assert all(a.w.tobytes() == b.w.tobytes() for a, b in zip(again, (positive, centred), strict=True))


def test_surfaces_zigzag_step_is_the_units_gradient_by_hand() -> None:
    config = make_zigzag_config(steps=1, lr=1.0)
    (positive, _) = unit_paths(config)
    # from w = 0: f = 1/2, so the step is -lr (1/2 - y) (1/4) x for the first sample of the order
    moved = positive.w[1] - positive.w[0]
    x, _ = zigzag_inputs(config.seed)
    y = 1 / (1 + np.exp(-(x @ np.array(ZIGZAG_TARGET))))
    candidates = [-(0.5 - y[i]) * 0.25 * x[i] for i in range(len(x))]
    assert any(np.allclose(moved, c) for c in candidates)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"steps": 0}, "steps"), ({"steps": 5001}, "steps"), ({"lr": 0}, "lr"), ({"seed": -1}, "seed")],
)
def test_surfaces_zigzag_config_is_bounded(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_zigzag_config(**kwargs)
    assert caught.value.field == field
