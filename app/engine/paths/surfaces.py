"""2-D test surfaces and the paths optimizers take on them (Saito, "Deep Learning from Scratch", 6.1).

Each surface gives its value and gradient side by side, a start and a plotting window, and its
`defaults`: the start, steps and learning rate per optimizer the optimizers page opens it with,
measured to suit it (scripts/sweep-path-rates.py: every optimizer ends near a minimum without
diverging, and the optimizers still differ). `Surface.start`, 30 steps and the book's four
optimizers at the book's rates are what a link that leaves them out means; they never change, so
old links keep their meaning, and a comparison at a surface's defaults spells them out in its link.
`optimizer_path` runs one optimizer from the registry (the same `update` the networks use) from a
start point; a path that leaves the finite numbers or goes beyond `DIVERGENCE_BOUND` stops there
and says so, rather than filling the page with overflow. `PathsConfig` is one comparison (surface,
start, steps, optimizers), validated and bounded by `make_paths_config`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..optimizers import make_optimizer, resolve_optimizer_params
from ..params import ConfigError, ParamSpec

Array = NDArray[np.float64]
Grad = tuple[Array, Array]
Window = tuple[float, float, float, float]  # x_min, x_max, y_min, y_max

DIVERGENCE_BOUND = 1e6  # |x| or |y| beyond this: the path has diverged (and would overflow soon)


@dataclass(frozen=True)
class SurfaceDefaults:
    """What the optimizers page opens a surface with: a start, a number of steps and a learning rate
    for every optimizer of the registry, chosen by measurement (scripts/sweep-path-rates.py)."""

    start: tuple[float, float]
    steps: int
    lr: Mapping[str, float]
    note: str  # why these rates, in a sentence


@dataclass(frozen=True)
class Surface:
    name: str
    label: str
    formula: str
    f: Callable[[Array, Array], Array]
    grad: Callable[[Array, Array], Grad]
    start: tuple[float, float]  # where a link without start= begins; fixed, so old links keep meaning
    window: Window
    minima: tuple[tuple[float, float], ...]  # the global minima, where there are any
    defaults: SurfaceDefaults
    log_levels: bool = False  # contour levels of log10(1 + f - f_min): the values span decades
    note: str = ""

    @property
    def f_min(self) -> float:
        x, y = self.minima[0]
        return float(self.f(np.array(x), np.array(y)))


def _book(x: Array, y: Array) -> Array:
    return x * x / 20.0 + y * y


def _book_grad(x: Array, y: Array) -> Grad:
    return x / 10.0, 2.0 * y


def _rosenbrock(x: Array, y: Array) -> Array:
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _rosenbrock_grad(x: Array, y: Array) -> Grad:
    return -2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)


def _saddle(x: Array, y: Array) -> Array:
    return x * x / 2.0 + y**4 / 4.0 - y * y / 2.0


def _saddle_grad(x: Array, y: Array) -> Grad:
    return x, y**3 - y


_BEALE_C = (1.5, 2.25, 2.625)


def _beale(x: Array, y: Array) -> Array:
    return sum(((c - x + x * y ** (k + 1)) ** 2 for k, c in enumerate(_BEALE_C)), np.zeros_like(x))


def _beale_grad(x: Array, y: Array) -> Grad:
    gx, gy = np.zeros_like(x), np.zeros_like(y)
    for k, c in enumerate(_BEALE_C):
        r = c - x + x * y ** (k + 1)
        gx = gx + 2.0 * r * (y ** (k + 1) - 1.0)
        gy = gy + 2.0 * r * (k + 1) * x * y**k
    return gx, gy


def _rates(**lr: float) -> dict[str, float]:
    """A learning rate per optimizer, by name."""
    return lr


# The book's rates on its bowl (ch06/optimizer_compare_naive.py) for its four optimizers, Momentum's
# for Nesterov, and RMSProp's own; the registry's defaults (the book's for MNIST) would barely move
# in 30 steps here. A link that names no optimizer runs the book's four at these rates.
BOOK_LR = {"sgd": 0.95, "momentum": 0.1, "nesterov": 0.1, "adagrad": 1.5, "rmsprop": 0.1, "adam": 0.3}

_SURFACE_LIST = [
    Surface(
        "book",
        "Elongated bowl (the book's)",
        "f(x, y) = x²/20 + y²",
        _book,
        _book_grad,
        start=(-7.0, 2.0),
        window=(-10.0, 10.0, -5.0, 5.0),
        minima=((0.0, 0.0),),
        defaults=SurfaceDefaults(
            start=(-7.0, 2.0),
            steps=30,
            lr=BOOK_LR,
            note="the book's comparison (Saito, ch. 6), exactly as printed",
        ),
        note="twenty times more curved in y than in x: the gradient points across the valley, not along it",
    ),
    Surface(
        "rosenbrock",
        "Rosenbrock's banana valley",
        "f(x, y) = (1 − x)² + 100 (y − x²)²",
        _rosenbrock,
        _rosenbrock_grad,
        start=(-1.5, 2.0),
        window=(-2.0, 2.0, -1.0, 3.0),
        minima=((1.0, 1.0),),
        defaults=SurfaceDefaults(
            start=(-1.2, 1.0),  # Rosenbrock's own (1960); from (-1.5, 2) AdaGrad's first gradients stall it
            steps=1000,
            lr=_rates(sgd=0.0019, momentum=0.001, nesterov=0.0005, adagrad=1.0, rmsprop=0.01, adam=0.1),
            note="at (1, 1) the valley is 2,500 times more curved across than along: SGD cannot take "
            "steps over 2/1002 ≈ 0.002 without bouncing off its walls, so it crawls along the floor while "
            "Momentum, Nesterov and Adam build up speed",
        ),
        log_levels=True,
        note="finding the curved valley is easy, following it to (1, 1) is hard",
    ),
    Surface(
        "saddle",
        "Saddle between two valleys",
        "f(x, y) = x²/2 + y⁴/4 − y²/2",
        _saddle,
        _saddle_grad,
        start=(-2.5, 0.01),
        window=(-3.0, 3.0, -2.0, 2.0),
        minima=((0.0, -1.0), (0.0, 1.0)),
        defaults=SurfaceDefaults(
            start=(-2.5, 0.01),
            steps=60,
            lr=_rates(sgd=0.1, momentum=0.03, nesterov=0.03, adagrad=0.5, rmsprop=0.05, adam=0.1),
            note="SGD, Momentum and Nesterov slide into the saddle and wait there for y to grow; AdaGrad, "
            "RMSProp and Adam divide by the gradient's size, so even y = 0.01 moves them off it at once",
        ),
        note="a saddle point at (0, 0): starting near y = 0, the gradient barely says which way to go",
    ),
    Surface(
        "beale",
        "Beale's function",
        "f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
        _beale,
        _beale_grad,
        start=(1.0, 1.4),
        window=(-1.0, 4.5, -2.0, 2.5),
        minima=((3.0, 0.5),),
        defaults=SurfaceDefaults(
            start=(1.0, 1.4),
            steps=200,
            lr=_rates(sgd=0.02, momentum=0.002, nesterov=0.002, adagrad=1.0, rmsprop=0.05, adam=0.1),
            note="the gradient at the start is 500 times the gradient near (3, 0.5): a rate SGD survives "
            "at the start (its first step is 1.5 long) is slow near the end, while AdaGrad, RMSProp and Adam "
            "scale their steps to the gradient",
        ),
        log_levels=True,
        note="flat plateaus and steep walls: gradients span many decades",
    ),
]

SURFACES: dict[str, Surface] = {s.name: s for s in _SURFACE_LIST}
DEFAULT_SURFACE = "book"


@dataclass(frozen=True)
class Path:
    """One optimizer's path: points[0] is the start, points[k] the point after step k."""

    optimizer: str
    params: dict[str, float]
    x: Array
    y: Array
    values: Array
    diverged_at: int | None  # the step that left the finite numbers or DIVERGENCE_BOUND; None if none

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None


