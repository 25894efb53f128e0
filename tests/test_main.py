"""The app's own routes: health, pages, vendor assets served from installed packages, docs."""

from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.presets import PRESETS
from app.vendor import ASSETS, asset_path


def test_main_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_main_lifespan_freezes_what_start_up_made() -> None:
    """A full collection under a flood walked every object of the imports (~30 ms, a pause all
    requests in flight waited out): the server freezes them, and thaws them when it stops."""
    with TestClient(create_app()) as started:
        started.get("/healthz")
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # modules, classes, functions, the app's routes
        assert len(gc.get_objects(generation=2)) < frozen / 2
    assert gc.get_freeze_count() == 0


def test_main_dashboard_page(client: TestClient) -> None:
    page = client.get("/?depth=3&run=relu,he_normal")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="figure"' in page.text and "js/dashboard.js" in page.text
    assert "<script>" not in page.text  # no inline script: the CSP forbids it


def test_main_gallery_links_every_preset(client: TestClient) -> None:
    page = client.get("/presets")
    assert page.status_code == 200
    assert 'href="/?range=0,1&amp;run=sigmoid,normal' in page.text
    assert page.text.count('class="preset-card"') == len(PRESETS)


@pytest.mark.parametrize("name", ASSETS)
def test_main_vendor_assets_are_the_installed_files(client: TestClient, name: str) -> None:
    plain = client.get(f"/vendor/{name}", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert plain.content == asset_path(name).read_bytes()
    assert "max-age" in plain.headers["cache-control"]
    # compressed once per process, and not again by the middleware
    packed = client.get(f"/vendor/{name}", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and packed.content == plain.content
    assert int(packed.headers["content-length"]) < len(plain.content) / 2


def test_main_pages_and_catalog_are_compressed(client: TestClient) -> None:
    for path in ("/", "/api/v1/catalog", "/static/js/histograms.js"):  # figures.js is now too small to pack
        response = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200 and response.headers["content-encoding"] == "gzip", path


@pytest.mark.parametrize(
    "path", ["/vendor/../pyproject.toml", "/vendor/%2e%2e%2fapp%2fmain.py", "/vendor/nope.js"]
)
def test_main_vendor_serves_only_named_files(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "path", ["/static/../app/main.py", "/static/%2e%2e/app/main.py", "/static/..%2fpyproject.toml"]
)
def test_main_static_has_no_path_traversal(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_main_docs_page_uses_local_assets(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "/vendor/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    schema = client.get("/openapi.json").json()
    assert {"/api/v1/simulate", "/api/v1/catalog", "/api/v1/presets/{name}", "/healthz"} <= set(
        schema["paths"]
    )
    post = schema["paths"]["/api/v1/simulate"]["post"]
    assert "saito-compare" in post["requestBody"]["content"]["application/json"]["examples"]
    get_params = {p["name"] for p in schema["paths"]["/api/v1/simulate"]["get"]["parameters"]}
    assert {"run", "depth", "width", "seed", "range"} <= get_params


@pytest.mark.parametrize("path", ["/", "/presets", "/optimizers", "/train", "/docs", "/healthz"])
def test_main_head_answers_like_get_without_a_body(client: TestClient, path: str) -> None:
    get = client.get(path, headers={"Accept-Encoding": "identity"})
    head = client.head(path, headers={"Accept-Encoding": "identity"})
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == str(len(get.content))


def test_main_head_is_not_in_the_schema(client: TestClient) -> None:
    assert list(client.get("/openapi.json").json()["paths"]["/healthz"]) == ["get"]
