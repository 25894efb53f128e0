"""Claims about normalization layers and residual blocks at initialization (issue 15).

The texts stop at plain stacks; these are the questions that come right after them, each put to a
layer network (app/engine/network/blocks.py) and read off its rows: a row's layer type tells the
norm, the activation, the branch's projection and the block's sum x + s F(x) apart.
"""

from __future__ import annotations

import math

from ..engine.network.experiment import ExperimentResult, LayerResult, RunResult
from .core import Claim, Measurement, View, verdict_of
from .readings import peak_bin_centre, saturated_percent

SAITO_BN = "Koki Saito, Deep Learning from Scratch, ch. 6.3 (Batch Normalization)"
RESIDUAL = (
    "Yang and Schoenholz, Mean Field Residual Networks (2017); Radford et al., GPT-2 (2019); "
    "Bachlechner et al., ReZero (2020)"
)
XIONG = "Xiong et al., On Layer Normalization in the Transformer Architecture (2020)"
YANG_BN = "Yang et al., A Mean Field Theory of Batch Normalization (2019)"
SATURATED = 50.0  # % of a layer's activations at the ends for it to pile up there
BELL = 0.1  # a histogram's peak this close to 0.5 (the sigmoid's centre) is a bell, not a U


def rows(run: RunResult, layer_type: str) -> list[LayerResult]:
    return [layer for layer in run.layers if layer.layer_type == layer_type]


def _std(layer: LayerResult, kind: str = "post") -> float:
    stats = layer.grad if kind == "grad" else layer.post
    if stats is None or stats.std is None:
        raise ValueError(f"{layer.name}: no {kind} statistics (run the preset with the backward pass)")
    return stats.std


def _bn_sigmoid(result: ExperimentResult) -> Measurement:
    plain, normed = result.runs
    saturated = saturated_percent(plain)
    acts = rows(normed, "activation")
    normed_saturated = [100.0 * (a.post.saturated_fraction or 0.0) for a in acts]
    peaks = [abs(peak_bin_centre(a.post) - 0.5) for a in acts]
    plain_peaks = [abs(peak_bin_centre(layer.post) - 0.5) for layer in plain.layers]
    u_shape = min(saturated) > SATURATED and min(plain_peaks) > 0.4
    bell = max(normed_saturated) < 1.0 and max(peaks) < BELL
    return Measurement(
        verdict_of(u_shape, bell),
        (
            ("without BN: saturated %, lowest layer", min(saturated)),
            ("without BN: saturated %, highest layer", max(saturated)),
            ("with BN: saturated %, highest layer", max(normed_saturated)),
            ("with BN: activation std, highest layer", max(_std(a) for a in acts)),
        ),
    )


BN_SIGMOID = Claim(
    text="[Batch Normalization] adjusts the distribution of the activations in each layer so that it "
    "has a suitable breadth: it normalizes each mini-batch to mean 0 and variance 1 before the "
    "activation, [and it] makes the network depend less on its initial weights.",
    source=SAITO_BN,
    view=View("grid", "post"),
    look_at="The E1 network (sigmoid, weights std 1) without and with BatchNorm before each sigmoid: the "
    "activations' U shape at 0 and 1, and what the rows after each BatchNorm row look like.",
    verdict="holds",
    reason="Without BN the activations pile up at both ends (58% to 72% of them saturated in every "
    "layer); with BN before each sigmoid at most 0.052% are, and every layer is a bell around the "
    "sigmoid's centre with std 0.21.",
    measure=_bn_sigmoid,
)


def _sums(run: RunResult) -> list[float]:
    return [_std(layer) for layer in rows(run, "residual")]


def _residual_depth(result: ExperimentResult) -> Measurement:
    plain, scaled, rezero = result.runs
    grow, bounded = _sums(plain), _sums(scaled)
    blocks = len(grow)
    half = blocks // 2
    ratio = grow[-1] / grow[half - 1]
    like_sqrt = abs(ratio / math.sqrt(blocks / half) - 1) < 0.1
    stays = max(bounded) / min(bounded) < 1.2
    stem = _std(rows(rezero, "dense")[0])
    identity = all(s == stem for s in _sums(rezero))
    return Measurement(
        verdict_of(like_sqrt, stays, identity),
        (
            ("blocks", blocks),
            ("s", 1),
            ("s = 1: output std, block 1", grow[0]),
            ("first block", 1),
            ("s = 1: output std, last block", grow[-1]),
            ("s = 1: std ratio, last block to the middle one", ratio),
            ("middle block", half),
            ("last block", blocks),
            ("sqrt(depth) ratio", math.sqrt(blocks / half)),
            ("the 1 of 1/sqrt(2L)", 1),
            ("1/sqrt(2L): output std, lowest block", min(bounded)),
            ("1/sqrt(2L): output std, highest block", max(bounded)),
            ("ReZero: output std, every block (the stem's)", stem),
        ),
    )


