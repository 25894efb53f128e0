"""The Python client against a real server on loopback (and a mock transport for what it cannot
be made to answer: 503, a proxy's page)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import types
from collections.abc import Iterator
from typing import Any, Literal, NotRequired, Union, get_args, get_origin, get_type_hints, is_typeddict

import httpx
import pytest

from app.api.payload import CSV_COLUMNS
from app.client import (
    Catalog,
    Client,
    InitscopeConnectionError,
    InitscopeError,
    PathsPreset,
    Preset,
    TrainPreset,
)
from app.presets import PRESETS
from tests.live import ROOT, free_port

BODY = {
    "depth": 3,
    "width": 20,
    "samples": 50,
    "bins": 4,
    "runs": [{"activation": "tanh", "init": "xavier"}, {"activation": "relu", "init": "he_normal"}],
}


@pytest.fixture(scope="module")
def api(live_server: str) -> Iterator[Client]:
    with Client(live_server) as client:
        yield client


def test_client_simulate_json_body(api: Client) -> None:
    result = api.simulate(BODY)
    assert [len(run["layers"]) for run in result["runs"]] == [3, 3]
    assert len(result["runs"][0]["layers"][0]["post"]["counts"]) == 4
    assert result["share"] == "depth=3&width=20&samples=50&bins=4&run=tanh,xavier&run=relu,he_normal"


def test_client_simulate_query_equals_json_body(api: Client) -> None:
    by_body = api.simulate(BODY)
    assert api.simulate(query=by_body["share"]) == by_body


def test_client_simulate_preset_runs_its_share_query(api: Client) -> None:
    result = api.simulate(preset="saito-sigmoid-std1")
    assert result["share"] == PRESETS["saito-sigmoid-std1"].query
    assert result == api.simulate(query=PRESETS["saito-sigmoid-std1"].query)


def test_client_simulate_takes_a_whole_dashboard_link(api: Client, live_server: str) -> None:
    share = "depth=2&run=relu,he_normal"
    assert api.simulate(query=f"{live_server}/?{share}#view=overlay")["share"] == share


def test_client_simulate_needs_exactly_one_experiment(api: Client) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        api.simulate()
    with pytest.raises(ValueError, match="exactly one"):
        api.simulate(BODY, preset="saito-compare")


def test_client_export_csv_of_query_and_of_json_body_agree(api: Client) -> None:
    text = api.export_csv(query="depth=3&width=20&samples=50&bins=4&run=tanh,xavier&run=relu,he_normal")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + 2 * 3 * 3 * 4  # header, runs x layers x kinds (z, activations, dL/dz) x bins
    assert api.export_csv(BODY) == text


def test_client_report_is_standalone_html(api: Client) -> None:
    html = api.report(preset="saito-relu-he")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "plotly" in html


def test_client_catalog_lists_components_presets_and_limits(api: Client) -> None:
    catalog = api.catalog()
    assert "relu" in [a["name"] for a in catalog["activations"]]
    assert [p["name"] for p in catalog["presets"]] == list(PRESETS)
    assert any(limit["setting"] == "INITSCOPE_MAX_DEPTH" for limit in catalog["limits"])


def test_client_presets_and_preset(api: Client) -> None:
    presets = api.presets()
    assert [p["name"] for p in presets] == list(PRESETS)
    one = api.preset("dead-relu")
    assert one == next(p for p in presets if p["name"] == "dead-relu")
    assert one["share"] == PRESETS["dead-relu"].query
    assert one["experiment"]["runs"]


def mismatches(value: Any, hint: Any, where: str = "answer") -> list[str]:
    """Where a JSON answer differs from a type of the client: a TypedDict's keys exactly (no key
    missing, none unknown), then every value against its key's type, lists and unions included."""
    if hint is Any:
        return []
    if is_typeddict(hint):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        # NotRequired keys may be absent (read from the hints: the client's annotations are strings)
        hints = get_type_hints(hint, include_extras=True)
        optional = {key for key, t in hints.items() if get_origin(t) is NotRequired}
        hints = {key: get_args(t)[0] if key in optional else t for key, t in hints.items()}
        problems = []
        required = set(hints) - optional
        if not required <= set(value) <= set(hints):
            missing, unknown = sorted(required - set(value)), sorted(set(value) - set(hints))
            problems.append(f"{where} ({hint.__name__}): missing {missing}, unknown {unknown}")
        for key in hints.keys() & value.keys():
            problems += mismatches(value[key], hints[key], f"{where}.{key}")
        return problems
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        found = [mismatches(value, arg, where) for arg in args]
        return [] if any(not p for p in found) else [p for ps in found for p in ps]
    if origin is Literal:
        return [] if value in args else [f"{where}: {value!r}, not one of {args}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, not a list"]
        return [p for i, item in enumerate(value) for p in mismatches(item, args[0], f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        return [p for k, v in value.items() for p in mismatches(v, args[1], f"{where}.{k}")]
    kind = (int, float) if hint is float else hint
    if (isinstance(value, bool) and hint is not bool) or not isinstance(value, kind):
        return [f"{where}: {value!r}, not {hint.__name__}"]
    return []


def test_client_types_match_the_answers_claims_and_presets(api: Client) -> None:
    """The TypedDicts of the client say what the API answers: each claim's view is its page's
    (the dashboard's view and kind, a /train chart, an /optimizers section)."""
    catalog = api.catalog()
    assert mismatches(catalog, Catalog) == []
    assert mismatches(api.presets(), list[Preset]) == []
    assert mismatches(api.preset("dead-relu"), Preset) == []
    train = api.train_presets()
    assert train == catalog["train_presets"] and train
    assert mismatches(train, list[TrainPreset]) == []
    paths = api.paths_presets()
    assert paths == catalog["paths_presets"] and paths
    assert mismatches(paths, list[PathsPreset]) == []
    # what each view holds, as the catalog documents it
    assert {p["claim"]["view"]["view"] for p in catalog["presets"]} <= {
        "grid",
        "overlay",
        "ridgeline",
        "distribution",
    }
    assert {p["claim"]["view"]["kind"] for p in catalog["presets"]} <= {"post", "pre", "grad"}
    assert {p["claim"]["view"]["chart"] for p in train} <= {
        "loss",
        "accuracy",
        "dead",
        "update",
        "histograms",
    }


def test_client_type_check_sees_a_wrong_view() -> None:
    """The check above fails where it should: a training claim with the dashboard's view."""
    claim = {"text": "", "source": "", "look_at": "", "verdict": "holds", "reason": "", "units_layer": None}
    preset = {"name": "x", "title": "", "shows": "", "source": "", "share": "", "claim": claim}
    assert (
        mismatches({**preset, "claim": {**claim, "view": {"page": "train", "chart": "loss"}}}, TrainPreset)
        == []
    )
    wrong = mismatches({**preset, "claim": {**claim, "view": {"view": "grid", "kind": "post"}}}, TrainPreset)
    assert wrong == [
        "answer.claim.view (TrainClaimView): missing ['chart', 'page'], unknown ['kind', 'view']"
    ]
    assert mismatches(
        {**preset, "claim": {**claim, "view": {"page": "optimizers", "chart": "loss"}}}, TrainPreset
    )
    assert mismatches({**claim, "units_layer": "3"}, dict[str, str | None]) == []
    assert mismatches([1, True], list[int]) == ["answer[1]: True, not int"]


def test_client_error_422_of_json_body_names_the_field(api: Client) -> None:
    with pytest.raises(InitscopeError) as caught:
        api.simulate({"runs": [{"activation": "relu", "init": "normal", "std": -1}]})
    err = caught.value
    assert err.status_code == 422
    assert err.message == "runs[0].std: must be between 0 and 100"  # as for a link (below)
    assert str(err) == f"HTTP 422: {err.message}"
    assert err.detail[0]["loc"] == ["body", "runs", 0, "std"]
    assert err.retry_after is None


def test_client_error_422_of_query_names_the_field_once(api: Client) -> None:
    with pytest.raises(InitscopeError, match=r"^HTTP 422: runs\[0\]\.std: must be between 0 and 100$"):
        api.export_csv(query="run=relu,normal,std:-1")


def test_client_error_422_over_a_limit_names_the_setting(api: Client) -> None:
    with pytest.raises(InitscopeError, match="INITSCOPE_MAX_DEPTH") as caught:
        api.report(query="depth=5000&run=relu,he_normal")
    assert caught.value.status_code == 422


def test_client_error_unknown_preset_is_404_listing_the_presets(api: Client) -> None:
    with pytest.raises(InitscopeError, match="no preset 'nope'; presets are saito-compare") as caught:
        api.simulate(preset="nope")
    assert caught.value.status_code == 404


def test_client_error_connection_refused(live_server: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with Client(url, timeout=5) as client, pytest.raises(InitscopeConnectionError) as caught:
        client.catalog()
    assert caught.value.status_code is None
    assert str(caught.value).startswith(f"cannot reach {url}: ")


def _answering(response: httpx.Response) -> Client:
    return Client("http://initscope.test", transport=httpx.MockTransport(lambda request: response))


def test_client_error_503_exposes_retry_after() -> None:
    answer = httpx.Response(503, headers={"Retry-After": "7"}, json={"detail": "busy: too many experiments"})
    with _answering(answer) as client, pytest.raises(InitscopeError) as caught:
        client.simulate(BODY)
    err = caught.value
    assert (err.status_code, err.retry_after, err.message) == (503, 7.0, "busy: too many experiments")
    assert str(err) == "HTTP 503: busy: too many experiments (retry after 7 s)"


def test_client_error_from_a_proxy_page_keeps_its_text() -> None:
    answer = httpx.Response(502, text="<html>Bad Gateway</html>")
    with _answering(answer) as client, pytest.raises(InitscopeError, match=r"^HTTP 502: <html>Bad Gateway"):
        client.presets()


def test_client_error_answer_that_is_not_json() -> None:
    answer = httpx.Response(200, text="<html>a login page</html>", headers={"Content-Type": "text/html"})
    with _answering(answer) as client, pytest.raises(InitscopeError, match="is this an initscope server"):
        client.catalog()


def test_client_module_imports_nothing_of_the_server() -> None:
    code = (
        "import sys, app.client\n"
        "server = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette', 'numpy')\n"
        "          or m.startswith(('app.api', 'app.engine', 'app.main'))]\n"
        "assert not server, server\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
