"""Column titles: "sigmoid, N(0, 1)", made unique within an experiment."""

from __future__ import annotations

from collections.abc import Sequence

from ..layers.initializers import INITIALIZERS
from .config import RUN_FIELDS, RunConfig


def init_label(run: RunConfig) -> str:
    """The initializer's short label with its parameters filled in: "N(0, 0.01²)", "He × 2"."""
    params = run.init_params()
    numbers = {k: f"{v:g}" for k, v in params.items() if isinstance(v, float)}
    text = INITIALIZERS[run.init].label.format(**numbers).replace("N(0, 1²)", "N(0, 1)")
    if params.get("mode") == "fan_out":
        text += " (fan_out)"
    gain = float(params.get("gain", 1.0))
    return text if gain == 1.0 else f"{text} × {gain:g}"


def default_label(run: RunConfig) -> str:
    """A human label such as "sigmoid, N(0, 1)" or "tanh → sigmoid, Xavier"."""
    act = run.activation if not run.output_activation else f"{run.activation} → {run.output_activation}"
    return f"{act}, {init_label(run)}"


_NAMED = ("activation", "output_activation", "init", "label")


def run_labels(runs: Sequence[RunConfig]) -> list[str]:
    """Each run's own label, or its default label; runs whose default labels coincide get the
    settings that tell them apart ("… · depth 20"), or their position when nothing does."""
    labels = [run.label or default_label(run) for run in runs]
    out = []
    for i, run in enumerate(runs):
        twins = [j for j, other in enumerate(runs) if j != i and not other.label and labels[j] == labels[i]]
        if run.label or not twins:
            out.append(labels[i])
            continue
        mine = run.as_dict()
        others = [runs[j].as_dict() for j in twins]
        differences = [
            f"{name.replace('_', ' ')} {_text(mine[name])}"
            for name in RUN_FIELDS
            if name not in _NAMED and name in mine and any(o.get(name) != mine[name] for o in others)
        ]
        out.append(f"{labels[i]} · {', '.join(differences[:2])}" if differences else labels[i])
    # Runs that differ in nothing shown (the same settings at two positions): number them.
    return [f"{text} ({i + 1})" if out.count(text) > 1 else text for i, text in enumerate(out)]


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return "-".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)