def optimizer_path(
    surface: Surface, start: tuple[float, float], steps: int, optimizer: str, params: Mapping[str, float]
) -> Path:
    """`steps` updates of a fresh optimizer from `start`; raises ConfigError for bad parameters."""
    opt = make_optimizer(optimizer, **params)
    point = {"x": np.array(float(start[0])), "y": np.array(float(start[1]))}
    xs, ys = [float(start[0])], [float(start[1])]
    diverged_at = None
    for step in range(1, steps + 1):
        # Huge steps may overflow inside the update; the check below catches the result instead.
        with np.errstate(over="ignore", invalid="ignore"):
            gx, gy = surface.grad(point["x"], point["y"])
            opt.update(point, {"x": np.asarray(gx), "y": np.asarray(gy)})
        x, y = float(point["x"]), float(point["y"])
        if not (abs(x) <= DIVERGENCE_BOUND and abs(y) <= DIVERGENCE_BOUND):  # also catches nan
            diverged_at = step
            break
        xs.append(x)
        ys.append(y)
    x_arr, y_arr = np.array(xs), np.array(ys)
    return Path(optimizer, dict(params), x_arr, y_arr, surface.f(x_arr, y_arr), diverged_at)


def optimizer_paths(
    surface: Surface,
    start: tuple[float, float],
    steps: int,
    optimizers: list[tuple[str, Mapping[str, float]]],
) -> list[Path]:
    """One path per (optimizer name, parameters), all from the same start."""
    return [optimizer_path(surface, start, steps, name, params) for name, params in optimizers]


