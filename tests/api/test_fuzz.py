"""Schemathesis over the whole OpenAPI schema, and extreme floats in every numeric field: no input
gives a 500 or breaks the schema, and a refusal names its field."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.engine.network.config import FIELDS
from app.engine.optimizers import OPTIMIZERS
from app.engine.paths.surfaces import SURFACES
from app.main import create_app

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
CASES: Counter[str] = Counter()  # cases run per operation
EXTREME_CASES: Counter[str] = Counter()  # examples run per extreme-float test


@pytest.fixture(scope="module", autouse=True)
def _report_cases() -> Iterator[None]:
    yield
    # shown with `pytest tests/api/test_fuzz.py -s`: the figures quoted in notes
    print(f"\nschemathesis: {CASES.total()} cases over {len(CASES)} operations")
    print(f"extreme floats: {EXTREME_CASES.total()} examples over {len(EXTREME_CASES)} tests")


@schema.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzz_api_never_fails(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    # A schema-valid experiment may still be refused with a 422 by design: over the compute budget,
    # or contradicting itself (input_low > input_high), which a JSON schema cannot express.
    CASES[case.operation.label] += 1
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


# ---- extreme floats in every numeric field ------------------------------------------------------
#
# Schemathesis keeps to the schema's numbers; these go where it does not: subnormals, +-1e308,
# NaN, +-inf and -0.0 in every numeric field of experiments (shared or in a run), histogram ranges,
# trainings and optimizer paths, over links and JSON bodies (Python's JSON writes NaN and Infinity,
# which some clients send). Every answer is a result or a 4xx naming the field, never a 500.

BIGGEST = 1.7976931348623157e308
SMALLEST_NORMAL = 2.2250738585072014e-308
EXTREMES = [
    0.0, -0.0, 5e-324, -5e-324, 1e-310, -1e-310, SMALLEST_NORMAL, 1.4e-45, 1e-45, 1e-39,
    1e308, -1e308, BIGGEST, -BIGGEST, 3.4e38, math.nan, math.inf, -math.inf,
]  # fmt: skip


def extreme_floats() -> st.SearchStrategy[float]:
    """Floats at and beyond the ends of float32 and float64, and the ones that are not numbers."""
    return st.one_of(
        st.sampled_from(EXTREMES),
        st.floats(-SMALLEST_NORMAL, SMALLEST_NORMAL),  # subnormals and zeros
        st.floats(1e300, BIGGEST).flatmap(lambda x: st.sampled_from([x, -x])),
        st.floats(),  # anything, NaN and the infinities included
    )


def some_extreme_floats() -> st.SearchStrategy[float]:
    """Half extreme, half ordinary: values that pass validation reach the engine too."""
    return st.floats(-3.0, 3.0) | extreme_floats()


# How a link may spell a number: '1e+308', '1.0000000000000001e+308', 'INF', 'nan', '-0.0'.
SPELLINGS = st.sampled_from([repr, "{:.17g}".format, "{:E}".format])


def _link_number(value: float, spell: Any) -> str:
    return quote(spell(value), safe="")


NUMERIC = [name for name, doc in FIELDS.items() if doc.kind in ("int", "float", "widths")]
CHOICES = {name: list(doc.choices) for name, doc in FIELDS.items() if doc.kind == "choice"}
TINY = {"depth": 2, "width": 6, "input_dim": 5, "samples": 12}  # what is not set stays this small
TINY_LINK = "&".join(f"{k}={v}" for k, v in TINY.items())


@st.composite
def experiments(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An experiment as a link and as a JSON body, with extreme floats in some numeric fields."""
    run: dict[str, Any] = {name: draw(st.sampled_from(CHOICES[name])) for name in ("activation", "init")}
    shared: dict[str, Any] = dict(TINY)
    for name in ("bias", "input"):
        shared[name] = draw(st.sampled_from(CHOICES[name]))
    spell = draw(SPELLINGS)
    for name in draw(st.lists(st.sampled_from(NUMERIC), min_size=1, max_size=3, unique=True)):
        target, other = (run, shared) if draw(st.booleans()) else (shared, run)  # a run's own, or shared
        target[name] = draw(extreme_floats())
        other.pop(name, None)
    for key in ("range", "z_range"):
        if draw(st.booleans()):
            shared[key] = sorted([draw(some_extreme_floats()) for _ in range(2)])
    link = "&".join(
        f"{k}={','.join(_link_number(x, spell) for x in v) if isinstance(v, list) else _value_text(v, spell)}"
        for k, v in shared.items()
    )
    items = [run["activation"], run["init"]]
    items += [f"{k}:{_link_number(v, spell)}" for k, v in run.items() if k not in ("activation", "init")]
    return f"{link}&run={','.join(items)}", {**shared, "runs": [run]}


def _value_text(value: Any, spell: Any) -> str:
    return _link_number(value, spell) if isinstance(value, float) else quote(str(value), safe="")


