"""The standalone HTML report: one file with plotly.js, the figure code and the data inside, so it
opens offline by double click. The figures are drawn by the same static/js/figures.js the pages use.

What the dashboard fetches (the phase diagrams, the correlation map) is computed here and embedded,
the same numbers GET /api/v1/phase-diagram and /api/v1/diagnostics give for the same query. The
diagnostics (correlation map, Jacobian) are measured within a budget of their own, checked before
any work (REPORT_DIAGNOSTICS_MACS): a network over it gets the map without the Jacobian, or a
sentence saying where to measure them.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from . import codec
from .api.diagnostics_payload import diagnostics_dict
from .api.simulate import split_seeds
from .api.theory import diagram_body
from .assets import STATIC_DIR, TEMPLATES_DIR
from .engine.layers.activations import ACTIVATIONS
from .engine.network.cost import BudgetError, Limits
from .engine.network.diagnostics import (
    DEFAULT_JACOBIAN,
    check_diagnostics_limits,
    make_options,
    run_diagnostics,
)
from .engine.params import ConfigError, ParamValue, resolve_params
from .js_bundle import bundle
from .vendor import asset_path

_env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape())

# The variances the phase-diagram endpoint accepts as q0; outside, the diagram starts at its default.
Q0_LOW, Q0_HIGH = 1e-12, 1e12
# A claim's kind of values, as the dashboard's hash or in words: which section of the report shows it.
_POST, _PRE, _GRAD = (
    ("the activations", "grid-post"),
    ("z (pre-activations)", "grid-pre"),
    ("the gradients", "grid-grad"),
)
VIEWS = {
    "post": _POST,
    "activation": _POST,
    "activations": _POST,
    "pre": _PRE,
    "z": _PRE,
    "grad": _GRAD,
    "gradient": _GRAD,
    "gradients": _GRAD,
}


# The report's diagnostics run where the report is made (the server's thread, or the command
# line's server), outside the experiments' admission budget: a fixed budget of their own keeps
# each report's extra work to well under a second of one core (bench: ~2-5 GMAC/s).
REPORT_DIAGNOSTICS_MACS = 1_000_000_000


@cache
def _scripts() -> tuple[str, str]:
    plotly = asset_path("plotly.min.js").read_text(encoding="utf-8")
    return plotly, bundle(STATIC_DIR / "js" / "figures.js")


@cache
def _diagnostics_script() -> str:
    return bundle(STATIC_DIR / "js" / "diagnostics-figure.js")


def report_diagnostics(document: dict[str, Any]) -> tuple[dict[str, Any] | None, str, bool]:
    """The /api/v1/diagnostics document of the result's link (its weight draws too, with seeds=N),
    with the Jacobian at DEFAULT_JACOBIAN inputs when that fits REPORT_DIAGNOSTICS_MACS, else
    without; or None, the sentence why, and whether a server could measure them (over the
    report's budget only)."""
    query, seeds = split_seeds(document["share"])
    config = codec.to_experiment(codec.decode(query))
    limits = Limits(max_macs=REPORT_DIAGNOSTICS_MACS)
    for jacobian in (DEFAULT_JACOBIAN, 0):
        options = make_options(jacobian=jacobian, seeds=seeds)
        try:
            check_diagnostics_limits(config, options, limits)
        except BudgetError:
            continue
        except ConfigError as err:
            return None, f"The diagnostics cannot measure this experiment: {err.field}: {err.message}.", False
        # as the endpoint serializes it (NumPy numbers as JSON numbers): the page reads plain JSON
        answer = diagnostics_dict(run_diagnostics(config, options))
        return orjson.loads(orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)), "", True
    budget = f"{REPORT_DIAGNOSTICS_MACS:,}"
    return (
        None,
        f"The diagnostics of this experiment need more than the report's {budget} multiply-adds.",
        True,
    )


def _script_safe(text: str) -> Markup:
    # Inside <script>, only "</script" (and "<!--") could end the element early.
    return Markup(text.replace("</script", "<\\/script").replace("<!--", "<\\!--"))


def _json(value: Any) -> Markup:
    # Inside <script type="application/json">: no "<" at all, so no tag can end or open there.
    return Markup(orjson.dumps(value).decode().replace("<", "\\u003c"))


def _hidden_sigma_w(run: dict[str, Any]) -> float:
    """The run's sigma_w where phaseFigure marks it: the hidden layers' (the first layer's when
    there is only one); 0 when it is not finite, as the dashboard reads it."""
    sigma_w2 = run["theory"]["sigma_w2"]
    value = sigma_w2[1] if len(sigma_w2) > 1 else sigma_w2[0]
    return math.sqrt(value) if value is not None and value > 0 else 0.0


def _axis_max(values: list[float], floor: float) -> float:
    # The dashboard's choice: 20% beyond the farthest run, at least the default, at most the API's 50.
    return float(min(50, max(floor, math.ceil(1.2 * max(values)))))


