"""Shared fixtures: an in-process client for API tests, and a real server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.live import serve


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """A real uvicorn on a free loopback port, for the browser, client and command-line tests."""
    with serve() as (url, _):
        yield url
