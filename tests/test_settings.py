"""Settings from INITSCOPE_* environment variables, and the CORS setting they drive."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.engine.network.cost import Limits
from app.main import create_app
from app.settings import Settings, load_settings


def test_settings_defaults_without_environment() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.max_pending_macs == 2 * Limits().max_macs and settings.cors_origins == ()


def test_settings_header_timeout() -> None:
    assert Settings().header_timeout == 10
    assert load_settings({"INITSCOPE_HEADER_TIMEOUT": "3"}).header_timeout == 3
    with pytest.raises(ValueError, match="INITSCOPE_HEADER_TIMEOUT must be at least 1"):
        load_settings({"INITSCOPE_HEADER_TIMEOUT": "0"})


def test_settings_read_limits_and_server_settings() -> None:
    settings = load_settings(
        {
            "INITSCOPE_MAX_DEPTH": "30",
            "INITSCOPE_MAX_MACS": "1_000_000",
            "INITSCOPE_CACHE_BYTES": "4096",
            "INITSCOPE_MAX_IN_FLIGHT": "4",
            "INITSCOPE_CORS_ORIGINS": " https://a.example, https://b.example ,",
        }
    )
    assert settings.limits.max_depth == 30 and settings.limits.max_macs == 1_000_000
    assert settings.cache_bytes == 4096 and settings.max_in_flight == 4
    assert settings.max_pending_macs == 2_000_000  # follows max_macs unless given
    assert settings.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"INITSCOPE_MAX_IN_FLIGHT": "two"}, "INITSCOPE_MAX_IN_FLIGHT='two' is not an integer"),
        ({"INITSCOPE_CACHE_BYTES": "0"}, "INITSCOPE_CACHE_BYTES must be at least 1"),
        ({"INITSCOPE_MAX_PENDING_MACS": "5", "INITSCOPE_MAX_MACS": "10"}, "INITSCOPE_MAX_PENDING_MACS"),
    ],
)
def test_settings_refuse_bad_values_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings(environ)


def test_settings_cors_off_by_default(client: TestClient) -> None:
    answer = client.get("/api/v1/catalog", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in answer.headers
    preflight = client.options(
        "/api/v1/simulate",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_settings_cors_allows_the_configured_origins_only() -> None:
    app = create_app(Settings(cors_origins=("https://notebook.example",)))
    with TestClient(app) as client:
        preflight = client.options(
            "/api/v1/simulate",
            headers={
                "Origin": "https://notebook.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://notebook.example"
        answer = client.get("/api/v1/catalog", headers={"Origin": "https://notebook.example"})
        assert answer.headers["access-control-allow-origin"] == "https://notebook.example"
        other = client.get("/api/v1/catalog", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers
