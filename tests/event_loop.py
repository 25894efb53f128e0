"""asyncio.run for tests, safe beside the browser tests."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coroutine)` in a thread of its own. Why: Playwright's sync API keeps an event
    loop running in the main thread while its session lasts, and asyncio.run refuses to start
    where one runs, so a test using it failed whenever it ran after a browser test."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
