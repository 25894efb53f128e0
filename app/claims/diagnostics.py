"""Claims of the signal-propagation papers, measured by the diagnostics (/diagnostics): Poole et al.
2016 on the correlation map, Pennington et al. 2017 on the Jacobian's spectrum."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.network.diagnostics import DiagnosticsResult, RunDiagnostics
from .core import Claim, Measurement, PathsView, verdict_of

POOLE = (
    "Poole, Lahiri, Raghu, Sohl-Dickstein and Ganguli, Exponential expressivity in deep neural networks "
    "through transient chaos (2016), figures 1-2"
)
PENNINGTON = (
    "Pennington, Schoenholz and Ganguli, Resurrecting the sigmoid in deep learning through dynamical "
    "isometry (2017)"
)


@dataclass(frozen=True)
class DiagnosticsView(PathsView):
    """The /diagnostics page's section that shows a diagnostics claim: "correlation" or "jacobian"."""


DiagnosticsClaim = Claim[DiagnosticsResult, DiagnosticsView]


def _last(run: RunDiagnostics) -> tuple[float, ...]:
    values = run.correlation[-1].measured
    assert all(v is not None for v in values)
    return tuple(float(v) for v in values if v is not None)


def _poole(result: DiagnosticsResult) -> Measurement:
    ordered, middle, chaotic = result.runs
    first = ordered.correlation[0].measured
    rising = all(
        start is not None and last > start for start, last in zip(first, _last(ordered), strict=True)
    )
    fo, fm, fc = ordered.theory.fixed, middle.theory.fixed, chaotic.theory.fixed
    assert fo.chi1 is not None and fm.c_star is not None and fc.c_star is not None
    to_one = fo.chi1 < 1 and fo.c_star == 1.0 and rising and min(_last(ordered)) > 0.85
    mean_m = sum(_last(middle)) / len(_last(middle))
    mean_c = sum(_last(chaotic)) / len(_last(chaotic))
    near_c_star = abs(mean_m - fm.c_star) < 0.05 and abs(mean_c - fc.c_star) < 0.05
    below_one = fc.c_star < fm.c_star < 1 and near_c_star
    depth = len(ordered.correlation)
    return Measurement(
        verdict_of(to_one, below_one),
        (
            ("sigma_w", 1.3),
            ("chi1 at sigma_w 1.3", fo.chi1),
            ("c0, smallest", min(result.options.c0)),
            ("lowest measured c, last layer, sigma_w 1.3", min(_last(ordered))),
            ("last layer", depth),
            ("sigma_w", 2.3),
            ("sigma_w", 4),
            ("c* at sigma_w 2.3", fm.c_star),
            ("c* at sigma_w 4", fc.c_star),
            ("mean measured c, last layer, sigma_w 2.3", mean_m),
            ("mean measured c, last layer, sigma_w 4", mean_c),
        ),
    )


POOLE_CORRELATION = DiagnosticsClaim(
    text="In the ordered phase [...] all pairs of inputs [...] converge to the same output: c* = 1. In the "
    "chaotic phase [...] the fixed point c* = 1 becomes unstable [...] and nearby points [...] decorrelate, "
    "approaching a fixed point c* < 1 [tanh networks, sigma_b = 0.3, sigma_w on either side of the "
    "order-to-chaos transition].",
    source=POOLE,
    view=DiagnosticsView("correlation"),
    look_at="The correlation of each pair's pre-activations over depth: in the sigma_w 1.3 panel every "
    "curve climbs to 1, in the 2.3 and 4 panels every curve falls to the same c* < 1 (the dashed line).",
    verdict="holds",
    reason="At sigma_w 1.3 (chi1 0.94) even the pairs that start at c0 0.1 reach c 0.95 by layer 30, while "
    "at sigma_w 2.3 and 4 the mean field's c* is 0.16 and 0.030 and the pairs measure 0.18 and 0.031 there.",
    measure=_poole,
)


