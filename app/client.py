"""A small client of the initscope REST API; it needs only httpx.

    with Client("http://127.0.0.1:8000") as client:
        result = client.simulate(preset="saito-compare")

An experiment is given one of three ways: a JSON body (`experiment`, as POST /api/v1/simulate
takes it), a share query (`query`, the dashboard's link or just its query string) or a preset's
name (`preset`). Every error answer raises `InitscopeError`, and so does a server that cannot be
reached (`InitscopeConnectionError`).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, NotRequired, Self, TypedDict, cast
from urllib.parse import quote

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


class Tensor(TypedDict):
    """Histogram and statistics of one layer's z (`pre`) or activations (`post`); main keys."""

    edges: list[float]
    counts: list[int]
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    percentiles: dict[str, float] | None
    zero_fraction: float | None
    saturated_fraction: float | None


class Layer(TypedDict):
    layer: int
    units: int
    activation: str
    pre: Tensor
    post: Tensor
    dead_units: int
    distinct_units: int
    theory: dict[str, Any]


class Run(TypedDict):
    label: str
    config: dict[str, Any]
    chi: float | None
    phase: str
    layers: list[Layer]


class RowPair(TypedDict):
    key: str  # what the row follows: "3|act", "3|norm before", "3|residual", "stem|dense stem"
    cells: list[int | None]  # run i's index into its layers, or None where it has no such row


class SimulateResult(TypedDict):
    share: str
    experiment: dict[str, Any]
    runs: list[Run]
    rows: NotRequired[list[RowPair]]  # layer networks: the runs' rows side by side
    ensemble: NotRequired[dict[str, Any]]  # seeds=N: the draws and the band's kind


class ClaimView(TypedDict):
    """Where an experiment preset's claim shows: the dashboard's view state (its `view=` and
    `kind=` hash keys)."""

    view: str  # grid, overlay, ridgeline or distribution
    kind: str  # post (activations), pre (z) or grad (dL/dz)
    layers: NotRequired[str]  # the Layers menu's rows, when the claim is about one kind of row


class TrainClaimView(TypedDict):
    """Where a training preset's claim shows: a chart of the /train page."""

    page: Literal["train"]
    chart: str  # loss, accuracy, dead, update or histograms


class PathsClaimView(TypedDict):
    """Where a weight-path preset's claim shows: a section of the /optimizers page (its id)."""

    page: Literal["optimizers"]
    section: str


class _ClaimText(TypedDict):
    text: str  # the text's words, in English
    source: str
    look_at: str
    verdict: str  # holds, holds in part or contradicted
    reason: str  # the measurement behind the verdict
    units_layer: int | None  # a layer to see unit by unit (/units), or None


class Claim(_ClaimText):
    """An experiment preset's claim."""

    view: ClaimView  # where the dashboard shows it


class TrainClaim(_ClaimText):
    """A training preset's claim (GET /api/v1/train/presets, the catalog's `train_presets`)."""

    view: TrainClaimView


class PathsClaim(_ClaimText):
    """A weight-path preset's claim (GET /api/v1/paths/presets, the catalog's `paths_presets`)."""

    view: PathsClaimView


AnyClaim = Claim | TrainClaim | PathsClaim


class Preset(TypedDict):
    """An experiment preset (GET /api/v1/presets, the catalog's `presets`)."""

    name: str
    title: str
    shows: str
    source: str
    share: str
    experiment: dict[str, Any]
    claim: Claim


class TrainPreset(TypedDict):
    """A training preset: `share` is its training link (/train?<share>)."""

    name: str
    title: str
    shows: str
    source: str
    share: str
    claim: TrainClaim


class PathsPreset(TypedDict):
    """A weight-path preset: `share` is its link on `page` (/optimizers?<share>, say)."""

    name: str
    title: str
    source: str
    share: str
    page: str
    claim: PathsClaim


class SweepMetric(TypedDict):
    name: str
    per_layer: bool
    doc: str


class SweepPreset(TypedDict):
    name: str
    title: str
    sweep: str  # its sweep link
    metric: str  # what its page shows first
    shows: str


class SweepCatalog(TypedDict):
    """The catalog's `sweeps`: the sweep link's syntax, the metrics a point reports, presets, limits."""

    syntax: str
    example: str
    metrics: list[SweepMetric]
    training: str  # how a training sweep is written
    training_example: str
    training_metrics: list[SweepMetric]  # what a training sweep's point reports
    preset: str  # how a sweep preset is named in a sweep link (preset=<name>)
    presets: list[SweepPreset]
    limits: list[dict[str, Any]]
    scheduler: Literal["local", "external"]


