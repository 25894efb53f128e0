"""Security headers on every response."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.security import HEADERS


@pytest.mark.parametrize(
    "path", ["/", "/presets", "/docs", "/healthz", "/api/v1/catalog", "/static/css/base.css", "/nope"]
)
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert csp.startswith("default-src 'self'") and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_security_headers_on_unexpected_500() -> None:
    """An unexpected exception answers 500 from outside every middleware (Starlette's
    ServerErrorMiddleware): it must carry the headers all the same, and no trace."""
    app = create_app()

    async def fail() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", fail)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.text == "Internal Server Error" and "a bug" not in response.text
    for name, value in HEADERS:
        assert response.headers[name.decode()] == value.decode()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "no-cache"),  # pages: revalidated each time, so they follow the server's version
        ("/presets", "no-cache"),
        ("/static/js/dashboard.js", "no-cache"),  # static files have an ETag: a cheap 304
        ("/static/favicon.svg", "no-cache"),
        ("/healthz", "no-store"),  # JSON answers are not kept
        ("/api/v1/catalog", "no-store"),
        ("/api/v1/simulate?depth=3&width=20&samples=50&bins=4&run=tanh,xavier", "no-store"),
        ("/api/v1/presets/nope", "no-store"),  # an error's JSON too
    ],
)
def test_security_cache_control(client: TestClient, path: str, expected: str) -> None:
    response = client.get(path)
    assert response.headers.get_list("cache-control") == [expected], path


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_security_cache_control_keeps_the_routes_own(client: TestClient, encoding: str) -> None:
    """A route's own Cache-Control stands: vendor assets are cached for long."""
    response = client.get("/vendor/plotly.min.js", headers={"Accept-Encoding": encoding})
    [cache_control] = response.headers.get_list("cache-control")
    assert "max-age" in cache_control and "no-" not in cache_control


def test_security_revalidated_static_file_is_a_304(client: TestClient) -> None:
    first = client.get("/static/css/base.css")
    again = client.get("/static/css/base.css", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/simulate?run=relu,he_normal&depth=2&width=8&samples=10",  # gzipped when taken
        "/api/v1/simulate?run=relu,he_normal&depth=1&width=1&samples=1&bins=2&grad=0&theory=0",
        "/vendor/plotly.min.js",
        "/",
    ],
)
@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_vary_is_said_once(client: TestClient, path: str, encoding: str) -> None:
    """Answers that depend on Accept-Encoding say so once: the routes that gzip their own bytes
    and the GZip middleware each said it, so a client that takes no gzip read
    'Accept-Encoding, Accept-Encoding'."""
    response = client.get(path, headers={"accept-encoding": encoding})
    assert response.status_code == 200
    assert response.headers.get_list("vary") == ["Accept-Encoding"], response.headers.get_list("vary")