def _spectrum(run: RunDiagnostics, layer: int = -1) -> tuple[float, float, float, float]:
    """mean_sq, var_sq, max and zero fraction of a layer's spectrum (the last by default)."""
    assert run.jacobian is not None
    shown = [entry for entry in run.jacobian.layers if entry.spectrum is not None]
    entry = shown[layer]
    s = entry.spectrum
    assert s is not None and entry.mean_sq is not None
    return entry.mean_sq, s.var_sq, s.max, s.zeros / s.count


def _tanh_isometry(result: DiagnosticsResult) -> Measurement:
    orthogonal, gaussian = result.runs
    o_mean, o_var, o_max, _ = _spectrum(orthogonal)
    _, g_var, g_max, g_zero = _spectrum(gaussian)
    g_var_first = _spectrum(gaussian, 0)[1]
    concentrated = abs(o_mean - 1) < 0.1 and o_var < 1 and o_max < 2.5
    spreads = g_var > 100 * o_var and g_var > 10 * g_var_first
    return Measurement(
        verdict_of(concentrated, spreads),
        (
            ("last layer", len(orthogonal.correlation)),
            ("orthogonal mean sigma^2", o_mean),
            ("orthogonal var sigma^2", o_var),
            ("orthogonal largest sigma", o_max),
            ("Gaussian var sigma^2, first spectrum layer", g_var_first),
            ("Gaussian var sigma^2", g_var),
            ("Gaussian largest sigma", g_max),
            ("Gaussian share of numerically zero sigma, %", 100 * g_zero),
        ),
    )


PENNINGTON_TANH = DiagnosticsClaim(
    text="[For tanh networks initialized at criticality, chi = 1,] orthogonal weights [...] achieve "
    "dynamical isometry: the singular values of the input-output Jacobian remain concentrated around 1 [...] "
    "independent of depth, whereas with Gaussian weights the spectrum [...] becomes increasingly "
    "anisotropic with depth.",
    source=PENNINGTON,
    view=DiagnosticsView("jacobian"),
    look_at="The histograms of the Jacobian's singular values layer by layer: the orthogonal run's stay a "
    "narrow bump near 1 (log10 sigma near 0), the Gaussian run's spread over many decades as depth grows.",
    verdict="holds",
    reason="At layer 64 the orthogonal network's squared singular values have mean 1.0 and variance 0.77 "
    "(largest singular value 2.0), while the Gaussian one's variance has grown from 10 to 746 (largest 24) "
    "and 43 percent of its singular values are numerically zero.",
    measure=_tanh_isometry,
)


def _relu(result: DiagnosticsResult) -> Measurement:
    orthogonal, gaussian = result.runs
    _, o_var, _, o_zero = _spectrum(orthogonal)
    _, g_var, _, g_zero = _spectrum(gaussian)
    neither = min(o_zero, g_zero) > 0.4 and min(o_var, g_var) > 5
    return Measurement(
        verdict_of(neither),
        (
            ("last layer", len(orthogonal.correlation)),
            ("orthogonal share of numerically zero sigma, %", 100 * o_zero),
            ("He share of numerically zero sigma, %", 100 * g_zero),
            ("orthogonal var sigma^2", o_var),
            ("He var sigma^2", g_var),
        ),
    )


PENNINGTON_RELU = DiagnosticsClaim(
    text="[...] ReLU networks are incapable of dynamical isometry [with Gaussian and with orthogonal "
    "weights alike: their derivative is 0 on half of the units, so the Jacobian's spectrum spreads with "
    "depth either way].",
    source=PENNINGTON,
    view=DiagnosticsView("jacobian"),
    look_at="The histograms of the Jacobian's singular values of both runs: wide at every depth shown, "
    "with a growing count of singular values that are numerically zero.",
    verdict="holds",
    reason="At layer 64 the orthogonal ReLU network has 63 percent of its singular values numerically zero "
    "and He's 71, and the variance of the squared singular values is 236 and 238.5, where an isometry's "
    "is zero.",
    measure=_relu,
)
