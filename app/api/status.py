"""GET /api/v1/status: this worker's cache and work counters, for operators and the load tests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .shared import JobsDep, RunnerDep

router = APIRouter(prefix="/api/v1", tags=["health"])


@router.get(
    "/status",
    summary="Cache hits and misses, work admitted and refused (per worker process)",
    description="Each worker process has its own cache and counters; with several workers a "
    "request reaches one of them.",
)
async def status(runner: RunnerDep, jobs: JobsDep) -> dict[str, Any]:
    return {**runner.status(), "trainings": jobs.status()}
