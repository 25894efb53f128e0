"""Importing this module compiles (or loads from numba's disk cache) every kernel of the engine.

The engines' forkserver imports it once (app/api/runner.py), so every engine process forked from
it starts with its kernels in memory and no request waits for the compiler.
"""

from __future__ import annotations

from . import jit

jit.warm_up()
