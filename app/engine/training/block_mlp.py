"""A layer network (norms, residual blocks) as a classifier: its rows, a dense read-out, softmax
cross-entropy. It stands in for MLP in the trainer and its records (the same methods and Pass).

The network is blocks.build's for the run at position 0, the one the dashboard shows; the read-out
(width -> classes, the run's initializer and biases) is drawn from a stream of its own. Parameters
are the layers' own arrays under flat names (W1, b1 for the dense layers in order, gamma/beta of
each norm, ReZero's scale; the read-out last), so optimizers update the layers in place.

BatchNorm: a training step normalizes with the batch's own statistics and moves the running
averages (momentum 0.9, the book's). Accuracy and loss records, on the probe and on the test set,
use the running averages (inference mode, as the book's train_flg=False and torch's eval()):
a test sample is never normalized with the others'. A capture's histograms are the training-mode
pass on the probe (its BatchNorm rows then show the probe batch's own statistics) with its backward.

LSUV scales the network's dense layers on the training's probe (blocks._lsuv), then the read-out
on the network's output for it, as MLP scales a plain stack's. loss=bce (BinaryBlockMLP): one
output unit with a sigmoid and binary cross-entropy, as BinaryMLP for plain stacks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from ..layers.activations import ACTIVATIONS, Activation
from ..layers.dense import Dense
from ..layers.initializers import BIASES, INITIALIZERS
from ..layers.norm import BatchNorm
from ..layers.pointwise import Pointwise
from ..layers.residual import Residual
from ..network.blocks import AnyLayer, Network, RowSpec, backward, build, output, set_training, trace
from ..network.config import RunConfig
from ..network.cost import NO_BIAS
from ..network.forward import WEIGHT_STREAM, lsuv_rescale
from ..params import ParamValue
from .binary_mlp import BinaryMLP, sigmoid_cross_entropy
from .mlp import Array, Pass, softmax_cross_entropy

READOUT_TAG = 0x2EAD  # the read-out's weights: a stream beside the network's


@dataclass(frozen=True)
class RowLayer:
    """A row as the records see a hidden layer: its output's bounds and width."""

    activation: Activation
    params: dict[str, ParamValue]
    pieces: int
    units: int
    layer_type: str  # the row's, which its capture carries
    name: str


