"""The answers' row table (`rows`): layer networks' answers carry it, with seeds too; plain
stacks' answers do not (their bytes are pinned: test_answer_digests.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

LAYERED = "depth=3&width=10&samples=20&run=relu,he_normal,norm:batch&run=relu,he_normal"


def test_payload_rows_of_a_layer_network_pair_its_runs_rows(client: TestClient) -> None:
    answer = client.get(f"/api/v1/simulate?{LAYERED}").json()
    assert [row["key"] for row in answer["rows"]] == [
        f"{p}|{role}" for p in (1, 2, 3) for role in ("norm before", "act")
    ]
    assert [row["cells"] for row in answer["rows"]][:2] == [[0, None], [1, 0]]
    for row in answer["rows"]:  # each cell names a row of that run with the same place
        for run, j in zip(answer["runs"], row["cells"], strict=True):
            if j is not None:
                assert run["layers"][j]["layer"] == j + 1


def test_payload_rows_with_seeds_are_the_links_table(client: TestClient) -> None:
    one = client.get(f"/api/v1/simulate?{LAYERED}").json()
    drawn = client.get(f"/api/v1/simulate?{LAYERED}&seeds=3").json()
    assert drawn["rows"] == one["rows"]


def test_payload_rows_are_absent_from_plain_stacks_answers(client: TestClient) -> None:
    query = "depth=3&width=10&samples=20&run=relu,he_normal&run=tanh,xavier,depth:5"
    assert "rows" not in client.get(f"/api/v1/simulate?{query}").json()
    assert "rows" not in client.get(f"/api/v1/simulate?{query}&seeds=2").json()
