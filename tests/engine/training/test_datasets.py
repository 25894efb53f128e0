"""The shipped MNIST subset and the synthetic task: formats, split, determinism, provenance."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from app.engine.network.config import make_run
from app.engine.training.datasets import load_mnist, mnist, mnist_split_indices, split_sizes, synthetic

DATA = Path(__file__).resolve().parents[3] / "app" / "engine" / "training" / "data"


def _readme_digest(name: str) -> str:
    text = (DATA / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^- {re.escape(name)} sha256: `([0-9a-f]{{64}})`", text, re.MULTILINE)
    assert match, f"README states no sha256 for {name}"
    return match.group(1)


def test_datasets_file_checksum_matches_readme() -> None:
    digest = hashlib.sha256((DATA / "mnist_5k.npz").read_bytes()).hexdigest()
    assert digest == _readme_digest("mnist_5k.npz")


def test_datasets_arrays_checksum_matches_readme() -> None:
    with np.load(DATA / "mnist_5k.npz") as npz:
        images, labels = npz["images"], npz["labels"]
    assert images.shape == (5000, 28, 28)
    assert images.dtype == labels.dtype == np.uint8
    assert hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest() == _readme_digest("arrays")


def test_datasets_mnist_shapes_dtypes_range() -> None:
    (x_train, t_train), (x_test, t_test) = load_mnist()
    assert x_train.shape == (4000, 784)
    assert x_test.shape == (1000, 784)
    assert x_train.dtype == x_test.dtype == np.float32
    assert t_train.dtype == t_test.dtype == np.uint8
    for x in (x_train, x_test):
        assert float(x.min()) == 0.0
        assert float(x.max()) == 1.0
    assert (len(t_train), len(t_test)) == split_sizes("mnist")


def test_datasets_mnist_labels_balanced() -> None:
    (_, t_train), (_, t_test) = load_mnist()
    assert np.bincount(t_train, minlength=10).tolist() == [400] * 10
    assert np.bincount(t_test, minlength=10).tolist() == [100] * 10
    # interleaved by digit: every prefix is balanced
    assert t_train[:20].tolist() == list(range(10)) * 2
    assert t_test[:10].tolist() == list(range(10))


def test_datasets_mnist_split_disjoint() -> None:
    train, test = mnist_split_indices()
    assert len(np.intersect1d(train, test)) == 0
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(5000))
    (x_train, _), (x_test, _) = load_mnist(normalize=False)
    assert not {row.tobytes() for row in x_train} & {row.tobytes() for row in x_test}


def test_datasets_mnist_formats_agree() -> None:
    (x, t), _ = load_mnist()
    (raw, onehot), _ = load_mnist(normalize=False, flatten=False, one_hot=True)
    assert raw.shape == (4000, 1, 28, 28)
    assert raw.dtype == np.uint8
    np.testing.assert_array_equal(raw.reshape(4000, -1).astype(np.float32) / np.float32(255.0), x)
    assert onehot.shape == (4000, 10)
    assert onehot.dtype == np.float32
    np.testing.assert_array_equal(onehot.sum(axis=1), 1.0)
    np.testing.assert_array_equal(onehot.argmax(axis=1), t)


def test_datasets_mnist_deterministic_cached_read_only() -> None:
    first = load_mnist()
    assert load_mnist() is first  # made once per process
    again = load_mnist.__wrapped__()  # built anew, bypassing the cache
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    x = first[0][0]
    with pytest.raises(ValueError, match="read-only"):
        x[0, 0] = 1.0
    data = mnist()
    assert data.x_train is x  # the training task shares the loader's arrays
    assert data.y_train.dtype == np.intp
    assert data.features == 784
    assert data.classes == 10


def test_datasets_synthetic_deterministic_and_learnable_labels() -> None:
    run = make_run({"activation": "relu", "init": "he_normal", "input_dim": 20, "samples": 500, "seed": 3})
    a, b = synthetic(run), synthetic(run)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert (len(a.y_train), len(a.y_test)) == split_sizes("synthetic", 500) == (400, 100)
    assert a.x_train.dtype == np.float32
    assert a.features == 20
    assert set(a.y_train.tolist()) <= set(range(10))
    assert len(set(a.y_train.tolist())) >= 5  # a random teacher uses many classes
    other = synthetic(
        make_run({**{"activation": "relu", "init": "he_normal"}, "input_dim": 20, "samples": 500})
    )
    assert not np.array_equal(other.x_train, a.x_train)  # another seed, other samples
