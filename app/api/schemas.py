"""Pydantic models of the REST API, built from the engine's field table.

The request models are generated from `FIELDS` so that types, bounds and descriptions in the
OpenAPI schema are the engine's own; a field added to the engine appears here by itself. The
models check JSON types only: bounds, choices and lengths are in the schema for clients to read,
and the engine checks them, as it checks a share link's, so a bad value gets the same message
(naming the same limit) whether it comes in a body or in a link. The response models document the
JSON the API returns (responses are serialized directly, without re-validating them, for speed).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, create_model

from ..engine.network.config import AXES, FIELDS, LABEL_MAX, LOSSES, FieldDoc
from ..engine.network.ensemble import MAX_SEEDS

MAX_WIDTH_LIST = 10_000
MAX_RUNS_IN_BODY = 64  # structural cap; the server's limit (max_runs) is checked afterwards

SAITO_COMPARE: dict[str, Any] = {
    "depth": 5,
    "width": 100,
    "input_dim": 100,
    "samples": 1000,
    "range": [0, 1],
    "runs": [
        {"activation": "sigmoid", "init": "normal", "std": 1.0},
        {"activation": "sigmoid", "init": "xavier"},
        {"activation": "relu", "init": "he_normal"},
    ],
}


def _documented(**limits: JsonValue) -> Any:
    """Schema keywords that document a limit the engine checks (None: no such limit)."""
    return Field(json_schema_extra={k: v for k, v in limits.items() if v is not None})


def _annotation(doc: FieldDoc) -> Any:
    if doc.kind == "choice":
        return Annotated[str, _documented(enum=list(doc.choices))]
    if doc.kind == "text":
        return Annotated[str, _documented(maxLength=LABEL_MAX)]
    if doc.kind == "float":
        return Annotated[float, Field(strict=True), _documented(minimum=doc.low, maximum=doc.high)]
    item = Annotated[int, Field(strict=True), _documented(minimum=doc.low, maximum=doc.high)]
    if doc.kind == "int":
        return item
    return item | Annotated[list[item], Field(min_length=1, max_length=MAX_WIDTH_LIST)]


def _run_fields() -> dict[str, Any]:
    return {
        name: (_annotation(doc) | None, Field(default=None, description=doc.doc))
        for name, doc in FIELDS.items()
    }


_STRICT = ConfigDict(extra="forbid")

RunSpec: type[BaseModel] = create_model(
    "RunSpec",
    __config__=_STRICT,
    __doc__="One column: every field is optional and falls back to the experiment's shared value, "
    "then to its default. A run needs an activation and an init, its own or shared.",
    **_run_fields(),
)

Loss = Annotated[str, _documented(enum=list(LOSSES))]
Axes = Annotated[str, _documented(enum=list(AXES))]
Range = Annotated[list[float], Field(min_length=2, max_length=2)]

ExperimentSpec: type[BaseModel] = create_model(
    "ExperimentSpec",
    __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [SAITO_COMPARE]}),
    __doc__="Shared settings (any run field) plus the runs side by side.",
    runs=(
        list[RunSpec],
        Field(min_length=1, max_length=MAX_RUNS_IN_BODY, description="the columns, left to right"),
    ),
    range=(
        Range | None,
        Field(default=None, description="histogram range [low, high] of the activations"),
    ),
    z_range=(Range | None, Field(default=None, description="histogram range [low, high] of z")),
    axes=(
        Axes | None,
        Field(
            default=None,
            description="histogram x ranges: shared (default; per layer, across the runs, so columns "
            "compare) or run (each run's own, as if it were alone); range and z_range still apply",
        ),
    ),
    grad=(
        bool | None,
        Field(
            default=None,
            strict=True,
            description="run the backward pass (layers carry grad); default true, false for speed",
        ),
    ),
    theory=(
        bool | None,
        Field(
            default=None,
            strict=True,
            description="the mean-field prediction (runs and layers carry theory); default true",
        ),
    ),
    loss=(
        Loss | None,
        Field(
            default=None,
            description="backward signal: normal (N(0, 1) dL/da at the output) or mse (a - y, y ~ N(0, 1))",
        ),
    ),
    seeds=(
        int | None,
        Field(
            default=None,
            strict=True,
            ge=1,
            le=MAX_SEEDS,
            description="weight draws (seed ensemble): values become the mean over the draws with a band; "
            "default 1",
        ),
    ),
    **_run_fields(),
)


# ---- responses (documentation) -----------------------------------------------------------------


class TensorSummary(BaseModel):
    edges: list[float] = Field(description="bins + 1 bin edges")
    counts: list[int] | list[float] = Field(
        description="values per bin (with seeds > 1: the mean over the draws)"
    )
    count: int | float = Field(description="finite values summarized")
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    percentiles: dict[str, float] | None = Field(
        description="value at each percentile: 0, 6.68, 15.87, 30.85, 50, 69.15, 84.13, 93.32, 100"
    )
    zero_fraction: float = Field(description="fraction of the finite values exactly 0")
    saturated_fraction: float | None = Field(
        description="fraction within 3% of the output range from either bound (bounded activations only)"
    )
    nan_count: int | float
    inf_count: int | float
    below: int | float = Field(description="finite values under an explicit range")
    above: int | float = Field(description="finite values over an explicit range")
    band: dict[str, Any] | None = Field(
        None, description="seeds > 1 only: low and high, the lowest and highest draw's counts and values"
    )


class LayerPrediction(BaseModel):
    """Mean-field theory for this layer (null where the prediction explodes)."""

    q: float | None = Field(description="predicted variance of z")
    z_std: float | None
    mean: float | None = Field(description="predicted mean of the activations")
    std: float | None = Field(description="predicted std of the activations")
    chi: float | None = Field(description="gradient growth factor through this layer")
    gradient_scale: float | None = Field(description="predicted std of dL/dz for a N(0, 1) output gradient")


class RunPrediction(BaseModel):
    q_star: float | None = Field(description="fixed point of the variance map (null: it diverges)")
    chi: float | None = Field(description="chi at the fixed point")
    phase: str | None = Field(
        description="ordered (gradients vanish), critical, or chaotic (they explode); null for a layer "
        "network (norms, residual blocks), whose rows have no one variance map"
    )
    sigma_w2: list[float | None] = Field(description="per layer: fan_in x Var(W) (empty for a layer network)")
    sigma_b2: float
    note: str


class LayerSummary(BaseModel):
    layer: int = Field(description="1-based hidden layer (a layer network's: 1-based row)")
    layer_type: str | None = Field(
        None,
        description="a layer network's row only: dense, activation, batch_norm, layer_norm, rms_norm or "
        "residual (its pre is the block's input, its post x + s F(x)); grad is dL/d(pre)",
    )
    name: str | None = Field(
        None, description="a layer network's row only: where it sits, 'block 3 · relu 1'"
    )
    units: int
    activation: str
    pre: TensorSummary = Field(description="z = a·W + b (for maxout, every piece)")
    post: TensorSummary = Field(description="the activation f(z)")
    dead_units: int | float = Field(description="units whose activation is 0 for every sample")
    dead_fraction: float
    distinct_units: int | float | None = Field(
        description="how many different functions the units compute (1 = symmetric); null if NaN/inf"
    )
    theory: LayerPrediction | None = Field(description="the mean-field prediction; null with theory=0")
    grad: TensorSummary | None = Field(description="dL/dz; null with grad=0")
    weight_grad: dict[str, float | None] | None = Field(
        description="norm and std of dL/dW, and grad_data_ratio = std(dL/dW) / std(W)"
    )
    band: dict[str, Any] | None = Field(
        None,
        description="seeds > 1 only: low and high, the lowest and highest draw's dead and distinct units",
    )


class RunSummary(BaseModel):
    label: str
    config: dict[str, Any] = Field(description="the run's canonical fields, defaults included")
    chi: float | None = Field(description="mean-field chi at the fixed point: < 1 vanishing, > 1 exploding")
    phase: str | None = Field(description="ordered, critical or chaotic; null with theory=0")
    theory: RunPrediction | None
    layers: list[LayerSummary]


class RowPair(BaseModel):
    key: str = Field(
        description="what the row follows: '3|act', '3|norm before', '3|residual', 'stem|dense stem'"
    )
    cells: list[int | None] = Field(description="cells[i]: run i's index into runs[i].layers, or null")


class SimulateResponse(BaseModel):
    share: str = Field(description="canonical share query of exactly this experiment")
    experiment: dict[str, Any] = Field(description="the canonical experiment, as a POST body")
    runs: list[RunSummary]
    rows: list[RowPair] | None = Field(
        None,
        description="layer networks only: the runs' rows side by side (paired rows share their "
        "histograms' range); a plain stacks' answer has none, its row j being every run's layer j",
    )
    ensemble: dict[str, Any] | None = Field(
        None, description="seeds > 1 only: the draws, the band's kind (min-max) and how members are drawn"
    )
