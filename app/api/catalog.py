"""GET /api/v1/catalog and /api/v1/presets: everything forms and scripts are built from."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path

from .. import codec, paths_codec
from ..claims import AnyView, Claim, TrainView, View
from ..engine.layers.activations import ACTIVATIONS
from ..engine.layers.initializers import BIASES, INITIALIZERS
from ..engine.measure.stats import PERCENTILES, SATURATION_MARGIN
from ..engine.network.config import FIELDS
from ..engine.network.ensemble import MAX_SEEDS
from ..engine.network.inputs import INPUTS
from ..engine.optimizers import OPTIMIZERS
from ..engine.params import ParamSpec
from ..engine.paths.surfaces import SURFACES
from ..paths_presets import PATHS_PRESETS
from ..presets import PRESETS, Preset
from ..settings import Settings, env_name, get_settings
from ..train_presets import TRAIN_PRESETS
from .diagnostics import diagnostics_catalog
from .payload import ENSEMBLE_NOTE
from .sweep import sweep_catalog

router = APIRouter(prefix="/api/v1", tags=["catalog"])


def _params(specs: tuple[ParamSpec, ...]) -> list[dict[str, object]]:
    return [spec.describe() for spec in specs]


CLAIM_DOC = """Each preset has a `claim`: what its text says and what the product measures about it.
`text` is the text's words in English ([...] a cut, [brackets] context), `source` the text in plain
words, `view` the dashboard's view state that shows it (`{"view": "grid" | "overlay" | "ridgeline" |
"distribution", "kind": "post" | "pre" | "grad"}`: activations, z or the gradients dL/dz), `look_at`
one line on what to look for there (a training preset's `view` is `{"page": "train", "chart": "loss" |
"accuracy" | "dead" | "update" | "histograms"}`, the /train page's chart that shows it; a paths
preset's `{"page": "optimizers", "section": id}`), `verdict` one of "holds", "holds in part", "contradicted",
`reason` one sentence on why, quoting the measured numbers (tests derive the verdict and every number
from the preset's own result), and `units_layer` a layer whose units, one by one
(`/units?<share>&layer=N`), show the claim, or null. `shows` repeats `look_at` and `source` the
claim's source, for older clients."""


def view_dict(view: AnyView) -> dict[str, str]:
    """Where a claim shows: the dashboard's view state (as it always was), or the page and its part."""
    if isinstance(view, View):
        rows = {} if view.layers == "auto" else {"layers": view.layers}  # as it always was, else
        return {"view": view.view, "kind": view.kind, **rows}
    if isinstance(view, TrainView):
        return {"page": "train", "chart": view.chart}
    return {"page": "optimizers", "section": view.section}


def claim_dict(claim: Claim[Any, Any]) -> dict[str, Any]:
    return {
        "text": claim.text,
        "source": claim.source,
        "view": view_dict(claim.view),
        "look_at": claim.look_at,
        "verdict": claim.verdict,
        "reason": claim.reason,
        "units_layer": claim.units_layer,
    }


def preset_dict(preset: Preset) -> dict[str, Any]:
    return {
        "name": preset.name,
        "title": preset.title,
        "shows": preset.shows,
        "source": preset.source,
        "share": preset.query,
        "experiment": codec.as_json(codec.to_values(preset.experiment)),
        "claim": claim_dict(preset.claim),
    }


@cache
def _static_catalog() -> dict[str, Any]:
    activations = []
    for a in ACTIVATIONS.values():
        defaults = {s.name: s.default for s in a.params}
        low, high = a.bounds(defaults)
        activations.append(
            {
                "name": a.name,
                "formula": a.formula,
                "params": _params(a.params),
                "bounds": [low, high],
                "gain": a.gain(defaults),
                "gain_source": "torch.nn.init.calculate_gain"
                if a.torch_gain
                else "1 / sqrt(E[f(u)²]), u ~ N(0, 1)",
                "note": a.note,
            }
        )
    return {
        "activations": activations,
        "initializers": [
            {
                "name": i.name,
                "formula": i.formula,
                "params": _params(i.params),
                "data_dependent": i.data_dependent,
                "note": i.note,
            }
            for i in INITIALIZERS.values()
        ],
        "biases": [
            {"name": b.name, "formula": b.formula, "params": _params(b.params)} for b in BIASES.values()
        ],
        "inputs": [
            {"name": d.name, "formula": d.formula, "params": _params(d.params), "note": d.note}
            for d in INPUTS.values()
        ],
        "optimizers": [
            {"name": o.name, "label": o.label, "formula": o.formula, "params": _params(o.params)}
            for o in OPTIMIZERS.values()
        ],
        "surfaces": [
            {
                "name": s.name,
                "label": s.label,
                "formula": s.formula,
                "start": list(s.start),
                "note": s.note,
                "defaults": paths_codec.defaults_json(s),
            }
            for s in SURFACES.values()
        ],
        "fields": [
            {
                "name": f.name,
                "type": f.kind,
                "doc": f.doc,
                "min": f.low,
                "max": f.high,
                "choices": list(f.choices),
                "per_run": f.run_scoped,
                "default": f.default,
            }
            for f in FIELDS.values()
        ],
        "presets": [preset_dict(p) for p in PRESETS.values()],
        "train_presets": [
            {
                "name": p.name,
                "title": p.title,
                "shows": p.shows,
                "source": p.source,
                "share": p.query,
                "claim": claim_dict(p.claim),
            }
            for p in TRAIN_PRESETS.values()
        ],
        "paths_presets": [
            {
                "name": p.name,
                "title": p.title,
                "source": p.claim.source,
                "share": p.query,
                "page": p.page,
                "claim": claim_dict(p.claim),
            }
            for p in PATHS_PRESETS.values()
        ],
        "statistics": {
            "percentiles": list(PERCENTILES),
            "saturation_margin": SATURATION_MARGIN,
        },
        # seeds=N beside a share link (/api/v1/simulate and the dashboard): a seed ensemble
        "ensembles": {
            "key": "seeds",
            "default": 1,
            "low": 1,
            "high": MAX_SEEDS,
            "band": "min-max",
            "inputs": "fixed",
            "note": ENSEMBLE_NOTE,
        },
        "share_link": {
            "version": codec.FORMAT_VERSION,
            "example": PRESETS["saito-compare"].query,
            "syntax": "shared key=value pairs; run=activation,init[,key:value...] once per column; "
            "width=100-50-20 for a list; range=low,high",
        },
    }


@router.get("/catalog", summary="Every activation, initializer, input, field, preset and limit")
async def catalog(settings: Annotated[Settings, Depends(get_settings)]) -> dict[str, Any]:
    limits = settings.limits.describe()
    return {
        **_static_catalog(),
        "limits": [{"name": k, "value": v, "setting": env_name(k)} for k, v in limits.items()],
        "sweeps": sweep_catalog(settings),  # the sweep link's syntax, metrics, presets and limits
        "diagnostics": diagnostics_catalog(),  # /diagnostics' keys, methods and presets
    }


@router.get(
    "/presets", summary="The presets, each with its experiment, share query and claim", description=CLAIM_DOC
)
def presets() -> list[dict[str, Any]]:
    return list(_static_catalog()["presets"])


@router.get(
    "/train/presets",
    summary="The training presets, each with its training link and claim",
    description=CLAIM_DOC,
)
async def train_presets() -> list[dict[str, Any]]:
    return list(_static_catalog()["train_presets"])


@router.get(
    "/paths/presets",
    summary="The weight-path presets, each with its page and claim",
    description=CLAIM_DOC,
)
async def paths_presets() -> list[dict[str, Any]]:
    return list(_static_catalog()["paths_presets"])


@router.get(
    "/presets/{name}",
    summary="One preset's experiment (a POST /api/v1/simulate body), share query and claim",
    description=CLAIM_DOC,
    responses={404: {"description": "No preset of that name; the message lists them."}},
)
def preset(name: Annotated[str, Path(examples=["saito-compare"])]) -> dict[str, Any]:
    if name not in PRESETS:
        raise HTTPException(404, f"no preset {name!r}; presets are {', '.join(PRESETS)}")
    return preset_dict(PRESETS[name])
