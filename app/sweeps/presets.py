"""Named sweeps, each written as its sweep link (the product's own format), with the metric to show.

A training sweep's metric is one of the training metrics (app/sweeps/metrics.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SweepPreset:
    name: str
    title: str
    query: str
    metric: str  # what the page shows first
    shows: str

    def describe(self) -> dict[str, str]:
        return {
            "name": self.name,
            "title": self.title,
            "sweep": self.query,
            "metric": self.metric,
            "shows": self.shows,
        }


SWEEP_PRESETS: dict[str, SweepPreset] = {
    p.name: p
    for p in (
        SweepPreset(
            "tanh-phase",
            "Order to chaos, measured: tanh, 30 layers, sigma_w x sigma_b",
            # xavier with gain g draws W ~ N(0, g^2 / fan_in): gain is sigma_w; bias_std is sigma_b
            "bias=normal&depth=30&samples=500&run=tanh,xavier&axis.gain=0.5:4:lin:15&axis.bias_std=0:1:lin:11",
            "log10_chi_measured",
            "the measured growth of the gradient per layer over 30 layers: below 0 (blue) it vanishes, "
            "above (red) it explodes; the mean-field theory's chi = 1 line runs along the boundary",
        ),
        SweepPreset(
            "init-scales-16",
            "16 weight scales, ReLU, 5 layers: the activations' spread (batchnorm-scales trains them)",
            "run=relu,normal&axis.std=0.0001:1:log:16",
            "std_ratio",
            "how the activations' spread changes through 5 ReLU layers as the weights' std goes from "
            "1e-4 to 1: it collapses below He's sqrt(2/100) ~ 0.14 and blows up above",
        ),
        SweepPreset(
            "relu-init-lr",
            "Initialization x learning rate: ReLU, 3 layers of 100, 200 SGD steps on the MNIST subset",
            # 21 trainings of ~0.3 s each: seconds on two cores
            "of=train&depth=3&batch=100&iterations=200&run=relu,normal,std:0.01"
            "&axis.lr=0.001:1:log:7&axis.init=normal,xavier,he_normal",
            "test_accuracy",
            "test accuracy after 200 steps: N(0, 0.01^2) weights stay at chance (10%) at every learning "
            "rate, Xavier and He learn best near lr 0.1-0.3, and at lr 1 most ReLU units die "
            "(dead_fraction 0.6-0.7) and accuracy falls",
        ),
        SweepPreset(
            "batchnorm-scales",
            "Batch Normalization x 16 weight scales: ReLU, 5 layers of 100, 200 SGD steps on MNIST "
            "(the book's figure)",
            # Saito 6.3.2: std 1 .. 1e-4 (16 on a log scale), SGD lr 0.01 (sgd's default), batches
            # of 100, 200 steps (his 20 epochs of 1,000 digits). 32 trainings of 0.58-0.69 s: 18.5-22 s
            # one after another in one process (bench.sweep_bench --preset batchnorm-scales --points 32,
            # 2 cores shared with other work), 12-14 s on the 2-worker local cluster
            "of=train&batch=100&iterations=200&run=relu,normal&axis.std=0.0001:1:log:16&axis.norm=none,batch",
            "test_accuracy",
            "32 trainings (about 20 s one after another on one core); test accuracy after 200 steps, with "
            "BatchNorm before each ReLU and without: BatchNorm learns "
            "at 15 of the 16 scales, 1.8e-4 to 1 (94% at 4e-3, 26% at 1; chance only at 1e-4), the plain "
            "network at 3, 0.086 to 0.29 (74% at 0.16, where it beats BatchNorm's 57%): below them it "
            "stays at chance, 10%, and from 0.54 up it overflows (diverged, no accuracy)",
        ),
    )
}
