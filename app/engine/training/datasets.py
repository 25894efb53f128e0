"""Data sets for training: a 5,000-digit MNIST subset shipped with the package, and synthetic tasks.

`load_mnist` follows Saito's `dataset/mnist.py` (normalize, flatten, one_hot; pixels / 255 as
float32), on the subset described in data/README.md. The split is fixed, not random: of each digit
the first 400 rows train and the last 100 test, then both parts are interleaved by digit, so every
prefix is balanced. Arrays are made once per process and returned read-only: callers share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..network.config import RunConfig
from ..network.forward import input_samples

MNIST_FILE = "mnist_5k.npz"
MNIST_CLASSES = 10
MNIST_SIDE = 28
MNIST_PER_CLASS = 500
MNIST_TEST_PER_CLASS = 100  # of the 500 per digit; the other 400 train
SYNTHETIC_TEST_FRACTION = 0.2
TEACHER_STREAM = 3  # a random stream of the run's seed, beside inputs (0), weights (1), gradients (2)

Part = tuple[NDArray[np.generic], NDArray[np.generic]]  # (inputs, labels)


@dataclass(frozen=True)
class Dataset:
    """A classification task: flat float32 inputs and integer labels 0..classes-1."""

    name: str
    x_train: NDArray[np.float32]  # (train samples, features)
    y_train: NDArray[np.intp]
    x_test: NDArray[np.float32]
    y_test: NDArray[np.intp]
    classes: int

    @property
    def features(self) -> int:
        return int(self.x_train.shape[1])


A = TypeVar("A", bound=np.ndarray[Any, Any])


def _frozen(a: A) -> A:
    a.flags.writeable = False
    return a


@cache
def _mnist_raw() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    with (resources.files(__package__) / "data" / MNIST_FILE).open("rb") as f, np.load(f) as npz:
        images = np.asarray(npz["images"], dtype=np.uint8)
        labels = np.asarray(npz["labels"], dtype=np.uint8)
    return images, labels


@cache
def mnist_split_indices() -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row numbers of the training and test digits in the shipped file, in their order."""
    _, labels = _mnist_raw()
    train, test = [], []
    for digit in range(MNIST_CLASSES):
        rows = np.flatnonzero(labels == digit)  # in file order
        cut = len(rows) - MNIST_TEST_PER_CLASS
        train.append(rows[:cut])
        test.append(rows[cut:])
    # Interleave by digit: row k of a part is digit k % 10 (every digit has as many rows).
    return (
        _frozen(np.stack(train, axis=1).reshape(-1)),
        _frozen(np.stack(test, axis=1).reshape(-1)),
    )


@cache
def load_mnist(normalize: bool = True, flatten: bool = True, one_hot: bool = False) -> tuple[Part, Part]:
    """((x_train, t_train), (x_test, t_test)): 4,000 and 1,000 digits.

    normalize: pixels / 255 as float32 in [0, 1] (else uint8 0-255). flatten: (N, 784) (else
    (N, 1, 28, 28), as the book). one_hot: labels as (N, 10) float32 rows (else uint8 digits).
    """
    images, labels = _mnist_raw()
    x: NDArray[np.generic] = images.astype(np.float32) / np.float32(255.0) if normalize else images
    x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, MNIST_SIDE, MNIST_SIDE)
    t: NDArray[np.generic] = labels
    if one_hot:
        t = np.zeros((len(labels), MNIST_CLASSES), dtype=np.float32)
        t[np.arange(len(labels)), labels] = 1.0
    train, test = mnist_split_indices()
    return (
        (_frozen(x[train]), _frozen(t[train])),
        (_frozen(x[test]), _frozen(t[test])),
    )


@cache
def mnist() -> Dataset:
    """The MNIST subset as a training task: flat, normalized inputs."""
    (x_train, t_train), (x_test, t_test) = load_mnist()  # shared, not copied: the same arrays
    return Dataset(
        "mnist",
        np.asarray(x_train, dtype=np.float32),
        _frozen(t_train.astype(np.intp)),
        np.asarray(x_test, dtype=np.float32),
        _frozen(t_test.astype(np.intp)),
        MNIST_CLASSES,
    )


def synthetic(run: RunConfig, classes: int = MNIST_CLASSES) -> Dataset:
    """The run's own inputs (its input distribution, input_dim and samples), labelled by a random
    linear teacher: y = argmax(x_c @ T) for x_c the inputs centred on their mean, T ~ N(0, 1).

    Learnable by any network (a linear read-out suffices), so training curves show the effect of
    initialization and optimizer alone. A function of the run's input settings and seed only.
    """
    x: NDArray[np.float32] = input_samples(run, np.float32)  # the dashboard's inputs for this run
    teacher = np.random.default_rng([run.seed, TEACHER_STREAM]).standard_normal((run.input_dim, classes))
    scores = (x - x.mean(axis=0, dtype=np.float64)) @ teacher
    y = scores.argmax(axis=1).astype(np.intp)
    cut = split_sizes("synthetic", run.samples)[0]
    return Dataset(
        "synthetic",
        _frozen(x[:cut]),
        _frozen(y[:cut]),
        _frozen(x[cut:]),
        _frozen(y[cut:]),
        classes,
    )


@cache
def mnist_pair(first: int, second: int) -> Dataset:
    """Two digits of the MNIST subset as a two-class task: `first` is label 0, `second` label 1.
    The rows keep their order in the subset's split (alternating the two digits, so every prefix,
    the probe included, is balanced)."""
    full = mnist()

    def part(x: NDArray[np.float32], y: NDArray[np.intp]) -> tuple[NDArray[np.float32], NDArray[np.intp]]:
        rows = np.flatnonzero((y == first) | (y == second))
        return _frozen(x[rows]), _frozen((y[rows] == second).astype(np.intp))

    x_train, y_train = part(full.x_train, full.y_train)
    x_test, y_test = part(full.x_test, full.y_test)
    return Dataset(f"mnist {first}-{second}", x_train, y_train, x_test, y_test, 2)


def split_sizes(name: str, samples: int = 0, digits: tuple[int, int] | None = None) -> tuple[int, int]:
    """(training, test) sizes of data set `name` (`samples`: the synthetic set's total; `digits`:
    MNIST's two digits of a two-class task)."""
    if name == "mnist":
        classes = MNIST_CLASSES if digits is None else 2
        return (
            classes * (MNIST_PER_CLASS - MNIST_TEST_PER_CLASS),
            classes * MNIST_TEST_PER_CLASS,
        )
    test = max(1, round(SYNTHETIC_TEST_FRACTION * samples))
    return samples - test, test
