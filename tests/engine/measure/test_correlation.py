"""Input pairs with a chosen correlation, and the measured correlation of vectors."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.measure.correlation import pair_correlations, pair_inputs
from app.engine.params import ConfigError


def test_pair_inputs_have_the_chosen_correlation_and_norm() -> None:
    x = pair_inputs([0.1, -0.5, 0.99, 1.0], 5, 64, 2.0, np.random.default_rng(0)).astype(np.float64)
    assert x.shape == (40, 64) and x.dtype == np.float64
    norms = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(norms, np.sqrt(64 * 2.0), rtol=1e-6)
    c = (x[0::2] * x[1::2]).sum(axis=1) / (norms[0::2] * norms[1::2])
    np.testing.assert_allclose(c, np.repeat([0.1, -0.5, 0.99, 1.0], 5), atol=1e-6)
    assert abs(float(np.dot(x[0], x[2]))) < 0.6 * 64 * 2.0  # pairs are independent draws


def test_pair_inputs_need_two_features() -> None:
    with pytest.raises(ConfigError, match="input_dim"):
        pair_inputs([0.5], 1, 1, 1.0, np.random.default_rng(0))


def test_pair_correlations_mean_and_sd_per_group() -> None:
    a = np.array(
        [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [-1.0, 0.0], [1.0, 1.0], [1.0, 0.0]]
    )
    means, sds = pair_correlations(a, 2, 2)
    assert means[0] == pytest.approx(0.5) and sds[0] == pytest.approx(0.5)
    assert means[1] == pytest.approx((-1 + 2**-0.5) / 2)


def test_pair_correlations_none_for_zero_or_nonfinite() -> None:
    z = np.array([[0.0, 0.0], [1.0, 0.0], [np.inf, 1.0], [1.0, 1.0]], dtype=np.float32)
    means, sds = pair_correlations(z, 2, 1)
    assert means == [None, None] and sds == [None, None]
