"""Training presets: the texts' claims about what happens after initialization, one click each."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from . import train_codec


@dataclass(frozen=True)
class TrainPreset:
    name: str
    title: str
    shows: str  # one line: what to look at
    source: str  # which text, which claim
    query: str  # the canonical training link

    @property
    def training(self) -> train_codec.Training:
        return _training(self.query)


@cache
def _training(query: str) -> train_codec.Training:
    return train_codec.decode(query)


BOOK_MNIST = "002 (Saito ch. 6): 784-100-100-100-100-10 ReLU, batch 128, 2000 iterations, MNIST"

_LIST = [
    TrainPreset(
        "mnist-init",
        "MNIST: std 0.01 | Xavier | He (ReLU, SGD 0.01)",
        "std 0.01 barely learns (its gradients vanish); He learns fastest, Xavier in between.",
        BOOK_MNIST + "; weight_init_compare.py",
        "depth=4&run=relu,normal,std:0.01&run=relu,xavier&run=relu,he_normal",
    ),
    TrainPreset(
        "mnist-optimizers",
        "MNIST: SGD | Momentum | AdaGrad | Adam (He init)",
        "SGD is slowest; Momentum, AdaGrad and Adam bring the loss down faster.",
        BOOK_MNIST + "; optimizer_compare_mnist.py, each optimizer at the book's default rate",
        "depth=4&run=relu,he_normal&run=relu,he_normal,opt:momentum"
        "&run=relu,he_normal,opt:adagrad&run=relu,he_normal,opt:adam",
    ),
    TrainPreset(
        "dead-relu-lr",
        "Too large a learning rate kills ReLUs: Adam 0.001 | Adam 0.1",
        "At lr 0.1 most units of a layer die in the first steps (dead fraction) and never recover.",
        "002: too large a learning rate can leave ReLU units dead for good",
        "depth=4&iterations=500&record_every=10&run=relu,he_normal,opt:adam"
        "&run=relu,he_normal,opt:adam,lr:0.1",
    ),
    TrainPreset(
        "zero-init-symmetric",
        "Zero init stays symmetric: sigmoid zeros | sigmoid Xavier",
        "With zero weights every unit of a layer stays the same function (1 distinct unit) however "
        "long it trains, and the network stays at chance; Xavier's units differ, and it learns.",
        "001 and 003: all-equal weights never break symmetry",
        "depth=2&width=50&iterations=500&record_every=10&lr=0.1&run=sigmoid,zeros&run=sigmoid,xavier",
    ),
]
TRAIN_PRESETS = {p.name: p for p in _LIST}
