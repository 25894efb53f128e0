"""GET /api/v1/phase-diagram."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient


def test_theory_phase_diagram_tanh_critical_line(client: TestClient) -> None:
    body = client.get("/api/v1/phase-diagram?activation=tanh&sigma_b_max=0.6&steps=121").json()
    assert len(body["log10_chi"]) == len(body["sigma_b"]) == 121
    assert len(body["log10_chi"][0]) == len(body["sigma_w"]) == 121
    row = min(range(121), key=lambda i: abs(body["sigma_b"][i] - 0.3))
    assert body["sigma_b"][row] == pytest.approx(0.3)
    assert body["critical_sigma_w"][row] == pytest.approx(1.396, abs=0.01)


def test_theory_phase_diagram_relu_is_critical_at_root_2(client: TestClient) -> None:
    body = client.get("/api/v1/phase-diagram?activation=relu").json()
    assert all(x == pytest.approx(math.sqrt(2), abs=0.01) for x in body["critical_sigma_w"])
    leaky = client.get("/api/v1/phase-diagram?activation=leaky_relu&alpha=0.5").json()
    assert leaky["params"] == {"alpha": 0.5}
    assert leaky["critical_sigma_w"][0] == pytest.approx(math.sqrt(2 / 1.25), abs=0.01)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("activation=nope", "activation"),
        ("activation=leaky_relu&alpha=5", "alpha"),
        ("activation=maxout&pieces=1", "pieces"),
        ("activation=tanh&steps=1000", "steps"),
        ("activation=tanh&sigma_w_max=nan", "sigma_w_max"),
        ("activation=tanh&sigma_b_max=51", "sigma_b_max"),
        ("", "activation"),
    ],
)
def test_theory_phase_diagram_bad_input(client: TestClient, query: str, field: str) -> None:
    response = client.get(f"/api/v1/phase-diagram?{query}")
    assert response.status_code == 422
    assert field in response.json()["detail"][0]["loc"]


def test_theory_phase_diagram_tanh_critical_at_sigma_b_50_matches_the_closed_form(client: TestClient) -> None:
    """At sigma_b = 50, q* ~ 2600 and tanh bends within |u| < 0.1: for large q,
    E[tanh^2] = 1 - 2 phi(0) / sqrt(q) and E[tanh'^2] = (4 / 3) phi(0) / sqrt(q) (relative error
    ~1 / q). chi = 1 with q = sigma_w^2 E[tanh^2] + sigma_b^2 is a quadratic in sqrt(q)."""
    body = client.get("/api/v1/phase-diagram?activation=tanh&sigma_w_max=20&sigma_b_max=50&steps=200").json()
    assert body["sigma_b"][-1] == 50.0
    phi0 = 1 / math.sqrt(2 * math.pi)
    a = 3 / (4 * phi0)  # sigma_w^2 = a sqrt(q) at chi = 1
    root_q = (a + math.sqrt(a * a - 4 * (1.5 - 2500.0))) / 2  # q - a sqrt(q) + 3 / 2 - sigma_b^2 = 0
    assert body["critical_sigma_w"][-1] == pytest.approx(math.sqrt(a * root_q), rel=2e-3)  # 9.785


def test_theory_phase_diagram_tanh_is_critical_at_sigma_w_1_without_bias(client: TestClient) -> None:
    body = client.get("/api/v1/phase-diagram?activation=tanh&sigma_w_max=2&steps=101").json()
    assert body["sigma_b"][0] == 0.0
    assert body["critical_sigma_w"][0] == pytest.approx(1.0, abs=1e-3)


def test_theory_phase_diagram_flags_bistable_points_and_starts_at_q0(client: TestClient) -> None:
    """GELU at sigma_w 1.48, sigma_b 0.2: from q = 1 the map settles on q* = 0.11 (ordered), from
    q = 2.23 (a run's q_1 there) it explodes (chaotic); the point is flagged either way."""
    query = "/api/v1/phase-diagram?activation=gelu&sigma_w_max=2&sigma_b_max=0.5&steps=101"
    default, started = client.get(query).json(), client.get(f"{query}&q0=2.23").json()
    assert default["q0"] == 1.0 and started["q0"] == 2.23
    col = min(range(101), key=lambda i: abs(default["sigma_w"][i] - 1.48))
    row = min(range(101), key=lambda i: abs(default["sigma_b"][i] - 0.2))
    assert default["bistable"][row][col] and started["bistable"][row][col]
    assert default["log10_chi"][row][col] < 0 < started["log10_chi"][row][col]
    assert not default["bistable"][row][10]  # sigma_w 0.2: one stable q*
    assert not any(any(r) for r in client.get("/api/v1/phase-diagram?activation=tanh").json()["bistable"])
    assert client.get("/api/v1/phase-diagram?activation=tanh&q0=0").status_code == 422