def plot_window(surface: Surface, start: tuple[float, float]) -> Window:
    """The surface's window, grown to show the start with a margin."""
    x0, x1, y0, y1 = surface.window
    sx, sy = start
    mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    return (min(x0, sx - mx), max(x1, sx + mx), min(y0, sy - my), max(y1, sy + my))


def contour_grid(surface: Surface, window: Window, points: int = 121) -> tuple[Array, Array, Array]:
    """x (points,), y (points,) and the contour levels (points, points), rows along y: f itself, or
    log10(1 + f - f_min) for surfaces whose values span decades."""
    x = np.linspace(window[0], window[1], points)
    y = np.linspace(window[2], window[3], points)
    gx, gy = np.meshgrid(x, y)
    z = surface.f(gx, gy)
    if surface.log_levels:
        z = np.log10(1.0 + np.maximum(z - surface.f_min, 0.0))
    return x, y, z


STEPS = ParamSpec("steps", 30, "optimizer updates per path", kind="int", low=1, high=1000)
START = ParamSpec("start", 0.0, "start coordinate", low=-100.0, high=100.0)
MAX_PATHS = 8
BOOK_FOUR = ("sgd", "momentum", "adagrad", "adam")
# The book's comparison: the default when no optimizer is named, on any surface (a link's meaning).
BOOK_OPTIMIZERS = tuple((name, {"lr": BOOK_LR[name]}) for name in BOOK_FOUR)


@dataclass(frozen=True)
class PathRun:
    optimizer: str
    params: dict[str, float]  # every parameter, defaults filled in


@dataclass(frozen=True)
class PathsConfig:
    surface: str
    start: tuple[float, float]
    steps: int
    runs: tuple[PathRun, ...]


