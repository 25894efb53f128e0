"""The client's phase diagram, coloured by chi or xi_c, against a real server and its own types."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.client import Client, InitscopeError, PhaseDiagram
from tests.test_client import mismatches


@pytest.fixture(scope="module")
def api(live_server: str) -> Iterator[Client]:
    with Client(live_server) as client:
        yield client


def test_client_phase_diagram_types_match_both_colourings(api: Client) -> None:
    chi = api.phase_diagram("tanh", steps=12, sigma_b_max=0.5)
    xi = api.phase_diagram("tanh", color="xi_c", steps=12, sigma_b_max=0.5)
    assert mismatches(chi, PhaseDiagram) == [] and mismatches(xi, PhaseDiagram) == []
    assert "log10_xi_c" not in chi and xi["color"] == "xi_c"
    assert {k: v for k, v in xi.items() if k not in ("color", "c_star", "log10_xi_c")} == chi
    assert len(xi["log10_xi_c"]) == len(xi["c_star"]) == 12
    leaky = api.phase_diagram("leaky_relu", alpha=0.2, steps=5)
    assert leaky["params"] == {"alpha": 0.2} and mismatches(leaky, PhaseDiagram) == []


def test_client_phase_diagram_refusal_names_the_field(api: Client) -> None:
    with pytest.raises(InitscopeError, match="steps"):
        api.phase_diagram("tanh", steps=1000)
