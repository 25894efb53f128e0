"""Training a run's network: mini-batch steps of an optimizer on softmax cross-entropy (or, with
loss "bce", binary cross-entropy on one sigmoid output unit), with records.

`train(config)` runs one configuration to the end; `Trainer` advances one step by step (a
background job reports partial results and stops between steps when asked); `train_runs` advances
several in lock step, so their curves grow together. Runs with the same data, batch size and
batch seed see the very same batches in the same order (`batch_schedule`), whatever their network
or optimizer, so their curves differ by the network and optimizer only.

A step whose loss is not finite stops the run with status "diverged" (its loss is kept), as does
a record whose probe loss is not finite: too large a learning rate overflows, and that is a result
to show, not an error. Identical configurations give byte-identical results (no clock, no global
random state) at a given number of BLAS threads: OpenBLAS splits a product's sums differently with
one thread or two, so the last bits (and after many steps, more) differ between thread counts.
The configuration and its cost estimate are in train_config.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .. import blas
from ..optimizers import make_optimizer
from .binary_mlp import BinaryMLP
from .config import TrainConfig
from .datasets import Dataset, mnist, mnist_pair, synthetic
from .mlp import MLP
from .records import (
    Capture,
    Record,
    capture_layers,
    capture_output,
    dead_fractions,
    smooth,
    update_ratios,
    weight_snapshot,
)

BATCH_TAG = 0xBA7C  # the batch schedule's random stream: the batch seed's only, no run's

Status = Literal["running", "done", "diverged", "cancelled"]


@dataclass(frozen=True)
class TrainResult:
    config: TrainConfig
    status: Status
    steps: int  # optimizer updates done
    loss: NDArray[np.float64]  # each step's batch loss, before its update; a diverged step's last
    records: tuple[Record, ...]
    captures: tuple[Capture, ...]

    def smoothed_loss(self, beta: float = 0.98) -> NDArray[np.float64]:
        return smooth(self.loss, beta)


def dataset_for(config: TrainConfig) -> Dataset:
    if config.data == "synthetic":
        return synthetic(config.run, config.classes)
    return mnist() if config.digits is None else mnist_pair(*config.digits)


def model_for(config: TrainConfig, data: Dataset, init_data: NDArray[np.float32]) -> MLP:
    """The network trained: softmax over one logit per class, or (bce) one sigmoid output unit."""
    if config.run.arch is not None:  # norms or residual blocks (training/block_mlp.py)
        from .block_mlp import block_model

        return block_model(config.run, data.features, data.classes, config.loss, init_data)  # type: ignore[return-value]
    if config.loss == "bce":
        return BinaryMLP(config.run, data.features, init_data)
    return MLP(config.run, data.features, data.classes, init_data)


def batch_schedule(train_size: int, batch_size: int, seed: int) -> Iterator[NDArray[np.intp]]:
    """Training-row indices of every batch, forever: each epoch a fresh permutation of the rows,
    cut into consecutive batches (a batch may span two epochs). A function of its arguments only,
    so every run with the same data, batch size and seed sees the same batches in the same order."""
    rng = np.random.default_rng([seed, BATCH_TAG])
    pending = np.empty(0, dtype=np.intp)
    while True:
        while len(pending) < batch_size:
            pending = np.concatenate([pending, rng.permutation(train_size).astype(np.intp)])
        yield pending[:batch_size]
        pending = pending[batch_size:]


class Trainer:
    """One run's training, advanced by `advance`; `result()` is a snapshot at any time."""

    def __init__(self, config: TrainConfig, data: Dataset | None = None) -> None:
        self.config = config
        self.data = data if data is not None else dataset_for(config)
        probe = min(config.probe_size, len(self.data.y_train))
        self.probe_x, self.probe_y = self.data.x_train[:probe], self.data.y_train[:probe]
        with np.errstate(over="ignore", invalid="ignore"):  # LSUV on an overflowing network
            self.model = model_for(config, self.data, self.probe_x)
        self.optimizer = make_optimizer(config.optimizer, **dict(config.optimizer_params))
        self.grads = self.model.new_grads()
        self.batches = batch_schedule(len(self.data.y_train), config.batch_size, config.batch_seed)
        self.x_batch = np.empty((config.batch_size, self.data.features), dtype=np.float32)
        self.step = 0
        self.status: Status = "running"
        self.losses = np.full(config.iterations + 1, np.nan)
        self.computed = 0  # batch losses computed: steps, or one more when a step diverged
        self.records: list[Record] = []
        self.captures: list[Capture] = []
        self._record_steps = set(config.record_steps())
        self._capture_steps = set(config.captures)
        self._ratios: tuple[float | None, ...] = ()
        self._observe()

    @property
    def done(self) -> bool:
        return self.status != "running"

    def advance(self, steps: int | None = None, should_stop: Callable[[], bool] | None = None) -> None:
        """Train up to `steps` more steps (default: to the end), checking `should_stop` before
        each: when it says so, the run ends with status "cancelled"."""
        end = self.config.iterations if steps is None else min(self.config.iterations, self.step + steps)
        while self.step < end and self.status == "running":
            if should_stop is not None and should_stop():
                self.status = "cancelled"
                return
            self._train_step()
        if self.step == self.config.iterations and self.status == "running":
            self.status = "done"

    def _train_step(self) -> None:
        idx = next(self.batches)
        x = np.take(self.data.x_train, idx, axis=0, out=self.x_batch)
        y = self.data.y_train[idx]
        measure = self.step + 1 in self._record_steps
        # A large learning rate overflows float32: the loss says so, and the run stops below.
        with np.errstate(over="ignore", invalid="ignore"):
            loss = self.model.loss_and_grads(x, y, self.grads)
            self.losses[self.step] = loss
            self.computed += 1
            if not math.isfinite(loss):
                self.status = "diverged"
                return
            before = weight_snapshot(self.model) if measure else None
            self.optimizer.update(self.model.params, self.grads)
        self.step += 1
        if before is not None:
            self._ratios = update_ratios(self.model, before)
        self._observe()

    def _observe(self) -> None:
        record, capture = self.step in self._record_steps, self.step in self._capture_steps
        if not (record or capture):
            return
        model = self.model
        with np.errstate(over="ignore", invalid="ignore"):
            train_loss, train_acc, probe = model.evaluate(self.probe_x, self.probe_y, keep=capture)
            if not math.isfinite(train_loss):  # the last update overflowed the weights
                self.status = "diverged"
            if record:
                test_loss, test_acc, _ = model.evaluate(self.data.x_test, self.data.y_test)
                self.records.append(
                    Record(
                        self.step,
                        train_loss,
                        train_acc,
                        test_loss,
                        test_acc,
                        dead_fractions(probe),
                        self._ratios,
                    )
                )
            if capture:
                model.backward(self.probe_x, probe, self.probe_y, grads=None)
                layers = capture_layers(model, probe, self.config.run.bins)
                output = capture_output(model, probe, self.config.run.bins, len(layers) + 1)
                self.captures.append(Capture(self.step, layers, output))

    def result(self) -> TrainResult:
        n = self.computed
        return TrainResult(
            self.config,
            self.status,
            self.step,
            self.losses[:n].copy(),
            tuple(self.records),
            tuple(self.captures),
        )


