"""Maxout (notes 001, after CS231n): neither dead units nor saturation, at the price of k weight
sets. Measured at initialization beside ReLU and the sigmoid, and trained at a learning rate that
kills ReLUs.

Besides the texts' dead units and saturated activations, both claims read maxout's pieces: a piece
that wins (is its unit's maximum) on no sample gets no gradient, as a dead ReLU's weights get none
(app/engine/measure/pieces.py). The layers' values are rebuilt from the run's config, as
readings.py does, and a training's last weights by training the run again: a training is the same
bits every time (one BLAS thread, the same batches), so these are the preset's own numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..engine import blas
from ..engine.measure.pieces import dead_pieces
from ..engine.network.cost import parameter_count
from ..engine.network.experiment import ExperimentResult, RunResult
from ..engine.network.forward import forward, input_samples
from ..engine.training.config import TrainConfig, train_parameters
from ..engine.training.trainer import Trainer, TrainResult
from .core import Claim, Measurement, TrainView, View, verdict_of
from .cs231n import CS231N, KILLED
from .readings import saturated_percent, smoothed_final, test_percent

TEXT = (
    "Maxout [...] is in fact also a variant of ReLU; the biggest difference is that it uses two [sets of] "
    "weights [max(w1·x + b1, w2·x + b2)]. [...] Although the added weights make the computation more "
    "complex, it overcomes many drawbacks, for example dead ReLUs and gradient saturation."
)


def _maxout_runs(result: ExperimentResult) -> list[int]:
    return [i for i, run in enumerate(result.runs) if run.config.activation == "maxout"]


def _passes_through_one_piece(run: RunResult) -> bool:
    """Every unit's gradient reaches exactly one of its k pieces on every sample: a fraction
    (k - 1) / k of dL/dz is exactly 0 in every layer, and no more (no unit passes nothing)."""
    k = int(run.config.activation_params()["pieces"])
    return all(
        layer.grad is not None
        and layer.grad.zero_fraction == (k - 1) / k
        and layer.post.saturated_fraction is None
        for layer in run.layers
    )


def _dead_pieces(result: ExperimentResult, run: int) -> list[int]:
    """Per layer of the run, its pieces that win on none of the samples: the layers rebuilt from
    the run's config as run_experiment drew them (the same seed, stream and dtype)."""
    config = result.config.runs[run]
    return [dead_pieces(layer.z, layer.pieces) for layer in forward(config, input_samples(config), run)]


def _experiment(result: ExperimentResult) -> Measurement:
    maxout_he, relu, maxout_std1, sigmoid = result.runs
    relu_dead = [layer.dead_units for layer in relu.layers]
    units = relu.layers[0].units
    all_dead_from = next((j + 1 for j, d in enumerate(relu_dead) if d == units), 0)
    sat = saturated_percent(sigmoid)
    maxout_dead = max(layer.dead_units for i in _maxout_runs(result) for layer in result.runs[i].layers)
    zero_grad = [layer.grad.zero_fraction for layer in maxout_he.layers if layer.grad is not None]
    pieces = _dead_pieces(result, 2)
    worst = max(range(len(pieces)), key=lambda j: pieces[j])
    k = int(maxout_std1.config.activation_params()["pieces"])
    # No unit dies where ReLU's do, none saturates where the sigmoid's do, and every maxout unit
    # passes its gradient; the text says nothing of pieces, which can die as ReLUs do.
    no_dead = maxout_dead == 0 and all_dead_from > 0
    no_saturation = (
        all(_passes_through_one_piece(result.runs[i]) for i in _maxout_runs(result)) and min(sat) > 50
    )
    pieces_live = all(p == 0 for i in _maxout_runs(result) for p in _dead_pieces(result, i))
    return Measurement(
        verdict_of(no_dead, no_saturation, pieces_live),
        (
            ("layers", len(relu_dead)),
            ("maxout dead units, most in a layer", maxout_dead),
            ("maxout He: % of dL/dz exactly 0, least in a layer", 100 * min(zero_grad)),
            ("ReLU dead units, layer 5", relu_dead[4]),
            ("units", units),
            ("layer", 5),
            ("units", units),
            ("the first layer where every ReLU unit is dead", all_dead_from),
            ("weight std", float(sigmoid.config.init_params()["std"])),
            ("sigmoid saturated %, least in a layer", min(sat)),
            ("sigmoid saturated %, most in a layer", max(sat)),
            ("maxout weights and biases, thousands", parameter_count(maxout_he.config) / 1000),
            ("ReLU weights and biases, thousands", parameter_count(relu.config) / 1000),
            ("maxout std 1: dead pieces, most in a layer", pieces[worst]),
            ("pieces per layer", k * maxout_std1.layers[worst].units),
            ("that layer", worst + 1),
            ("samples", maxout_std1.config.samples),
        ),
    )


