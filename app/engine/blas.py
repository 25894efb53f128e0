"""One BLAS thread for every matrix product of the engine.

OpenBLAS splits a product among its threads and sums the parts in an order that depends on how
many there are, so the last bits of a result depend on the machine's CPU count: a shared link
would show other numbers elsewhere. With one thread the order is fixed. The server runs its
parallelism as experiments in flight instead (and workers), where OpenBLAS's threads, called from
several request threads, also spun against each other.
"""

from __future__ import annotations

from functools import cache

from threadpoolctl import ThreadpoolController


@cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()  # finds the BLAS NumPy loaded (~0.2 ms, once)


def single_thread() -> None:
    """Limit BLAS to one thread, process-wide (idempotent, a few microseconds)."""
    _controller().limit(limits=1, user_api="blas")
