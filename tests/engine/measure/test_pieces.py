"""Maxout's pieces: which win on some sample, which never do (and so get no gradient)."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.measure.pieces import dead_pieces, one_piece_units, winning_pieces
from app.engine.network.backward import backward, upstream_gradient
from app.engine.network.config import make_run
from app.engine.network.forward import forward, input_samples


def test_pieces_a_piece_that_never_wins_is_dead() -> None:
    # 2 pieces of 3 units side by side: piece p of unit u is column p * 3 + u
    z = np.array(
        [
            [1.0, 0.0, 5.0, 0.0, 2.0, -1.0],  # unit 0: piece 0 wins; unit 1: piece 1; unit 2: piece 0
            [3.0, 0.0, 4.0, 1.0, 2.0, -9.0],  # unit 0: piece 0 wins again; unit 1: piece 1; unit 2: piece 0
        ]
    )
    np.testing.assert_array_equal(winning_pieces(z, 2), [[True, False, True], [False, True, False]])
    assert dead_pieces(z, 2) == 3
    assert one_piece_units(z, 2) == 3


def test_pieces_ties_go_to_the_first_piece_as_the_gradient_does() -> None:
    z = np.zeros((4, 6))
    assert dead_pieces(z, 3) == 4 and one_piece_units(z, 3) == 2


def test_pieces_columns_must_split_into_equal_pieces() -> None:
    with pytest.raises(ValueError, match="7 columns are not 2 pieces"):
        winning_pieces(np.zeros((2, 7)), 2)


def test_pieces_dead_pieces_are_the_ones_the_backward_pass_never_reaches() -> None:
    """A piece that wins on no sample has dL/dz = 0 on every sample (its weights get no gradient),
    and every other piece gets some: the measure and the engine's gradient agree."""
    run = make_run(
        {"activation": "maxout", "pieces": 3, "init": "he_normal", "bias": "normal", "bias_std": 2.0,
         "width": 50, "depth": 2, "input_dim": 20, "samples": 30, "seed": 1}
    )  # fmt: skip
    x = input_samples(run)
    layers = list(forward(run, x, 0))
    grads, _ = backward(run, layers, x, upstream_gradient(run, 0, layers[-1].a, "normal"))
    total = 0
    for layer, grad in zip(layers, grads, strict=True):
        reached = (grad.delta != 0).any(axis=0).reshape(3, -1)
        np.testing.assert_array_equal(reached, winning_pieces(layer.z, 3))
        total += dead_pieces(layer.z, 3)
    assert total > 0  # biases of std 2 over 30 samples leave some pieces always below another
