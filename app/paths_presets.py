"""Paths presets: the texts' claims about how weights move, on the optimizers page.

One so far: the zig-zag of all-positive inputs (notes 001), drawn in the /optimizers page's
`#zigzag` section from `GET /api/v1/unit-paths?<query>`. Its claim's verdict and every quoted
number are derived from the preset's own paths (tests/test_paths_presets.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import paths_codec
from .claims import Claim, PathsView, cs231n
from .engine.paths.surfaces import UnitPath, ZigzagConfig


@dataclass(frozen=True)
class PathsPreset:
    name: str
    title: str
    query: str  # the canonical unit-paths link ("" at the defaults)
    claim: Claim[Sequence[UnitPath], PathsView]

    @property
    def config(self) -> ZigzagConfig:
        return paths_codec.decode_zigzag(self.query)

    @property
    def page(self) -> str:
        """Where the page shows it."""
        query = f"?{self.query}" if self.query else ""
        return f"/optimizers{query}#{self.claim.view.section}"


_LIST = [
    PathsPreset(
        "zigzag",
        "The zig-zag: one unit's two weights on positive | centred inputs",
        "",
        cs231n.ZIGZAG,
    )
]
PATHS_PRESETS = {p.name: p for p in _LIST}
