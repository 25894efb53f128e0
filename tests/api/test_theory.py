"""GET /api/v1/phase-diagram."""

from __future__ import annotations

import math

import numpy as np
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


def test_theory_phase_diagram_color_xi_c_adds_c_star_and_xi_c(client: TestClient) -> None:
    """color=xi_c adds the C-map's c* and log10 xi_c per point: c* = 1 and xi_c = -1 / ln chi on
    the ordered side, c* < 1 on the chaotic side, and xi_c longest at the critical line."""
    query = "/api/v1/phase-diagram?activation=tanh&sigma_b_max=0.6&steps=41"
    plain, body = client.get(query).json(), client.get(f"{query}&color=xi_c").json()
    assert body["color"] == "xi_c" and "color" not in plain
    assert {k: v for k, v in body.items() if k not in ("color", "c_star", "log10_xi_c")} == plain
    assert len(body["log10_xi_c"]) == len(body["c_star"]) == 41
    assert all(len(row) == 41 for row in body["log10_xi_c"] + body["c_star"])
    row = min(range(41), key=lambda i: abs(body["sigma_b"][i] - 0.3))
    chi, xi, c = body["log10_chi"][row], body["log10_xi_c"][row], body["c_star"][row]
    for j in range(41):
        if chi[j] < -0.05:
            assert c[j] == 1.0
            assert 10 ** xi[j] == pytest.approx(-1 / (math.log(10) * chi[j]), rel=2e-3)  # chi's table: 4e-4
        elif chi[j] > 0.05:
            assert 0 <= c[j] < 1
    critical = body["critical_sigma_w"][row]
    peak = max(range(41), key=lambda j: xi[j] if xi[j] is not None else -math.inf)
    assert abs(body["sigma_w"][peak] - critical) < 2 * (body["sigma_w"][1] - body["sigma_w"][0])


def test_theory_phase_diagram_color_xi_c_matches_the_engine(client: TestClient) -> None:
    from app.engine.correlation_grid import fixed_points
    from app.engine.theory import phase_diagram

    body = client.get("/api/v1/phase-diagram?activation=selu&sigma_w_max=2&steps=20&color=xi_c").json()
    w, b = np.array(body["sigma_w"]), np.array(body["sigma_b"])
    _, q_star = phase_diagram("selu", {}, w, b)
    fp = fixed_points("selu", {}, (w * w)[None, :], (b * b)[:, None], q_star)
    for i in range(20):
        for j in range(20):
            xi, c = body["log10_xi_c"][i][j], body["c_star"][i][j]
            if math.isfinite(fp.xi_c[i, j]):
                assert xi == round(math.log10(fp.xi_c[i, j]), 4) and c == round(fp.c_star[i, j], 6)
            else:
                assert xi is None
    assert any(c is not None and c < 1 for row in body["c_star"] for c in row)  # some are chaotic


def test_theory_phase_diagram_color_chi_is_the_old_answer_byte_for_byte(client: TestClient) -> None:
    query = "/api/v1/phase-diagram?activation=gelu&sigma_w_max=2&steps=30"
    assert client.get(f"{query}&color=chi").content == client.get(query).content
    response = client.get(f"{query}&color=xi")
    assert response.status_code == 422 and "color" in response.json()["detail"][0]["loc"]


def test_theory_phase_diagram_color_xi_c_maxout_has_no_values(client: TestClient) -> None:
    body = client.get("/api/v1/phase-diagram?activation=maxout&steps=10&color=xi_c").json()
    assert all(v is None for row in body["log10_xi_c"] + body["c_star"] for v in row)