RESIDUAL_DEPTH = Claim(
    text="With identity skips, x_l = x_(l-1) + F(x_(l-1)), the variance adds up block by block: it grows "
    "linearly with depth [Yang and Schoenholz]. We scale the weights of residual layers at "
    "initialization by a factor of 1/sqrt(N) where N is the number of residual layers [GPT-2]. "
    "[ReZero initializes] each layer as the identity map.",
    source=RESIDUAL,
    view=View("ridgeline", "post"),
    look_at="The rows named x + s F(x), block by block, in the three columns: tanh residual stacks with "
    "s = 1, with 1/sqrt(2L) on each branch's output projection, and with ReZero.",
    verdict="holds",
    reason="Over 50 blocks with s = 1 the output's std grows from 1.2 at block 1 to 6.2, and 1.43 times "
    "from block 25 to block 50, about the 1.41 of sqrt(depth); with 1/sqrt(2L) it stays between 0.98 "
    "and 1.09; with ReZero every block's output is its input (std 0.99, the stem's).",
    measure=_residual_depth,
)


def _weight_grads(run: RunResult) -> list[float]:
    out = []
    for layer in run.layers:
        if layer.name is not None and layer.name.endswith("projection"):
            if layer.weight_grad is None:
                raise ValueError("run the preset with the backward pass")
            out.append(layer.weight_grad.norm)
    return out


def _placement(result: ExperimentResult) -> Measurement:
    post, pre = (_weight_grads(run) for run in result.runs)
    near_output = post[-1] / pre[-1]
    larger_than_pre = near_output > 2.0
    largest_near_output = post[-1] == max(post)
    return Measurement(
        verdict_of(larger_than_pre, largest_near_output),
        (
            ("Post-LN / Pre-LN, last block's projection gradient", near_output),
            ("blocks", len(post)),
            ("Post-LN: largest / smallest block", max(post) / min(post)),
            ("Post-LN: block of the largest", post.index(max(post)) + 1),
            ("Pre-LN: block 1 / last block", pre[0] / pre[-1]),
            ("first block", 1),
        ),
    )


NORM_PLACEMENT = Claim(
    text="We prove with mean field theory that at initialization, for the original-designed Post-LN "
    "Transformer, which places the layer normalization between the residual blocks, the expected "
    "gradients of the parameters near the output layer are large.",
    source=XIONG,
    view=View("grid", "grad", layers="rows-dense projection"),
    look_at="The gradient rows of two 12-block ReLU residual stacks with LayerNorm, post-norm against "
    "pre-norm (with its final norm): each block's projection row gives its weights' gradient norm.",
    verdict="holds in part",
    reason="Post-LN's last block gets a weight gradient 2.8 times Pre-LN's, but it is not the largest of "
    "its own 12 blocks: Post-LN's are flat (largest over smallest 1.2, the largest at block 6), while "
    "Pre-LN's shrink towards the output, 2.3 times from block 1 to the last.",
    measure=_placement,
)


def _bn_deep(result: ExperimentResult) -> Measurement:
    normed, plain = result.runs
    bn = rows(normed, "batch_norm")
    growth = _std(bn[0], "grad") / _std(bn[-1], "grad")
    per_layer = growth ** (1 / (len(bn) - 1))
    plain_growth = _std(plain.layers[0], "grad") / _std(plain.layers[-1], "grad")
    return Measurement(
        verdict_of(growth > 100 and plain_growth < 3),
        (
            ("layers", len(bn)),
            ("first layer", 1),
            ("with BN: dL/dz std, layer 1 over the last layer, in thousands", growth / 1000),
            ("with BN: growth per layer", per_layer),
            ("without BN: dL/dz std, layer 1 over the last layer", plain_growth),
        ),
    )


BN_DEEP = Claim(
    text="We find that the gradient signals grow exponentially in depth and that these exploding "
    "gradients cannot be eliminated by tuning the initial weight variances or by adjusting the "
    "nonlinear activation function. Indeed, batch normalization itself is the cause of gradient "
    "explosion.",
    source=YANG_BN,
    view=View("grid", "grad"),
    look_at="The gradient dL/dz from the last layer back to layer 1: the BatchNorm rows of the BN column "
    "against the same ReLU stack with He weights and no BN (no theory line for BN: measured only).",
    verdict="holds",
    reason="In 50 ReLU layers with He weights and BatchNorm, dL/dz at layer 1 is 5.3 thousand times its size "
    "at the last layer, about 1.19 times per layer, while without BN it is 1.4 times.",
    measure=_bn_deep,
)
