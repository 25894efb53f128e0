"""Measure learning rates for the optimizers page's surfaces: how the surfaces' defaults were chosen.

    python scripts/sweep-path-rates.py                      # every surface at its defaults
    python scripts/sweep-path-rates.py rosenbrock --start -1.5,2 --steps 500 --sweep

For each surface, from its defaults' start and for its defaults' steps (or --start/--steps), each
optimizer runs at its default rate (app/engine/paths/surfaces.py) through the engine the page uses. The
table says where each path ends: its distance to the nearest minimum (also as a share of the start's
distance), f - f_min as a share of the start's, the first step within a tenth of the start's
distance ("near"), the first step with |y| > 0.5 ("escape": off the saddle's ridge, for a start
with |y| < 0.5), the points
outside the plotted window, and the smallest multiple of the rate (1.5, 2, 3) that diverges.

With --sweep, a line per optimizer first lists every rate of a 1-1.5-2-3-5-7 grid from 1e-4 to 10:
`rate:distance/near` for the paths that end within half the start's distance, `rate:D<step>` for
those that diverge, so the choice can be remade. A default was picked as a rate of that grid (or
just under a stability limit, as SGD's 0.0019 on Rosenbrock) that ends near the minimum, leaves the
window nowhere, survives 1.5 times itself, and keeps the optimizers' differences visible.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine.optimizers import OPTIMIZERS
from app.engine.paths.surfaces import SURFACES, Surface, optimizer_path, plot_window

GRID = sorted({round(m * 10.0**e, 10) for e in range(-4, 2) for m in (1, 1.5, 2, 3, 5, 7)} - {15.0, 20.0})
GRID = [lr for lr in GRID if lr <= 10]


def measure(
    surface: Surface, start: tuple[float, float], steps: int, optimizer: str, lr: float
) -> dict[str, Any]:
    path = optimizer_path(surface, start, steps, optimizer, {"lr": lr})
    minima = np.array(surface.minima)
    dist = np.min(np.hypot(minima[:, :1] - path.x, minima[:, 1:] - path.y), axis=0)
    d0 = float(dist[0])
    x0, x1, y0, y1 = plot_window(surface, start)
    near = np.nonzero(dist < 0.1 * d0)[0]
    escape = np.nonzero(np.abs(path.y) > 0.5)[0] if abs(start[1]) < 0.5 else np.array([], dtype=int)
    return {
        "diverged": path.diverged_at,
        "final": float(dist[-1]),
        "share": float(dist[-1]) / d0,
        "gap": float((path.values[-1] - surface.f_min) / (path.values[0] - surface.f_min)),
        "near": int(near[0]) if len(near) else None,
        "escape": int(escape[0]) if len(escape) else None,
        "outside": int(np.sum((path.x < x0) | (path.x > x1) | (path.y < y0) | (path.y > y1))),
    }


def diverges_at(surface: Surface, start: tuple[float, float], steps: int, optimizer: str, lr: float) -> str:
    for factor in (1.5, 2, 3):
        if optimizer_path(surface, start, steps, optimizer, {"lr": lr * factor}).diverged:
            return f"×{factor:g}"
    return "over ×3"


def sweep_line(surface: Surface, start: tuple[float, float], steps: int, optimizer: str) -> str:
    items = []
    for lr in GRID:
        m = measure(surface, start, steps, optimizer, lr)
        if m["diverged"] is not None:
            items.append(f"{lr:g}:D{m['diverged']}")
        elif m["share"] < 0.5:
            items.append(f"{lr:g}:{m['final']:.2g}/{m['near'] if m['near'] is not None else '-'}")
    return f"  {optimizer:9s} " + "  ".join(items)


def report(name: str, start: tuple[float, float] | None, steps: int | None, sweep: bool) -> None:
    surface = SURFACES[name]
    start = start or surface.defaults.start
    steps = steps or surface.defaults.steps
    print(f"\n{surface.label} ({name}): from {start}, {steps} steps")
    if sweep:
        print("  sweep (rate:distance/near, rate:D<step> diverged):")
        for optimizer in OPTIMIZERS:
            print(sweep_line(surface, start, steps, optimizer))
    print(
        "| optimizer | lr | distance at the end | share of start's | f − f_min share "
        "| near | escape | outside | diverges at |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for optimizer in OPTIMIZERS:
        lr = surface.defaults.lr[optimizer]
        m = measure(surface, start, steps, optimizer, lr)
        if m["diverged"] is not None:
            print(f"| {optimizer} | {lr:g} | diverged at step {m['diverged']} | | | | | | |")
            continue
        print(
            f"| {optimizer} | {lr:g} | {m['final']:.3g} | {m['share']:.1%} | {m['gap']:.1e} | "
            f"{'-' if m['near'] is None else m['near']} | {'-' if m['escape'] is None else m['escape']} | "
            f"{m['outside']} | {diverges_at(surface, start, steps, optimizer, lr)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("surfaces", nargs="*", help=f"any of {', '.join(SURFACES)} (all by default)")
    parser.add_argument("--start", help="x,y instead of the defaults' start")
    parser.add_argument("--steps", type=int, help="instead of the defaults' steps")
    parser.add_argument("--sweep", action="store_true", help="list every rate of the grid first")
    args = parser.parse_args()
    unknown = [name for name in args.surfaces if name not in SURFACES]
    if unknown:
        parser.error(f"unknown surface {', '.join(unknown)}; surfaces are {', '.join(SURFACES)}")
    start = None
    if args.start:
        x, y = args.start.split(",")
        start = (float(x), float(y))
    for name in args.surfaces or list(SURFACES):
        report(name, start, args.steps, args.sweep)


if __name__ == "__main__":
    main()
