"""The rules every compiled kernel is built under: IEEE operations in their source order."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pytest

from app.engine import jit


def multiply_add(a: Any, b: Any, c: Any, out: Any) -> None:
    for i in range(a.size):
        out[i] = a[i] * b[i] + c[i]


def total(x: Any) -> Any:
    s = x.dtype.type(0)
    for i in range(x.size):
        s += x[i]
    return s


def compiled(function: Any) -> Any:
    """`function` under the engine's options, not cached (numba shows no machine code for cached
    kernels)."""
    return numba.njit(**{**jit.OPTIONS, "cache": False})(function)


def test_no_fused_multiply_add() -> None:
    """a * b + c rounds twice; an FMA rounds once and gives other bits on some inputs."""
    kernel = compiled(multiply_add)
    a = np.array([1.0 + 2.0**-27], np.float64)
    c = np.array([-(1.0 + 2.0**-26)], np.float64)
    out = np.empty(1)
    kernel(a, a, c, out)
    assert out[0] == a[0] * a[0] + c[0] == 0.0  # an FMA gives 2**-54
    for signature in kernel.signatures:
        assert "fma" not in kernel.inspect_asm(signature).lower()


def test_sums_keep_their_order() -> None:
    """A sequential sum stays sequential (fastmath would split it into vector lanes)."""
    x = np.random.default_rng(0).standard_normal(1001).astype(np.float32)
    assert compiled(total)(x) == np.cumsum(x)[-1]  # np.cumsum adds one value at a time


def test_kernel_compiles_under_the_options() -> None:
    kernel = jit.kernel(total)
    x = np.arange(10, dtype=np.float64)
    assert kernel(x) == 45.0
    assert kernel.targetoptions["nogil"] and not kernel.targetoptions.get("fastmath")  # type: ignore[attr-defined]


def test_a_kernel_without_a_cache_folder_compiles_in_memory() -> None:
    """numba cannot cache a function whose source file it cannot find (nor one in a folder nobody
    may write): the kernel still works."""
    namespace: dict[str, Any] = {}
    exec("def twice(x):\n    return 2 * x\n", namespace)  # no source file
    with pytest.raises(RuntimeError, match="cannot cache"):
        numba.njit(cache=True)(namespace["twice"])
    assert jit.kernel(namespace["twice"])(21) == 42


def test_cache_files_are_named_by_package() -> None:
    """One source file imported as app (the repository) and as initscope (an editable install)
    gets a cache of each: a cached kernel's code imports its modules by the package's name."""
    kernel: Any = jit.kernel(total)
    assert kernel._cache._impl.filename_base.split("-")[-1].startswith(__name__.partition(".")[0] + ".py")
    assert kernel(np.arange(4, dtype=np.float64)) == 6.0


def test_cache_files_are_named_by_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels compiled under other options are other files: never loaded under these."""
    kernel: Any = jit.kernel(total)
    ours = kernel._cache._impl.filename_base
    assert f"-{jit._OPTIONS_TAG}-" in ours
    monkeypatch.setattr(jit, "_OPTIONS_TAG", "other")
    other: Any = jit.kernel(total)
    assert other._cache._impl.filename_base != ours


def test_warm_up_loads_every_kernel_module() -> None:
    jit.warm_up()
