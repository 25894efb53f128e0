"""Shared fixtures: an in-process client for API tests, and a real server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings

from app.main import create_app
from tests.live import serve

# The suite's property tests (codec round trips, fuzzing) draw the same examples on every run, so
# CI passes or fails the same way each time; `pytest --hypothesis-profile=explore` draws new ones
# to look further (what it finds becomes a test case here).
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """A real uvicorn on a free loopback port, for the browser, client and command-line tests."""
    with serve() as (url, _):
        yield url
