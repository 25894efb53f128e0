"""Training presets: the texts' claims about what happens after initialization, one click each.

Each preset is its training link and carries the claim of the text it trains (app/claims), whose
verdict and every quoted number tests/test_train_presets.py derives from the preset's own training,
as tests/test_claims.py does for the experiment presets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from . import train_codec
from .claims import TrainClaim, cs231n, cs231n_maxout, ng, saito_batchnorm, saito_training


@dataclass(frozen=True)
class TrainPreset:
    name: str
    title: str
    query: str  # the canonical training link
    claim: TrainClaim  # the text's claim this training shows, and the verdict on it

    @property
    def shows(self) -> str:
        """One line: what to look at (the claim's)."""
        return self.claim.look_at

    @property
    def source(self) -> str:
        return self.claim.source

    @property
    def training(self) -> train_codec.Training:
        return _training(self.query)


@cache
def _training(query: str) -> train_codec.Training:
    return train_codec.decode(query)


# Small networks (50 units) at SGD 0.1 for 1000 steps: each of these trains in a few seconds of one
# core, far within the default training budget, so it runs from the gallery while one waits.
SMALL_NET = "width=50&iterations=1000&record_every=25&lr=0.1"

_LIST = [
    TrainPreset(
        "mnist-init",
        "MNIST: std 0.01 | Xavier | He (ReLU, SGD 0.01)",
        "depth=4&run=relu,normal,std:0.01&run=relu,xavier&run=relu,he_normal",
        saito_training.INIT,
    ),
    TrainPreset(
        "mnist-optimizers",
        "MNIST: SGD | Momentum | AdaGrad | Adam (He init)",
        "depth=4&run=relu,he_normal&run=relu,he_normal,opt:momentum"
        "&run=relu,he_normal,opt:adagrad&run=relu,he_normal,opt:adam",
        saito_training.OPTIMIZERS,
    ),
    TrainPreset(
        "dead-relu-lr",
        "Too large a learning rate kills ReLUs: Adam 0.001 | Adam 0.1",
        "depth=4&iterations=500&record_every=10&run=relu,he_normal,opt:adam"
        "&run=relu,he_normal,opt:adam,lr:0.1",
        cs231n.DEAD_RELU_LR,
    ),
    TrainPreset(
        "maxout-lr",
        "Maxout at the learning rate that kills ReLUs: ReLU | maxout (Adam 0.1)",
        # dead-relu-lr's rate on 50-unit layers: two runs in a few seconds
        "depth=4&width=50&iterations=500&record_every=10&opt=adam&lr=0.1&run=relu,he_normal&run=maxout,he_normal",
        cs231n_maxout.MAXOUT_LR,
    ),
    TrainPreset(
        "zero-init-symmetric",
        "Zero init stays symmetric: sigmoid zeros | sigmoid Xavier",
        "depth=2&width=50&iterations=500&record_every=10&lr=0.1&run=sigmoid,zeros&run=sigmoid,xavier",
        ng.ZERO_INIT_TRAINING,
    ),
    TrainPreset(
        "ng-small-init-train",
        "×0.01 trained: 2 tanh layers | 10 layers | 10 layers with Xavier",
        f"depth=2&{SMALL_NET}&run=tanh,normal,std:0.01&run=tanh,normal,std:0.01,depth:10"
        # labelled: the default label tells only twins apart, and this run's depth is the point
        "&run=tanh,xavier,depth:10,label:tanh%20%C2%B7%20Xavier%20%C2%B7%20depth%2010",
        ng.SMALL_INIT_TRAINING,
    ),
    TrainPreset(
        "tanh-sigmoid-train",
        "Hidden sigmoid | hidden tanh, trained (Xavier, same batches)",
        f"depth=2&{SMALL_NET}&run=sigmoid,xavier&run=tanh,xavier",
        ng.TANH_TRAINING,
    ),
    TrainPreset(
        "binary-tanh-sigmoid",
        "Binary classifier: tanh hidden layers, sigmoid output (4 or 9?)",
        f"depth=2&{SMALL_NET.replace('&iterations', '&loss=bce&digits=4-9&iterations')}&run=tanh,xavier",
        ng.BINARY,
    ),
    TrainPreset(
        "relu-speed",
        "How much faster ReLU trains: ReLU | tanh | sigmoid",
        f"depth=4&{SMALL_NET}&run=relu,xavier&run=tanh,xavier&run=sigmoid,xavier",
        cs231n.RELU_SPEED,
    ),
    # The book's BatchNorm comparison (5 ReLU layers of 100, SGD 0.01, batches of 100), one weight
    # scale per link: BatchNorm before each ReLU | none, on the same weights and batches
    TrainPreset(
        "mnist-batchnorm-std001",
        "MNIST with | without BatchNorm, weights std 0.01",
        "batch=100&iterations=400&run=relu,normal,norm:batch,std:0.01&run=relu,normal,std:0.01",
        saito_batchnorm.STD_001,
    ),
    TrainPreset(
        "mnist-batchnorm-std1",
        "MNIST with | without BatchNorm, weights std 1",
        "batch=100&iterations=400&run=relu,normal,norm:batch&run=relu,normal",
        saito_batchnorm.STD_1,
    ),
]
TRAIN_PRESETS = {p.name: p for p in _LIST}
