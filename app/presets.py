"""Named experiments that reproduce the teaching texts' claims, one click each.

Each preset is written as its share link, the product's own readable format, so a preset and
the link to it are the same thing, and carries the claim of the text it reproduces (app/claims):
tests check every link is canonical and every claim's verdict and numbers against its output.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from . import codec
from .claims import ExperimentClaim, cs231n, cs231n_maxout, ng, nielsen, norms, saito_relu, saito_sigmoid
from .engine.network.config import ExperimentConfig


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    query: str
    claim: ExperimentClaim  # the text's claim this experiment shows, and the product's verdict on it

    @property
    def shows(self) -> str:
        """One line: what to look at (the claim's; kept for the catalog's `shows`)."""
        return self.claim.look_at

    @property
    def source(self) -> str:
        """Which text, in plain words."""
        return self.claim.source

    @property
    def experiment(self) -> ExperimentConfig:
        return _experiment(self.query)


@cache
def _experiment(query: str) -> ExperimentConfig:
    return codec.to_experiment(codec.decode(query))


_PRESET_LIST = [
    Preset(
        "saito-compare",
        "Sigmoid std 1 | sigmoid Xavier | ReLU He",
        "range=0,1&run=sigmoid,normal&run=sigmoid,xavier&run=relu,he_normal",
        saito_sigmoid.COMPARE,
    ),
    Preset("saito-sigmoid-std1", "E1: sigmoid, std 1", "run=sigmoid,normal", saito_sigmoid.E1),
    Preset("saito-sigmoid-std001", "E2: sigmoid, std 0.01", "run=sigmoid,normal,std:0.01", saito_sigmoid.E2),
    Preset("saito-sigmoid-xavier", "E3: sigmoid, Xavier", "run=sigmoid,xavier", saito_sigmoid.E3),
    Preset("saito-tanh-xavier", "E4: tanh, Xavier", "run=tanh,xavier", saito_sigmoid.E4),
    # range 0 to 1, as in the book
    Preset("saito-relu-std001", "E5: ReLU, std 0.01", "range=0,1&run=relu,normal,std:0.01", saito_relu.E5),
    Preset("saito-relu-xavier", "E6: ReLU, Xavier", "range=0,1&run=relu,xavier", saito_relu.E6),
    Preset("saito-relu-he", "E7: ReLU, He", "range=0,1&run=relu,he_normal", saito_relu.E7),
    Preset(
        "deep-relu-compare",
        "50 ReLU layers of 512: std 0.01 | Xavier | He",
        # 500 samples and 512 units keep one network's drift small; forward only: 50 layers
        # backward would be 3x the work, over the default budget
        "depth=50&width=512&samples=500&grad=0&run=relu,normal,std:0.01&run=relu,xavier&run=relu,he_normal",
        saito_relu.DEEP,
    ),
    Preset(
        "dead-relu",
        "Dead ReLUs: biases of -0.5, ReLU | leaky ReLU",
        "bias=constant&bias_value=-0.5&depth=10&run=relu,he_normal&run=leaky_relu,he_normal",
        cs231n.DEAD_RELU,
    ),
    Preset(
        "maxout-relu-sigmoid",
        "Maxout | ReLU (He, biases −0.5) | maxout | sigmoid (std 1): dead units and saturation",
        # dead-relu's network: He weights and biases of -0.5 kill ReLUs, std 1 saturates sigmoids;
        # maxout (k = 2 pieces) beside each under the same weights. Each column on its own axes:
        # maxout with std 1 reaches 1e10, which would flatten the others' histograms to one bar.
        "bias=constant&bias_value=-0.5&depth=10&axes=run"
        "&run=maxout,he_normal&run=relu,he_normal&run=maxout,normal&run=sigmoid,normal",
        cs231n_maxout.MAXOUT,
    ),
    Preset(
        "vanishing-gradient",
        "Vanishing gradients: 20 sigmoid layers | 20 ReLU layers with He",
        "depth=20&run=sigmoid,xavier&run=relu,he_normal",
        cs231n.VANISHING_GRADIENT,
    ),
    Preset(
        "exploding-relu",
        "Exploding: 20 ReLU layers with std 1 | with He",
        # one x axis per layer for both columns: He's values are a sliver of the exploded ones
        "depth=20&run=relu,normal&run=relu,he_normal",
        ng.EXPLODING,
    ),
    Preset(
        "saturated-tanh",
        "Saturated tanh: std 1, 5 layers of 100",
        "run=tanh,normal",
        ng.SATURATED,
    ),
    Preset(
        "nielsen-large",
        "N1: 1000 binary inputs, weights and bias N(0, 1)",
        # 2000 units, each one of Nielsen's neurons
        "bias=normal&depth=1&width=2000&input_dim=1000&input=binary&run=sigmoid,normal",
        nielsen.LARGE,
    ),
    Preset(
        "nielsen-scaled",
        "N2: weights N(0, 1/n_in), bias N(0, 1)",
        "bias=normal&depth=1&width=2000&input_dim=1000&input=binary&run=sigmoid,xavier",
        nielsen.SCALED,
    ),
    Preset(
        "nielsen-compare",
        "N1 | N2 on one z axis: weights N(0, 1) | N(0, 1/n_in)",
        # the two columns share each layer's bins (axes=shared, the default)
        "bias=normal&depth=1&width=2000&input_dim=1000&input=binary&run=sigmoid,normal&run=sigmoid,xavier",
        nielsen.COMPARE,
    ),
    Preset(
        "ng-zero-init",
        "Zero or constant weights: symmetric units",
        # hidden tanh, sigmoid output, biases 0, as in the notes
        "bias=zeros&run=tanh,zeros,output_activation:sigmoid&run=tanh,constant,output_activation:sigmoid",
        ng.ZERO_INIT,
    ),
    Preset(
        "tanh-sigmoid-mean",
        "Hidden sigmoid | hidden tanh: the mean of each layer (Xavier)",
        "run=sigmoid,xavier&run=tanh,xavier",
        ng.TANH_MEAN,
    ),
    Preset(
        "ng-small-init",
        "W = randn * 0.01: shallow vs deep",
        "bias=zeros&depth=2&run=tanh,normal,output_activation:sigmoid,std:0.01"
        "&run=tanh,normal,output_activation:sigmoid,std:0.01,depth:20",
        ng.SMALL_INIT,
    ),
    # Norms and residual blocks (layer networks: one row per norm, activation, projection and sum)
    Preset(
        "bn-sigmoid",
        "E1 without | with BatchNorm before each sigmoid",
        # no range: the sigmoid's rows are drawn on [0, 1] anyway, BatchNorm's on their own
        "run=sigmoid,normal&run=sigmoid,normal,norm:batch",
        norms.BN_SIGMOID,
    ),
    Preset(
        "residual-depth",
        "50 tanh residual blocks: s = 1 | 1/sqrt(2L) | ReZero",
        # forward only: the claim is about the signal, and 3 x 151 rows kept for a backward pass
        # would be most of the memory budget
        "depth=50&grad=0&run=tanh,xavier,block:residual&run=tanh,xavier,block:residual,res_init:depth"
        "&run=tanh,xavier,block:residual,res_init:rezero",
        norms.RESIDUAL_DEPTH,
    ),
    Preset(
        "post-vs-pre-norm",
        "12 ReLU residual blocks with LayerNorm: post-norm | pre-norm",
        "depth=12&run=relu,he_normal,block:residual,norm:layer,norm_at:post"
        "&run=relu,he_normal,block:residual,norm:layer",
        norms.NORM_PLACEMENT,
    ),
    Preset(
        "bn-deep-relu",
        "50 ReLU layers with He: BatchNorm | none",
        "depth=50&run=relu,he_normal,norm:batch&run=relu,he_normal",
        norms.BN_DEEP,
    ),
]

PRESETS: dict[str, Preset] = {p.name: p for p in _PRESET_LIST}