def train(
    config: TrainConfig,
    on_record: Callable[[TrainResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train to the end (or divergence, or `should_stop`), calling `on_record` with the partial
    result after every record."""
    return train_runs([config], None if on_record is None else lambda rs: on_record(rs[0]), should_stop)[0]


def train_runs(
    configs: Sequence[TrainConfig],
    on_progress: Callable[[list[TrainResult]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[TrainResult]:
    """Train several runs in lock step, `chunk` steps each in turn (the smallest record interval),
    calling `on_progress` with every run's partial result after each round. Runs that share data
    share their data set's arrays."""
    blas.single_thread()  # the same bits on every machine
    sets: dict[tuple[object, ...], Dataset] = {}
    trainers = []
    for config in configs:
        key = (
            (config.data, config.digits) if config.data == "mnist" else (config.data, config.run, config.loss)
        )
        if key not in sets:
            sets[key] = dataset_for(config)
        trainers.append(Trainer(config, sets[key]))
    chunk = min(c.record_every for c in configs)
    while True:
        for t in trainers:
            t.advance(chunk, should_stop)
        if any(t.status == "cancelled" for t in trainers):
            for t in trainers:
                t.status = "cancelled" if t.status == "running" else t.status
        results = [t.result() for t in trainers]
        if on_progress is not None:
            on_progress(results)
        if all(t.done for t in trainers):
            return results