def phase_diagrams(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One phase diagram per activation (with its parameters) in the experiment, drawn as the
    dashboard draws it: wide enough for every run's point, and where the map has two stable
    variances, started from the variance of that activation's first run's first layer (q_1).

    Each item: the diagram, the 0-based indices of the runs `marked` on it, and of the runs of that
    activation `unmarked` because mean field does not describe them (their theory has a note)."""
    groups: dict[tuple[str, tuple[tuple[str, ParamValue], ...]], list[int]] = {}
    params_of: dict[tuple[str, tuple[tuple[str, ParamValue], ...]], dict[str, ParamValue]] = {}
    for i, run in enumerate(document["runs"]):
        if not run.get("theory"):
            continue  # theory=0 in the link: there is nothing to place on a diagram
        if any("layer_type" in layer for layer in run["layers"]):
            continue  # a layer network (norms, residual blocks): the diagram is the plain stack's map
        config = run["config"]
        name = config["activation"]
        if name not in ACTIVATIONS:
            continue
        params = resolve_params(
            ACTIVATIONS[name].params, {s.name: config.get(s.name) for s in ACTIVATIONS[name].params}
        )
        key = (name, tuple(sorted(params.items())))
        groups.setdefault(key, []).append(i)
        params_of[key] = params
    out = []
    for key, indices in groups.items():
        name, params = key[0], params_of[key]
        runs = [document["runs"][i] for i in indices]
        sigma_w_max = _axis_max([_hidden_sigma_w(r) for r in runs], 4.0)
        sigma_b_max = _axis_max([math.sqrt(max(0.0, r["theory"]["sigma_b2"] or 0.0)) for r in runs], 1.0)
        body = diagram_body(name, params, sigma_w_max, sigma_b_max)
        q1 = (runs[0]["layers"][0].get("theory") or {}).get("q")
        started_at_q1 = False
        if any(any(row) for row in body["bistable"]) and q1 is not None and Q0_LOW <= q1 <= Q0_HIGH:
            body = diagram_body(name, params, sigma_w_max, sigma_b_max, q0=q1)
            started_at_q1 = True
        out.append(
            {
                "activation": name,
                "params": params,
                "diagram": body,
                "bistable": any(any(row) for row in body["bistable"]),
                "start_run": indices[0] if started_at_q1 else None,
                "marked": [i for i in indices if not document["runs"][i]["theory"].get("note")],
                "unmarked": [i for i in indices if document["runs"][i]["theory"].get("note")],
            }
        )
    return out


def theory_notes(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each run whose theory carries a note (mean field's assumptions fail): [{run, label, note}],
    run 1-based, as figures.js's theoryNotes gives them."""
    return [
        {"run": i + 1, "index": i, "label": run["label"], "note": run["theory"]["note"]}
        for i, run in enumerate(document["runs"])
        if run.get("theory") and run["theory"].get("note")
    ]


def _num(x: float | None) -> str:
    """Three significant digits, as the figures print numbers."""
    if x is None:
        return "–"
    if x == 0:
        return "0"
    return f"{x:.1e}" if abs(x) >= 1e4 or abs(x) < 1e-3 else f"{x:.3g}"


def run_list(indices: list[int]) -> str:
    """0-based run indices in words: "run 1", "runs 1 and 2", "runs 1, 2 and 3"."""
    names = [str(i + 1) for i in indices]
    if len(names) < 2:
        return f"run {''.join(names)}"
    return f"runs {', '.join(names[:-1])} and {names[-1]}"


def mean_field(run: dict[str, Any]) -> str:
    """A run's mean-field summary for the runs table: the phase and chi at the fixed point."""
    theory = run.get("theory")
    if not theory:
        return "not computed"
    if theory.get("note"):
        return "does not apply (see the note)"
    return f"{theory['phase']}, χ = {_num(theory['chi'])}"


def render(
    document: dict[str, Any], preset: dict[str, Any] | None = None, *, diagnostics: bool = True
) -> str:
    """The report of an API result; `preset` is the catalog's preset whose share query the result
    has (its title, its text's claim and the verdict on it), or None. `diagnostics=False` leaves
    out the diagnostics section (and its work)."""
    context: dict[str, Any] = {"with_diagnostics": diagnostics}
    if diagnostics:  # the section report_diagnostics.html, last in the page's <main>
        answer, reason, measurable = report_diagnostics(document)
        context.update(diagnostics=answer, reason=reason, measurable=measurable, share=document["share"])
        if answer is not None:
            context.update(diagnostics_json=_json(answer), diagnostics_js=_script_safe(_diagnostics_script()))
    return _render_page(document, preset, context)


def _render_page(document: dict[str, Any], preset: dict[str, Any] | None, diagnostics: dict[str, Any]) -> str:
    plotly, figures = _scripts()
    claim = preset.get("claim") if preset else None
    if claim is not None and not isinstance(claim, dict):
        claim = None  # a claim is an object {text, source, view, look_at, verdict, reason}
    phases = phase_diagrams(document)
    # The backward pass is the experiment's (grad=0 turns it off for every run).
    has_grad = bool(document["runs"]) and all(
        layer.get("grad") for run in document["runs"] for layer in run["layers"]
    )
    # The claim's view is the dashboard's view state, {"view": "grid", "kind": "grad"}: the report
    # draws a grid of each kind, so its kind says which section to look at.
    shown = claim.get("view") if claim else None
    kind = shown.get("kind") if isinstance(shown, dict) else shown
    view = VIEWS.get(str(kind).lower()) if kind else None
    if view == _GRAD and not has_grad:
        view = None
    return _env.get_template("report.html").render(
        document=document,
        preset=preset,
        claim=claim,
        claim_view=view,
        notes=theory_notes(document),
        phases=phases,
        has_grad=has_grad,
        mean_field=mean_field,
        run_list=run_list,
        num=_num,
        plotly_js=_script_safe(plotly),
        figures_js=_script_safe(figures),
        data_json=_json(document),
        phase_json=_json(phases),
        **diagnostics,
    )