def make_paths_config(
    surface: str | None = None,
    start: tuple[object, object] | None = None,
    steps: object | None = None,
    runs: list[tuple[str, Mapping[str, object]]] | None = None,
) -> PathsConfig:
    """A checked comparison; None takes a link's default (the surface's `start`, 30 steps, the book's
    four optimizers at the book's rates: fixed, whatever the surface's `defaults`). Raises ConfigError
    naming the field (`opt[i].lr` for an optimizer's) and its limits."""
    name = DEFAULT_SURFACE if surface is None else surface
    if name not in SURFACES:
        raise ConfigError("surface", f"unknown surface {name!r}; one of {', '.join(SURFACES)}")
    if start is None:
        point = SURFACES[name].start
    else:
        try:
            point = (float(START.check(start[0])), float(START.check(start[1])))
        except ConfigError as err:
            raise ConfigError("start", f"each coordinate {err.message}") from None
    n_steps = int(STEPS.check(STEPS.default if steps is None else steps))
    chosen = list(BOOK_OPTIMIZERS) if runs is None else runs
    if not 1 <= len(chosen) <= MAX_PATHS:
        raise ConfigError("opt", f"must name between 1 and {MAX_PATHS} optimizers, got {len(chosen)}")
    checked = []
    for i, (optimizer, params) in enumerate(chosen):
        try:
            checked.append(PathRun(optimizer, resolve_optimizer_params(optimizer, params)))
        except ConfigError as err:
            where = f"opt[{i}]" if err.field == "optimizer" else f"opt[{i}].{err.field}"
            raise ConfigError(where, err.message) from None
    return PathsConfig(name, point, n_steps, tuple(checked))


def default_config(surface: str, optimizers: Sequence[str] = BOOK_FOUR) -> PathsConfig:
    """The comparison the optimizers page opens `surface` with: its defaults' start, steps and rates
    for `optimizers` (the book's four unless named)."""
    defaults = SURFACES[surface].defaults
    runs: list[tuple[str, Mapping[str, object]]] = [(name, {"lr": defaults.lr[name]}) for name in optimizers]
    return make_paths_config(surface, defaults.start, defaults.steps, runs)


def compute_paths(config: PathsConfig) -> list[Path]:
    surface = SURFACES[config.surface]
    return optimizer_paths(
        surface, config.start, config.steps, [(r.optimizer, r.params) for r in config.runs]
    )


# ---- One unit's two weights: the zig-zag of all-positive inputs (notes 001) ----------------------
#
# A sigmoid unit f = σ(w0 x0 + w1 x1) learns, one sample a step (SGD, squared error), the weights
# of a teacher unit with the same inputs: w* = (2, -2) from w = (0, 0), so w0 must grow and w1
# shrink, the notes' example. dL/dw_i = x_i δ with δ = (f - y) f (1 - f) the same for both
# weights, so when every x_i > 0 (the outputs of a sigmoid layer) both components of every step
# share δ's sign: the path can only go up-right or down-left, a staircase towards (2, -2). The same
# inputs minus their mean (zero-centred) let a step go down-right directly.

ZIGZAG_INPUTS = ("positive", "centred")
ZIGZAG_TARGET = (2.0, -2.0)  # the teacher's weights: w0 up, w1 down from the start
ZIGZAG_START = (0.0, 0.0)
ZIGZAG_SAMPLES = 256  # the inputs, visited in a fresh seeded order each pass
ZIGZAG_NEAR = 0.5  # a path has arrived when it is this close to the teacher's weights
ZIGZAG_TAG = 0x2162  # the inputs' and the order's random stream
ZIGZAG_STEPS = ParamSpec("steps", 300, "one-sample updates per path", kind="int", low=1, high=5000)
ZIGZAG_LR = ParamSpec("lr", 5.0, "learning rate", low=1e-6, high=100.0)
ZIGZAG_SEED = ParamSpec("seed", 0, "seeds the inputs and their order", kind="int", low=0, high=2**32 - 1)


@dataclass(frozen=True)
class ZigzagConfig:
    steps: int = 300
    lr: float = 5.0
    seed: int = 0


