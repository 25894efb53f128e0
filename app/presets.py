"""Named experiments that reproduce the teaching texts' claims, one click each.

Each preset is written as its share link, the product's own readable format, so a preset and
the link to it are the same thing; tests check every one is canonical and shows its claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from . import codec
from .engine.config import ExperimentConfig


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    shows: str  # one line: what to look at
    source: str  # which text, which claim
    query: str

    @property
    def experiment(self) -> ExperimentConfig:
        return _experiment(self.query)


@cache
def _experiment(query: str) -> ExperimentConfig:
    return codec.to_experiment(codec.decode(query))


SAITO = "002 (Saito, Deep Learning from Scratch ch. 6): 1000 samples, 5 layers of 100, no bias"

_PRESET_LIST = [
    Preset(
        "saito-compare",
        "Sigmoid std 1 | sigmoid Xavier | ReLU He",
        "Saturation at 0 and 1, a healthy spread, and a depth-stable ReLU, side by side.",
        SAITO,
        "range=0,1&run=sigmoid,normal&run=sigmoid,xavier&run=relu,he_normal",
    ),
    Preset(
        "saito-sigmoid-std1",
        "E1: sigmoid, std 1",
        "Activations pile up at 0 and 1: saturated, so gradients vanish.",
        SAITO,
        "run=sigmoid,normal",
    ),
    Preset(
        "saito-sigmoid-std001",
        "E2: sigmoid, std 0.01",
        "Activations crowd around 0.5: no vanishing gradient, but every unit says the same thing.",
        SAITO,
        "run=sigmoid,normal,std:0.01",
    ),
    Preset(
        "saito-sigmoid-xavier",
        "E3: sigmoid, Xavier",
        "A wider spread in every layer, somewhat skewed in deeper layers.",
        SAITO,
        "run=sigmoid,xavier",
    ),
    Preset(
        "saito-tanh-xavier",
        "E4: tanh, Xavier",
        "A symmetric, well-spread bell in every layer.",
        SAITO,
        "run=tanh,xavier",
    ),
    Preset(
        "saito-relu-std001",
        "E5: ReLU, std 0.01",
        "Activations collapse towards 0 layer by layer (histogram range 0 to 1, as in the book).",
        SAITO,
        "range=0,1&run=relu,normal,std:0.01",
    ),
    Preset(
        "saito-relu-xavier",
        "E6: ReLU, Xavier",
        "The spread shrinks layer by layer: Xavier assumes a linear activation.",
        SAITO,
        "range=0,1&run=relu,xavier",
    ),
    Preset(
        "saito-relu-he",
        "E7: ReLU, He",
        "The same spread in every layer: sqrt(2/n) makes up for the half ReLU cuts off.",
        SAITO,
        "range=0,1&run=relu,he_normal",
    ),
    Preset(
        "deep-relu-compare",
        "50 ReLU layers of 512: std 0.01 | Xavier | He",
        "Only He keeps the activations' scale over 50 layers; Xavier fades, std 0.01 collapses to 0.",
        "002, extended to a deep network (500 samples; 512 units keep one network's drift small)",
        # forward only: 50 layers backward would be 3x the work, over the default budget
        "depth=50&width=512&samples=500&grad=0&run=relu,normal,std:0.01&run=relu,xavier&run=relu,he_normal",
    ),
    Preset(
        "dead-relu",
        "Dead ReLUs: biases of -0.5, ReLU | leaky ReLU",
        "Layer by layer more ReLU units are negative for every sample (dead: zero gradient for ever); "
        "leaky ReLU has none.",
        "001 (CS231n notes): bad initialization kills ReLUs; leaky ReLU has no dead units",
        "bias=constant&bias_value=-0.5&depth=10&run=relu,he_normal&run=leaky_relu,he_normal",
    ),
    Preset(
        "vanishing-gradient",
        "Vanishing gradients: 20 sigmoid layers | 20 ReLU layers with He",
        "The sigmoid network's gradient shrinks about 4x per layer going back (1e-13 at layer 1), "
        "as the mean-field chi < 1 predicts; ReLU with He keeps it.",
        "001 and 002: saturating sigmoids make gradients vanish; He initialization keeps ReLU critical",
        "depth=20&run=sigmoid,xavier&run=relu,he_normal",
    ),
    Preset(
        "nielsen-large",
        "N1: 1000 binary inputs, weights and bias N(0, 1)",
        "z has variance 500 + 1 = 501: |z| >> 1, so the sigmoid saturates.",
        "003 (Nielsen, Neural Networks and Deep Learning ch. 3); 2000 units, each one of his neurons",
        "bias=normal&depth=1&width=2000&input_dim=1000&input=binary&run=sigmoid,normal",
    ),
    Preset(
        "nielsen-scaled",
        "N2: weights N(0, 1/n_in), bias N(0, 1)",
        "z has variance 500/1000 + 1 = 1.5: most z in (-1, 1), where the sigmoid is steep.",
        "003 (Nielsen, Neural Networks and Deep Learning ch. 3); 2000 units, each one of his neurons",
        "bias=normal&depth=1&width=2000&input_dim=1000&input=binary&run=sigmoid,xavier",
    ),
    Preset(
        "ng-zero-init",
        "Zero or constant weights: symmetric units",
        "Every unit of a layer computes the same function: 1 distinct unit per layer.",
        "000 (Andrew Ng's course notes): hidden tanh, sigmoid output, biases 0",
        "bias=zeros&run=tanh,zeros,output_activation:sigmoid&run=tanh,constant,output_activation:sigmoid",
    ),
    Preset(
        "ng-small-init",
        "W = randn * 0.01: shallow vs deep",
        "0.01 breaks the symmetry and suits 2 layers; over 20 layers the signal fades away.",
        "000 (Andrew Ng's course notes): hidden tanh, sigmoid output, biases 0",
        "bias=zeros&depth=2&run=tanh,normal,output_activation:sigmoid,std:0.01"
        "&run=tanh,normal,output_activation:sigmoid,std:0.01,depth:20",
    ),
]

PRESETS: dict[str, Preset] = {p.name: p for p in _PRESET_LIST}