class BlockMLP:
    def __init__(
        self,
        run: RunConfig,
        features: int,
        classes: int,
        init_data: Array | None = None,
        dtype: type[np.floating] = np.float32,
    ) -> None:
        self.dtype = dtype
        if run.input_dim != features:  # the data's features (a TrainConfig's run has them already)
            run = replace(run, input_dim=features)
        x = None if init_data is None else init_data.astype(dtype, copy=False)
        self.net: Network = build(run, 0, dtype, x)
        width = run.widths[-1]
        rng = np.random.default_rng([run.seed, WEIGHT_STREAM, 0, READOUT_TAG])
        w = INITIALIZERS[run.init].sample(width, classes, rng, run.init_params()).astype(dtype, copy=False)
        b_raw = BIASES[run.bias].sample(classes, rng, run.bias_params())
        b = None if b_raw is None else b_raw.astype(dtype, copy=False)
        if x is not None and INITIALIZERS[run.init].data_dependent:  # the read-out too, as MLP's
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                w = lsuv_rescale(output(self.net, x), w, b)
                w *= w.dtype.type(run.init_params()["gain"])
        self.readout = Dense(w, b)
        self.hidden = [self._row_layer(spec) for spec in self.net.specs]
        self.params: dict[str, Array] = {}
        self._owners: dict[str, tuple[AnyLayer | Dense, str]] = {}
        self._weights: list[str] = []
        counts = {"dense": 0, "norm": 0, "block": 0}
        for layer in [*_flat(self.net.layers), self.readout]:
            # W3, b3: the third dense layer's; gamma2, beta2: the second norm's; scale4: block 4's
            kind = "dense" if isinstance(layer, Dense) else "block" if isinstance(layer, Residual) else "norm"
            counts[kind] += 1
            if kind == "dense":
                self._weights.append(f"W{counts[kind]}")
            for name in layer.params:
                key = f"{name}{counts[kind]}"
                self.params[key] = layer.params[name]
                self._owners[key] = (layer, name)
        dense = counts["dense"]
        self.depth = dense
        self.bias = "b1" in self.params

    def _row_layer(self, spec: RowSpec) -> RowLayer:
        name = spec.activation
        activation = ACTIVATIONS[name] if name in ACTIVATIONS else ACTIVATIONS["linear"]
        params = dict(self.net.run.activation_params()) if name in ACTIVATIONS else {}
        return RowLayer(activation, params, 1, spec.units, spec.layer_type, spec.name)

    def weight_names(self) -> list[str]:
        return list(self._weights)

    def new_grads(self) -> dict[str, Array]:
        return {key: np.zeros_like(p) for key, p in self.params.items()}

    def _run(self, x: Array, keep: bool, training: bool) -> Pass:
        """Every row and the logits; with `keep`, ready for the backward pass."""
        set_training(self.net, training)
        rows = list(trace(self.net, x, keep=keep))
        set_training(self.net, False)
        logits = self.readout.forward(rows[-1].post, keep=keep)
        return Pass(z=[r.pre for r in rows] + [logits], a=[r.post for r in rows], dz=[], g=[])

    def forward(self, x: Array, keep: bool = True) -> Pass:
        return self._run(x, keep=True, training=True)

    def output_loss(self, logits: Array, y: NDArray[np.intp], out: Array | None) -> tuple[float, Array]:
        return softmax_cross_entropy(logits, y, out=out)

    def backward(self, x: Array, p: Pass, y: NDArray[np.intp], grads: dict[str, Array] | None) -> float:
        """The mean loss of the pass's logits; fills p.dz (each row's dL/d(pre), then dL/dlogits)
        and, unless grads is None, every parameter's gradient."""
        loss, d = self.output_loss(p.z[-1], y, out=None)
        g = self.readout.backward(d)
        rows, _ = backward(self.net, g)
        p.dz[:] = [rows[j] for j in range(len(rows))] + [d]
        if grads is not None:
            for key, (layer, name) in self._owners.items():
                np.copyto(grads[key], layer.grads[name], casting="same_kind")
        return loss

    def loss_and_grads(self, x: Array, y: NDArray[np.intp], grads: dict[str, Array]) -> float:
        """One training step: BatchNorm on the batch's statistics, its running averages moved."""
        set_training(self.net, True)
        rows = list(trace(self.net, x, keep=True))
        set_training(self.net, False)
        logits = self.readout.forward(rows[-1].post, keep=True)
        p = Pass(z=[r.pre for r in rows] + [logits], a=[r.post for r in rows], dz=[], g=[])
        del rows
        return self.backward(x, p, y, grads)

    def infer(self, x: Array) -> Array:
        """Logits in inference mode: each BatchNorm on its running averages."""
        a = x
        for layer in self.net.layers:
            a = _infer(layer, a)
        return self.readout.forward(a)

    def score(self, logits: Array, y: NDArray[np.intp]) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) of logits against labels y."""
        correct = np.count_nonzero(logits.argmax(axis=1) == y)
        loss, _ = softmax_cross_entropy(logits.copy(), y, out=None)
        return loss, float(correct) / len(y)

    def evaluate(self, x: Array, y: NDArray[np.intp], keep: bool = False) -> tuple[float, float, Pass]:
        """(mean loss, accuracy) in inference mode, and the pass: with `keep`, the
        training-mode pass on x ready for `backward` (a capture), else that of inference."""
        logits = self.infer(x)
        loss, accuracy = self.score(logits, y)
        p = self._run(x, keep=True, training=False) if keep else self._inference_pass(x, logits)
        return loss, accuracy, p

    def _inference_pass(self, x: Array, logits: Array) -> Pass:
        """The rows' outputs in inference mode (what dead-unit counts read), and the logits."""
        a_rows: list[Array] = []
        a = x
        for layer in self.net.layers:
            a = _infer(layer, a, a_rows, self.net)
        return Pass(z=[logits], a=a_rows, dz=[], g=[])