@dataclass(frozen=True)
class UnitPath:
    """One input kind's weight path, (steps + 1, 2), and what it measures."""

    inputs: str  # "positive" or "centred"
    w: Array  # w[k] after k steps; w[0] is the start
    same_sign: float  # the fraction of steps whose two components share a sign (zero steps aside)
    length: float  # the path's length: the sum of its steps' lengths
    straight: float  # the straight line from its start to its end
    arrived: int | None  # the first step within ZIGZAG_NEAR of the teacher's weights

    @property
    def detour(self) -> float:
        """How many times longer than the straight line the path is."""
        return self.length / self.straight if self.straight > 0 else float("inf")


def make_zigzag_config(steps: object = None, lr: object = None, seed: object = None) -> ZigzagConfig:
    """A checked configuration; None is the default."""
    return ZigzagConfig(
        steps=int(ZIGZAG_STEPS.check(ZIGZAG_STEPS.default if steps is None else steps)),
        lr=float(ZIGZAG_LR.check(ZIGZAG_LR.default if lr is None else lr)),
        seed=int(ZIGZAG_SEED.check(ZIGZAG_SEED.default if seed is None else seed)),
    )


def _sigmoid(z: Array) -> Array:
    out: Array = 0.5 * (1.0 + np.tanh(0.5 * z))  # σ without overflow
    return out


def zigzag_inputs(seed: int) -> tuple[Array, Array]:
    """The all-positive inputs (the sigmoids of N(0, 1) pairs, as a sigmoid layer gives them) and
    the same inputs minus their mean."""
    rng = np.random.default_rng([seed, ZIGZAG_TAG])
    positive = _sigmoid(rng.standard_normal((ZIGZAG_SAMPLES, 2)))
    return positive, positive - positive.mean(axis=0)


def unit_path(config: ZigzagConfig, inputs: str) -> UnitPath:
    if inputs not in ZIGZAG_INPUTS:
        raise ConfigError("inputs", f"must be one of {', '.join(ZIGZAG_INPUTS)}")
    x = zigzag_inputs(config.seed)[ZIGZAG_INPUTS.index(inputs)]
    target = np.array(ZIGZAG_TARGET)
    y = _sigmoid(x @ target)  # the teacher's outputs: the weights to learn are exactly w*
    # The same sample order for both kinds of inputs: their paths differ by the centring alone.
    rng = np.random.default_rng([config.seed, ZIGZAG_TAG, 1])
    passes = config.steps // ZIGZAG_SAMPLES + 1
    order = np.concatenate([rng.permutation(ZIGZAG_SAMPLES) for _ in range(passes)])[: config.steps]
    w = np.empty((config.steps + 1, 2))
    w[0] = ZIGZAG_START
    for k, i in enumerate(order):
        f = float(_sigmoid(x[i] @ w[k]))
        delta = (f - y[i]) * f * (1.0 - f)  # dL/dz of L = (f - y)² / 2, shared by both weights
        w[k + 1] = w[k] - config.lr * delta * x[i]
    steps = np.diff(w, axis=0)
    moving = steps[(steps[:, 0] != 0) & (steps[:, 1] != 0)]
    same = float(np.mean(np.sign(moving[:, 0]) == np.sign(moving[:, 1]))) if len(moving) else 0.0
    near = np.flatnonzero(np.hypot(*(w - target).T) < ZIGZAG_NEAR)
    return UnitPath(
        inputs=inputs,
        w=w,
        same_sign=same,
        length=float(np.hypot(steps[:, 0], steps[:, 1]).sum()),
        straight=float(np.hypot(*(w[-1] - w[0]))),
        arrived=int(near[0]) if len(near) else None,
    )


def unit_paths(config: ZigzagConfig) -> tuple[UnitPath, ...]:
    """The unit's path on all-positive inputs, then on the same inputs zero-centred."""
    return tuple(unit_path(config, inputs) for inputs in ZIGZAG_INPUTS)
