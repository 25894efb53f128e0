"""How the engine's compiled kernels are compiled: one decorator, one set of rules.

NumPy runs each step of a formula as its own pass over memory, at about a nanosecond a value per
step, so a histogram or a normalization of a layer costs four to eight passes where one loop would
do (issues 14 and 15 measured NumPy at that floor). numba compiles such loops for this machine's CPU.

Same bits on every machine: no fastmath, so no reassociated sums and no fused multiply-adds (each
kernel performs exactly the IEEE operations its source spells, in their order; tests/engine/
test_jit.py checks the machine code). A kernel that replaces NumPy steps spells NumPy's order
(np.add.reduce's pairwise sums, for one) and is tested bit for bit against those steps.
Kernels release the GIL (nogil), so the engine's threads run them side by side. They are cached
on disk beside their module (numba's __pycache__), so a process loads them in milliseconds after
the first compilation on a machine; warm_up() compiles or loads them all at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
from collections.abc import Callable
from typing import Any, TypeVar

import numba
from numba.core import caching

F = TypeVar("F", bound=Callable[..., Any])

OPTIONS: dict[str, Any] = {  # cached on disk too, by kernel() (_PackageCache)
    "nogil": True,
    "fastmath": False,
    "error_model": "numpy",  # a division by zero gives inf or NaN, as NumPy's does, not an exception
    "boundscheck": False,
}

# In the cache files' names: numba's cache index knows a kernel's source and numba's version, not
# the options it was compiled under, so a change of OPTIONS would load kernels compiled under the
# old ones (fastmath's reordered sums, say) until `make clean`.
_OPTIONS_TAG = hashlib.sha256(repr(sorted(OPTIONS.items())).encode()).hexdigest()[:8]

# The modules of app.engine (relative names: the package is installed as initscope) whose kernels
# warm_up() compiles; each has a function warm_up() that calls its kernels once on tiny arrays,
# with every argument type the engine passes them.
KERNEL_MODULES: tuple[str, ...] = (
    ".layers.norm_kernels",
    ".network.pass_kernels",
    ".measure.binning",
    ".layers.activation_kernels",
    ".measure.unit_kernels",
    ".draws",
)


def _by_package(base: type[Any]) -> type[Any]:
    """numba's cache locator `base`, with the kernel's top-level package in its files' names.

    numba names a cache file by the source file and function, and its code by the module it was
    compiled in: one file imported as two packages (app in the repository; initscope through an
    editable install, as `make serve` runs it) would load the other package's code, which imports
    modules by that package's name ("No module named 'app'")."""

    class Locator(base):  # type: ignore[misc]
        package = ""

        def get_disambiguator(self) -> str:
            return f"{super().get_disambiguator()}-{_OPTIONS_TAG}-{self.package}"

        @classmethod
        def from_function(cls, py_func: Callable[..., Any], py_file: str) -> Any:
            located = super().from_function(py_func, py_file)
            if located is not None:
                located.package = py_func.__module__.partition(".")[0]
            return located

    Locator.__name__ = Locator.__qualname__ = f"ByPackage{base.__name__}"
    return Locator


_LOCATORS = (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator, caching.UserWideCacheLocator)


class _PackageCacheImpl(caching.CompileResultCacheImpl):
    _locator_classes = [_by_package(base) for base in _LOCATORS]  # noqa: RUF012 (numba reads it so)


class _PackageCache(caching.FunctionCache):
    _impl_class = _PackageCacheImpl


def kernel(function: F) -> F:
    """Compile `function` under the engine's rules (lazily, per argument types, on first call),
    cached on disk: in NUMBA_CACHE_DIR when set, else in __pycache__ beside its module, else in
    the user's cache folder."""
    compiled: Any = numba.njit(**OPTIONS)(function)
    # Without a folder numba may write its cache in (an install nobody may write, without a home
    # folder or NUMBA_CACHE_DIR), the kernels compile in memory, in every process.
    with contextlib.suppress(RuntimeError):
        # what numba's cache=True does (Dispatcher.enable_caching), with the locators above
        compiled._cache = _PackageCache(function)  # type: ignore[no-untyped-call]
    typed: F = compiled
    return typed


def warm_up() -> None:
    """Compile (or load from the disk cache) every kernel the engine uses, so a request never
    waits for the compiler: called where an engine process starts."""
    for name in KERNEL_MODULES:
        importlib.import_module(name, __package__).warm_up()