class BinaryBlockMLP(BlockMLP, BinaryMLP):  # type: ignore[misc]  # rows stand in for hidden layers
    """A layer network with one sigmoid output unit, trained on binary cross-entropy. BlockMLP's
    methods come first; BinaryMLP gives `output` (the records' histogram of σ(s)) and makes this a
    BinaryMLP for them. MLP's constructor is never run: BlockMLP's builds everything."""

    def __init__(
        self,
        run: RunConfig,
        features: int,
        init_data: Array | None = None,
        dtype: type[np.floating] = np.float32,
    ) -> None:
        BlockMLP.__init__(self, run, features, 1, init_data, dtype)

    def output_loss(self, logits: Array, y: NDArray[np.intp], out: Array | None) -> tuple[float, Array]:
        return sigmoid_cross_entropy(logits, y, out=out)

    def score(self, logits: Array, y: NDArray[np.intp]) -> tuple[float, float]:
        """(mean binary cross-entropy, accuracy): class 1 where σ(s) > 0.5."""
        correct = np.count_nonzero((logits[:, 0] > 0) == (y == 1))
        loss, _ = sigmoid_cross_entropy(logits, y, out=None)
        return loss, float(correct) / len(y)

    def evaluate(self, x: Array, y: NDArray[np.intp], keep: bool = False) -> tuple[float, float, Pass]:
        return BlockMLP.evaluate(self, x, y, keep)


def block_model(run: RunConfig, features: int, classes: int, loss: str, init_data: Array | None) -> BlockMLP:
    """The trainer's model for a layer network: softmax over `classes` logits, or (bce) one unit."""
    if loss == "bce":
        return BinaryBlockMLP(run, features, init_data)
    return BlockMLP(run, features, classes, init_data)


def _flat(layers: list[AnyLayer]) -> list[AnyLayer]:
    out: list[AnyLayer] = []
    for layer in layers:
        if isinstance(layer, Residual):
            out += _flat(layer.children())  # type: ignore[arg-type]
            out.append(layer)
        else:
            out.append(layer)
    return out


def _infer(layer: object, a: Array, rows: list[Array] | None = None, net: Network | None = None) -> Array:
    """One layer in inference mode (BatchNorm on its running averages), its row's output kept."""

    def keep(owner: object, out: Array) -> Array:
        if rows is not None and net is not None and owner in net.rows:
            rows.append(out)
        return out

    if isinstance(layer, BatchNorm):
        return keep(layer, layer.infer(a))
    if isinstance(layer, Residual):
        h = a
        if layer.norm is not None and layer.norm_at == "pre":
            h = _infer(layer.norm, a, rows, net)
        for inner in layer.branch:
            h = _infer(inner, h, rows, net)
        y = keep(layer, a + a.dtype.type(layer.scale) * h)
        if layer.norm is not None and layer.norm_at == "post":
            y = _infer(layer.norm, y, rows, net)
        return y
    assert isinstance(layer, Dense | Pointwise) or hasattr(layer, "forward")
    return keep(layer, layer.forward(a))


def block_sizes(run: RunConfig, outputs: int) -> tuple[list[tuple[int, int]], int]:
    """(fan_in, fan_out) of every dense layer the classifier holds, the read-out last, and how many
    rows its network has (each a layer of activations a step holds), for the training's cost."""
    from ..network.blocks import dense_sizes, row_count

    return [*dense_sizes(run), (run.widths[-1], outputs)], row_count(run)


def block_parameters(run: RunConfig, outputs: int) -> int:
    """The classifier's trained numbers: every dense layer's weights (and biases when the run has
    them), the read-out's, each norm's scale (and shift), and ReZero's scalar per block; counted as
    BlockMLP holds them, without drawing a weight."""
    from ..network.blocks import architecture

    arch = architecture(run)
    sizes, _ = block_sizes(run, outputs)
    bias = int(run.bias != NO_BIAS)
    count = sum(f * o + bias * o for f, o in sizes)
    per_norm = 1 if arch.norm == "rms" else 2  # gamma (and beta)
    if arch.norm != "none":
        if arch.residual:
            norms = run.depth + (1 if arch.norm_at == "pre" else 0)  # a final norm after pre-norm blocks
            count += norms * per_norm * run.widths[0]
        else:
            before = arch.norm_at == "before"
            count += sum(
                per_norm * (o if before else w) for (_, o), w in zip(sizes[:-1], run.widths, strict=True)
            )
    if arch.learn_scale:
        count += run.depth
    return count
