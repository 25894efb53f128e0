"""The engine runs BLAS on one thread, whatever the process set before."""

from __future__ import annotations

from threadpoolctl import threadpool_info, threadpool_limits

from app.engine.network.config import make_experiment
from app.engine.network.experiment import run_experiment


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_blas_experiment_pins_one_thread() -> None:
    threadpool_limits(limits=2, user_api="blas")
    run_experiment(
        make_experiment({"depth": 1, "width": 4, "samples": 4}, [{"activation": "relu", "init": "he_normal"}])
    )
    assert _blas_threads() == {1}