class Catalog(TypedDict):
    """GET /api/v1/catalog: the components and fields forms are built from, every preset, the limits."""

    activations: list[dict[str, Any]]
    initializers: list[dict[str, Any]]
    biases: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    optimizers: list[dict[str, Any]]
    surfaces: list[dict[str, Any]]
    fields: list[dict[str, Any]]
    presets: list[Preset]
    train_presets: list[TrainPreset]
    paths_presets: list[PathsPreset]
    statistics: dict[str, Any]
    share_link: dict[str, Any]
    limits: list[dict[str, Any]]
    sweeps: SweepCatalog
    diagnostics: dict[str, Any]  # /api/v1/diagnostics: its keys, methods and presets
    ensembles: dict[str, Any]  # seeds=N on /api/v1/simulate: its key, limit and band


class PhaseDiagram(TypedDict):
    """GET /api/v1/phase-diagram: grids with rows by sigma_b and columns by sigma_w."""

    activation: str
    params: dict[str, float | int]
    q0: float
    sigma_w: list[float]
    sigma_b: list[float]
    log10_chi: list[list[float | None]]
    critical_sigma_w: list[float | None]
    bistable: list[list[bool]]
    color: NotRequired[Literal["xi_c"]]  # the keys below come with color="xi_c"
    c_star: NotRequired[list[list[float | None]]]
    log10_xi_c: NotRequired[list[list[float | None]]]


class InitscopeError(Exception):
    """An error answer of the API: `status_code`, the API's `message` (naming the field), the raw
    `detail`, and `retry_after` (seconds) when the server asked to be retried later."""

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        detail: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.detail = detail
        self.retry_after = retry_after
        text = message if status_code is None else f"HTTP {status_code}: {message}"
        if retry_after is not None:
            text += f" (retry after {retry_after:g} s)"
        super().__init__(text)


class InitscopeConnectionError(InitscopeError):
    """The server could not be reached (refused, timed out, unknown host): no status code."""


def _seeds(seeds: int | None) -> str:
    """The share query's `seeds` key, when an ensemble is asked for."""
    return "" if seeds is None else f"&seeds={int(seeds)}"


def _query(text: str) -> str:
    """A share query from a query or a whole link: the part after '?', without the '#' view."""
    text = text.partition("#")[0]
    return text.partition("?")[2] if "?" in text else text


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:  # the other form the header may take: an HTTP date
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _message(detail: Any) -> str:
    """One line from FastAPI's detail: a string, or a list of {"loc", "msg"} naming the field."""
    if not isinstance(detail, list) or not all(isinstance(item, dict) for item in detail):
        return str(detail)
    lines = []
    for item in detail:
        loc = item.get("loc", [])[1:]  # [0] is where: body, query or path
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        msg = str(item.get("msg", item))
        named = not field or field.startswith("[") or msg.startswith(f"{field}:")
        lines.append(msg if named else f"{field}: {msg}")
    return "; ".join(lines)


