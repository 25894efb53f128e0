"""Maxout's pieces: which of a unit's k affine maps win (are its maximum) on some sample.

A maxout unit never dies as a ReLU does: on every sample one of its pieces wins and passes the
gradient with slope 1. But a piece that wins on no sample receives no gradient at all, as a dead
ReLU's weights do: its weight set is paid for and unused, and a unit left with one live piece
computes an affine map, no longer a nonlinear one.
"""

from __future__ import annotations

import numpy as np

from .stats import Array


def winning_pieces(z: Array, pieces: int) -> np.ndarray:
    """(pieces, units) booleans: whether each piece of each unit is the maximum on some sample.

    z is a maxout layer's pre-activation, (samples, pieces * units), pieces side by side as the
    engine lays them out (piece p of unit u at column p * units + u). Ties go to the first piece,
    as the backward pass routes them.
    """
    samples, columns = z.shape
    if pieces < 1 or columns % pieces:
        raise ValueError(f"{columns} columns are not {pieces} pieces of equal width")
    winner = z.reshape(samples, pieces, columns // pieces).argmax(axis=1)
    return np.stack([(winner == p).any(axis=0) for p in range(pieces)])


def dead_pieces(z: Array, pieces: int) -> int:
    """How many pieces of the layer win on no sample of z (no gradient ever reaches them)."""
    return int(np.count_nonzero(~winning_pieces(z, pieces)))


def one_piece_units(z: Array, pieces: int) -> int:
    """How many units have a single winning piece on z: affine on these samples, not maxout."""
    return int(np.count_nonzero(winning_pieces(z, pieces).sum(axis=0) == 1))