MAXOUT = Claim(
    text=TEXT,
    source=CS231N,
    view=View("grid", "post"),
    look_at="Each layer's stats line: the dead units of ReLU (column 2) against maxout's with the same He "
    "weights (column 1), the saturated share of the sigmoid (column 4) against maxout's with the same "
    "std-1 weights (column 3), which has no bound to saturate at.",
    verdict="holds in part",
    reason="No maxout unit dies or saturates in any of the 10 layers (0 dead units, no bound to saturate at, "
    "and on every sample each unit passes its gradient through its winning piece: exactly 50% of dL/dz, "
    "the losing pieces', is zero), where ReLU with the same He weights has 18 of 100 units dead at layer 5 "
    "and all 100 from layer 8 on, and the sigmoid with weights of std 1 has 56% to 72% of its activations "
    "saturated; but maxout pays 202 thousand weights and biases for ReLU's 101 thousand, and its pieces "
    "can die: with the sigmoid's weights, 19 of the 200 pieces of layer 9 win on none of the 1000 "
    "samples, so no gradient reaches their weights.",
    measure=_experiment,
)


def _trained_dead_pieces(config: TrainConfig) -> tuple[list[int], int]:
    """Per hidden layer, the pieces that win on none of the probe's digits after the training, and
    the probe's size: the run trained again (the same bits as the preset's), its last weights read
    on the probe."""
    blas.single_thread()
    trainer = Trainer(config)
    trainer.advance()
    probe = trainer.model.forward(trainer.probe_x, keep=False)
    pieces = [dead_pieces(probe.z[j], layer.pieces) for j, layer in enumerate(trainer.model.hidden)]
    return pieces, len(trainer.probe_x)


def _training(results: Sequence[TrainResult]) -> Measurement:
    relu, maxout = results
    relu_dead = [max(r.dead_fraction) for r in relu.records]
    first = next((k for k, d in enumerate(relu_dead) if d > KILLED), None)
    maxout_dead = max(max(r.dead_fraction) for r in maxout.records)
    pieces, probe = _trained_dead_pieces(maxout.config)
    worst = max(range(len(pieces)), key=lambda j: pieces[j])
    k = maxout.config.run.activation_params()["pieces"]
    relu_killed = first is not None and min(relu_dead[first:]) > KILLED
    lives = maxout_dead == 0.0 and maxout.status == "done"
    return Measurement(
        verdict_of(relu_killed and lives, all(p == 0 for p in pieces)),
        (
            ("rate", dict(maxout.config.optimizer_params)["lr"]),
            ("maxout dead %, most in a layer at any record", 100 * maxout_dead),
            ("ReLU dead % of a layer, most, at the first record over half", 100 * relu_dead[first or 0]),
            ("that record's step", relu.records[first].step if first is not None else math.inf),
            ("ReLU dead % of a layer, most, at the last step", 100 * relu_dead[-1]),
            ("steps", relu.config.iterations),
            ("maxout test accuracy %", test_percent(maxout)),
            ("ReLU test accuracy %", test_percent(relu)),
            ("maxout loss, last step (smoothed)", smoothed_final(maxout)),
            ("ReLU loss, last step (smoothed)", smoothed_final(relu)),
            ("maxout: dead pieces, most in a layer", pieces[worst]),
            ("pieces per layer", int(k) * maxout.config.run.widths[worst]),
            ("that layer", worst + 1),
            ("probe digits", probe),
            ("maxout weights and biases, thousands", train_parameters(maxout.config) / 1000),
            ("ReLU weights and biases, thousands", train_parameters(relu.config) / 1000),
        ),
    )


MAXOUT_LR = Claim(
    text=TEXT,
    source=CS231N + ", trained on the MNIST digits",
    view=TrainView("dead"),
    look_at="The dead-unit curves at Adam's lr 0.1: ReLU's jump within the first steps and stay up, "
    "maxout's stay at 0 in every layer.",
    verdict="holds in part",
    reason="At Adam's lr 0.1 no maxout unit dies (0% dead in every layer at every record) while 86% of a "
    "ReLU layer's units are dead by step 10 and 90% at step 500, and maxout gets 91% of the test digits "
    "right against ReLU's 62%; but its batch loss leaps up again and again (smoothed, 4.3 at the end against "
    "ReLU's 0.88), 27 of the 100 pieces of layer 1 win on none of the 1000 probe digits by the end, "
    "leaving those units one affine piece, and maxout pays 94.3 thousand weights and biases "
    "for ReLU's 47.4 thousand.",
    measure=_training,
)