class Client:
    """A session with one initscope server; use it as a context manager or call `close()`."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = 60.0,  # an experiment at the default limits takes seconds, not minutes
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport, follow_redirects=True
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float | None = None
    ) -> httpx.Response:
        try:
            if timeout is None:
                response = self._http.request(method, path, json=body)
            else:
                response = self._http.request(method, path, json=body, timeout=timeout)
        except httpx.TransportError as err:
            raise InitscopeConnectionError(f"cannot reach {self.base_url}: {err}") from err
        if response.is_error:
            try:
                detail = response.json()["detail"]
            except (ValueError, KeyError, TypeError):  # not the API's JSON: a proxy's page, say
                detail = response.text.strip()[:200] or response.reason_phrase
            retry = _retry_after(response.headers.get("retry-after"))
            raise InitscopeError(_message(detail), response.status_code, detail, retry)
        return response

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._request(method, path, body)
        try:
            return response.json()
        except ValueError:
            raise InitscopeError(
                f"{response.url} answered {response.headers.get('content-type')}, not JSON: "
                "is this an initscope server?",
                response.status_code,
            ) from None

    def _share(self, experiment: dict[str, Any] | None, preset: str | None, query: str | None) -> str:
        if sum(x is not None for x in (experiment, preset, query)) != 1:
            raise ValueError("give exactly one of experiment, preset or query")
        if preset is not None:
            return self.preset(preset)["share"]
        if experiment is not None:
            # The server is the one writer of share links; it caches the result it runs here,
            # so the download that follows costs no second run.
            return cast(str, self._json("POST", "/api/v1/simulate", experiment)["share"])
        return _query(cast(str, query))

    def simulate(
        self,
        experiment: dict[str, Any] | None = None,
        *,
        preset: str | None = None,
        query: str | None = None,
        seeds: int | None = None,
    ) -> SimulateResult:
        """Run an experiment: a JSON body is POSTed as is, a preset or a share query is a GET.
        `seeds=N` repeats each run over N weight draws: every value is then the mean over the
        draws, each tensor and layer carries `band` (the lowest and highest draw's) and the
        answer `ensemble` (how the draws were made)."""
        if experiment is not None and preset is None and query is None:
            body = experiment if seeds is None else {**experiment, "seeds": seeds}
            return cast(SimulateResult, self._json("POST", "/api/v1/simulate", body))
        share = self._share(experiment, preset, query)
        return cast(SimulateResult, self._json("GET", f"/api/v1/simulate?{share}{_seeds(seeds)}"))

    def export_csv(
        self,
        experiment: dict[str, Any] | None = None,
        *,
        preset: str | None = None,
        query: str | None = None,
        seeds: int | None = None,
    ) -> str:
        """The histograms as CSV: one row per run x layer x kind x bin. With `seeds=N`, `count` is
        the bin's mean count over the N draws, then `count_low` and `count_high`."""
        share = self._share(experiment, preset, query)
        return self._request("GET", f"/api/v1/export/csv?{share}{_seeds(seeds)}").text

    def report(
        self,
        experiment: dict[str, Any] | None = None,
        *,
        preset: str | None = None,
        query: str | None = None,
        seeds: int | None = None,
    ) -> str:
        """A standalone HTML report (plotly.js inside: it opens offline); with `seeds=N`, the bands
        over N weight draws."""
        share = self._share(experiment, preset, query)
        return self._request("GET", f"/api/v1/export/report?{share}{_seeds(seeds)}").text

    def catalog(self) -> Catalog:
        """Every activation, initializer, bias, input, field, preset and limit."""
        return cast(Catalog, self._json("GET", "/api/v1/catalog"))

    def presets(self) -> list[Preset]:
        return cast(list[Preset], self._json("GET", "/api/v1/presets"))

    def train_presets(self) -> list[TrainPreset]:
        """The training presets: each one's training link and claim."""
        return cast(list[TrainPreset], self._json("GET", "/api/v1/train/presets"))

    def paths_presets(self) -> list[PathsPreset]:
        """The weight-path presets: each one's page, link and claim."""
        return cast(list[PathsPreset], self._json("GET", "/api/v1/paths/presets"))

    def preset(self, name: str) -> Preset:
        """One preset: its share query and its experiment as a JSON body."""
        return cast(Preset, self._json("GET", f"/api/v1/presets/{quote(name, safe='')}"))

    def phase_diagram(
        self,
        activation: str,
        *,
        color: Literal["chi", "xi_c"] = "chi",
        **query: float | int | str,
    ) -> PhaseDiagram:
        """log10 chi over a (sigma_w, sigma_b) grid with the critical line; color="xi_c" adds c* and
        log10 xi_c per point. Other keys as the endpoint's: sigma_w_max, sigma_b_max, steps, q0,
        alpha, pieces."""
        pairs = {"activation": activation, **query, **({"color": color} if color != "chi" else {})}
        text = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in pairs.items())
        return cast(PhaseDiagram, self._json("GET", f"/api/v1/phase-diagram?{text}"))

    def sweep(
        self,
        sweep: str | None = None,
        *,
        link: str | None = None,
        axes: Mapping[str, str | Sequence[float | int | str]] | None = None,
        timeout: float = 3600.0,
    ) -> list[dict[str, Any]]:
        """Run a sweep on the server's Dask cluster and return one row per point and run: index,
        link, each axis's value, run (1-based), error, and every metric (per-layer ones as lists).

        Give the sweep link, or a base `link` and `axes` ({"std": "0.01:1:log:20"} for a range,
        {"activation": ["relu", "tanh"]} for a list; "std.run2" varies run 2 alone). A training
        sweep's link starts with of=train; a /train page's whole link as `link` is one."""
        if (sweep is None) == (link is None):
            raise ValueError("give a sweep link, or a base link and axes")
        query = _query(sweep) if sweep is not None else _sweep_query(cast(str, link), axes or {})
        document = self._request("POST", "/api/v1/sweep", {"sweep": query}, timeout).json()
        rows = []
        for point in document["points"]:
            head = {"index": point["index"], "link": point["link"], **point["values"]}
            for run, metrics in enumerate(point["runs"] or [None], start=1):
                rows.append({**head, "run": run, "error": point["error"], **(metrics or {})})
        return rows


def _sweep_query(link: str, axes: Mapping[str, str | Sequence[float | int | str]]) -> str:
    pairs = [_query(link)] if _query(link) else []
    if link.partition("?")[0].rstrip("/").endswith("/train") and "of=" not in _query(link):
        pairs.insert(0, "of=train")  # a /train page's link: a training sweep
    for name, values in axes.items():
        text = values if isinstance(values, str) else ",".join(str(v) for v in values)
        pairs.append(f"axis.{name}={quote(text, safe=',:')}")
    return "&".join(pairs)