def _names_a_field(response: Any) -> None:
    """The property: no 5xx; a result is strict JSON; a 4xx names the field it refuses."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        details = response.json()["detail"]
        assert details and all(len(d["loc"]) >= 2 and isinstance(d["loc"][1], str) for d in details)
        assert all(isinstance(d["msg"], str) and d["msg"] for d in details)
    elif response.headers["content-type"].startswith("application/json"):
        json.loads(response.text, parse_constant=_not_json)


def _not_json(token: str) -> None:
    raise AssertionError(f"{token} in a JSON answer")


def _post(client: TestClient, url: str, body: dict[str, Any]) -> Any:
    text = json.dumps(body)  # NaN and Infinity as Python writes them
    return client.post(url, content=text, headers={"content-type": "application/json"})


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(experiment=experiments())
def test_fuzz_extreme_floats_in_experiments(
    client: TestClient, experiment: tuple[str, dict[str, Any]]
) -> None:
    link, body = experiment
    EXTREME_CASES["extreme experiments"] += 1
    _names_a_field(client.get(f"/api/v1/simulate?{link}"))
    _names_a_field(_post(client, "/api/v1/simulate", body))


@FUZZ
@given(
    low=some_extreme_floats(), high=some_extreme_floats(), bins=st.sampled_from([1, 30, 200]), spell=SPELLINGS
)
def test_fuzz_extreme_floats_in_ranges(
    client: TestClient, low: float, high: float, bins: int, spell: Any
) -> None:
    EXTREME_CASES["extreme ranges"] += 1
    bounds = f"{_link_number(low, spell)},{_link_number(high, spell)}"
    for key in ("range", "z_range"):
        link = f"depth=2&width=6&samples=12&bins={bins}&{key}={bounds}&run=tanh,xavier&run=relu,he_normal"
        _names_a_field(client.get(f"/api/v1/simulate?{link}"))
        body = {**TINY, "bins": bins, key: [low, high], "runs": [{"activation": "tanh", "init": "xavier"}]}
        _names_a_field(_post(client, "/api/v1/simulate", body))
    _names_a_field(client.get(f"/api/v1/export/csv?{TINY_LINK}&range={bounds}&run=relu,he_normal"))


TRAINING_KEYS = ["batch", "iterations", "batch_seed", "record_every", "probe", "captures"]  # shared only
RUN_KEYS = ["lr", "momentum", "decay", "beta1", "beta2", "std", "gain", "bias_std", "input_std",
            "input_mean", "depth", "width", "samples", "input_dim", "seed", "bins"]  # fmt: skip
# A training a few milliseconds long: no extreme float is a valid integer (but 0 for a seed), so a
# training the fuzz starts is never bigger than this.
TINY_TRAINING = {"data": "synthetic", "samples": 20, "input_dim": 4, "depth": 1, "width": 4,
                 "iterations": 2, "batch": 2, "probe": 4, "record_every": 1, "bias": "normal"}  # fmt: skip


@FUZZ
@given(
    chosen=st.dictionaries(
        st.sampled_from(TRAINING_KEYS + RUN_KEYS), extreme_floats(), min_size=1, max_size=2
    ),
    in_run=st.booleans(),
    optimizer=st.sampled_from(list(OPTIMIZERS)),
    data=st.sampled_from(["synthetic", "mnist"]),
    init=st.sampled_from(["normal", "xavier", "he_normal"]),
    spell=SPELLINGS,
)
def test_fuzz_extreme_floats_in_trainings(
    client: TestClient,
    chosen: dict[str, float],
    in_run: bool,
    optimizer: str,
    data: str,
    init: str,
    spell: Any,
) -> None:
    """Extreme floats in a tiny training's keys, shared or (`in_run`) the run's own where it may have them."""
    EXTREME_CASES["extreme trainings"] += 1
    shared: dict[str, Any] = {**TINY_TRAINING, "data": data, "opt": optimizer}
    own: dict[str, float] = {}
    for key, value in chosen.items():
        (own if in_run and key in RUN_KEYS else shared)[key] = value
    link = "&".join(f"{k}={_value_text(v, spell)}" for k, v in shared.items() if k not in own)
    items = "".join(f",{k}:{_link_number(v, spell)}" for k, v in own.items())
    _names_a_field(client.get(f"/api/v1/train?{link}&run=tanh,{init}{items}"))


@FUZZ
@given(
    extreme=st.dictionaries(
        st.sampled_from(["x", "y", "steps", "0", "1"]), extreme_floats(), min_size=1, max_size=3
    ),
    optimizer=st.sampled_from(list(OPTIMIZERS)),
    surface=st.sampled_from(list(SURFACES)),
    spell=SPELLINGS,
)
def test_fuzz_extreme_floats_in_optimizer_paths(
    client: TestClient, extreme: dict[str, float], optimizer: str, surface: str, spell: Any
) -> None:
    """Extreme floats in the start, the steps or an optimizer's parameters (0, 1: its first two)."""
    EXTREME_CASES["extreme optimizer paths"] += 1
    x, y = extreme.get("x", 1.0), extreme.get("y", -1.0)
    names = [p.name for p in OPTIMIZERS[optimizer].params]
    chosen = {name: extreme.get(str(k), 0.5) for k, name in enumerate(names[:2])}
    items = ",".join([optimizer, *(f"{k}:{_link_number(v, spell)}" for k, v in chosen.items())])
    link = f"surface={surface}&start={_link_number(x, spell)},{_link_number(y, spell)}&opt={items}"
    steps = extreme.get("steps")
    if steps is not None:
        link += f"&steps={_link_number(steps, spell)}"
    _names_a_field(client.get(f"/api/v1/optimizer-paths?{link}"))
    body: dict[str, Any] = {
        "surface": surface,
        "start": [x, y],
        "optimizers": [{"name": optimizer, **chosen}],
    }
    if steps is not None:
        body["steps"] = steps
    _names_a_field(_post(client, "/api/v1/optimizer-paths", body))
