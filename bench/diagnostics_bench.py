"""What each diagnostic costs next to the plain forward pass of the same link, in the same run.

    python -m bench.diagnostics_bench [--repeat 3] [--links NAME,...] [--no-coord] [--no-phase]

For each link: the forward pass /simulate makes (grad=0, theory on: run_experiment), the
correlation map alone (jacobian=0), the Jacobian alone (pairs=1, one c0), both (the defaults) and
both over a seed ensemble of 4 (seeds=4), each timed `repeat` times, interleaved so machine noise
hits them alike; the minimum of each is printed with its ratio to the forward pass's minimum, and
the cost bound (multiply-adds) beside. Then the width-scaling check (its defaults) beside the small
link's forward pass. Then the phase diagram's xi_c grid (color=xi_c) beside its chi grid (the
default answer) over the same grid: with the C-map's tables of the grid's decades of q* already
built, and cold (built anew, as a server's first request for an activation). The 1-minute load
average is printed: above 0.5 on a 2-core machine, timings are unreliable.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import replace

from app import codec
from app.api.theory import Color, diagram_body
from app.engine import correlation_grid
from app.engine.correlation_theory import _run_correlation_theory
from app.engine.network.config import ExperimentConfig
from app.engine.network.cost import experiment_cost
from app.engine.network.diagnostics import DiagnosticsOptions, diagnostics_cost, make_options, run_diagnostics
from app.engine.network.experiment import run_experiment
from app.engine.network.memo import DRAWS
from app.engine.theory import clear_cache as clear_theory
from app.engine.training.coord_check import CoordConfig, coord_check, coord_cost

LINKS = {
    "small": "run=tanh,xavier&run=relu,he_normal",  # 5 x 100, 1000 samples: the texts' size
    "wide": "depth=10&width=1000&input_dim=1000&samples=1000&run=tanh,xavier",  # exact SVD at its limit
    "deep": "depth=64&width=256&input_dim=256&samples=1000&run=tanh,orthogonal",  # Pennington's size
    "random": "depth=4&width=2048&input_dim=2048&samples=200&run=tanh,xavier",  # the randomized method
}


def _fresh() -> None:
    """Forget cached draws and predictions: every timing is of a first request."""
    DRAWS.clear()
    clear_theory()
    _run_correlation_theory.cache_clear()


def _timed(work: Callable[[], object]) -> float:
    _fresh()
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _workloads(config: ExperimentConfig) -> dict[str, tuple[Callable[[], object], int]]:
    forward = replace(config, gradients=False)
    options = {
        "correlation map": make_options(jacobian=0),
        "Jacobian": make_options(c0=[0.5], pairs=1, jacobian=2),
        "both (defaults)": make_options(),
        "both, seeds=4": make_options(seeds=4),
    }

    def diag(o: DiagnosticsOptions) -> Callable[[], object]:
        return lambda: run_diagnostics(config, o)

    out: dict[str, tuple[Callable[[], object], int]] = {
        "forward (/simulate, grad=0)": (lambda: run_experiment(forward), experiment_cost(forward).macs)
    }
    for name, o in options.items():
        out[name] = (diag(o), diagnostics_cost(config, o).macs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--links", default=",".join(LINKS), help=f"some of {', '.join(LINKS)}")
    parser.add_argument("--no-coord", dest="coord", action="store_false", help="skip the coordinate check")
    parser.add_argument(
        "--no-phase", dest="phase", action="store_false", help="skip the phase diagram's grids"
    )
    args = parser.parse_args()
    print(f"1-minute load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (above 0.5: unreliable)")
    for name in filter(None, args.links.split(",")):  # --links "" for the other sections alone
        link = LINKS[name]
        config = codec.to_experiment(codec.decode(link))
        work = _workloads(config)
        times: dict[str, list[float]] = {k: [] for k in work}
        for _ in range(args.repeat):
            for k, (run, _macs) in work.items():
                times[k].append(_timed(run))
        base = min(times["forward (/simulate, grad=0)"])
        print(f"\n{name}: {link}")
        for k, (_, macs) in work.items():
            best = min(times[k])
            print(f"  {k:28s} {1000 * best:9.1f} ms  x{best / base:6.2f}   bound {macs:,} multiply-adds")
    if args.coord:
        coord_line(args.repeat)
    if args.phase:
        phase_lines(args.repeat)


def coord_line(repeat: int) -> None:
    """The width-scaling check (its defaults) beside the forward pass of the "small" link."""
    config = codec.to_experiment(codec.decode(LINKS["small"]))
    forward = replace(config, gradients=False)
    check = CoordConfig()
    base, coord = [], []
    for _ in range(repeat):
        base.append(_timed(lambda: run_experiment(forward)))
        coord.append(_timed(lambda: coord_check(check)))
    widths = f"widths {check.widths[0]} to {check.widths[-1]}"
    print(f"\ncoord check ({widths}, {check.steps} Adam steps, SP and muP)")
    print(f"  {'forward of small (baseline)':28s} {1000 * min(base):9.1f} ms  x{1.0:6.2f}")
    print(
        f"  {'coordinate check':28s} {1000 * min(coord):9.1f} ms  x{min(coord) / min(base):6.2f}   "
        f"bound {coord_cost(check):,} multiply-adds"
    )


PHASE_GRIDS = {  # activation, sigma_w_max, sigma_b_max, steps
    "the dashboard's tanh diagram": ("tanh", 4.0, 1.0, 100),
    "the largest tanh grid": ("tanh", 50.0, 50.0, 200),
    "the largest sigmoid grid": ("sigmoid", 50.0, 50.0, 200),
    "gelu, 200 x 200": ("gelu", 4.0, 1.0, 200),
    "selu, 200 x 200 (f' jumps: finer tables)": ("selu", 4.0, 1.0, 200),
}


def phase_lines(repeat: int) -> None:
    """The xi_c grid's cost (GET /phase-diagram?color=xi_c's work) against the chi grid's (the
    default answer's) over the same grid, interleaved; warm: the C-map's tables of the grid's
    decades kept, cold: built anew."""

    def grid(color: Color, name: str, w: float, b: float, steps: int, cold: bool) -> Callable[[], float]:
        def work() -> float:
            correlation_grid.xi_c_diagram.cache_clear()
            if cold:
                correlation_grid._decade.cache_clear()
            start = time.perf_counter()
            diagram_body(name, {}, w, b, steps=steps, color=color)
            return time.perf_counter() - start

        return work

    for title, (name, w, b, steps) in PHASE_GRIDS.items():
        work = {
            "chi grid (the default)": grid("chi", name, w, b, steps, False),
            "xi_c grid, tables built": grid("xi_c", name, w, b, steps, False),
            "xi_c grid, cold": grid("xi_c", name, w, b, steps, True),
        }
        work["chi grid (the default)"]()  # theory's tables of E[f^2] and E[f'^2] for both
        work["xi_c grid, tables built"]()
        times: dict[str, list[float]] = {k: [] for k in work}
        for _ in range(repeat):
            for k, run in work.items():
                times[k].append(run())
        base = min(times["chi grid (the default)"])
        print(f"\nphase diagram: {title} ({name}, sigma_w <= {w:g}, sigma_b <= {b:g}, {steps} x {steps})")
        for k in work:
            best = min(times[k])
            print(f"  {k:28s} {1000 * best:9.1f} ms  x{best / base:6.2f}")


if __name__ == "__main__":
    main()
