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
