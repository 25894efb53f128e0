"""Named diagnostics that reproduce the signal-propagation papers' claims, one link each.

Each preset is a /diagnostics query (a share link plus the diagnostics' keys) and the claim it
shows (app/claims/diagnostics.py); tests check every query is canonical and every claim's verdict
and numbers against the preset's own result.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote_plus

from . import codec
from .claims.diagnostics import PENNINGTON_RELU, PENNINGTON_TANH, POOLE_CORRELATION, DiagnosticsClaim
from .diagnostics_codec import split_options
from .engine.network.config import ExperimentConfig
from .engine.network.diagnostics import DiagnosticsOptions


@dataclass(frozen=True)
class DiagnosticsPreset:
    name: str
    title: str
    query: str  # share query and diagnostics keys, canonical
    claim: DiagnosticsClaim

    @property
    def experiment(self) -> ExperimentConfig:
        return _parsed(self.query)[0]

    @property
    def options(self) -> DiagnosticsOptions:
        return _parsed(self.query)[1]


@cache
def _parsed(query: str) -> tuple[ExperimentConfig, DiagnosticsOptions]:
    share, options = split_options(query)
    return codec.to_experiment(codec.decode(share)), options


_LIST = [
    DiagnosticsPreset(
        "poole-tanh-correlation",
        "Poole et al.: tanh, sigma_b 0.3, sigma_w 1.3 | 2.3 | 4",
        "bias=normal&bias_std=0.3&depth=30&width=1000&input_dim=1000&samples=50"
        "&run=tanh,xavier,gain:1.3&run=tanh,xavier,gain:2.3&run=tanh,xavier,gain:4&jacobian=0",
        POOLE_CORRELATION,
    ),
    DiagnosticsPreset(
        "pennington-tanh-isometry",
        "Pennington et al.: critical tanh, orthogonal | Gaussian",
        # sigma_b 0.01 and sigma_w 1.0421 put chi at 1 with q* = 0.046; input std 0.205 starts q_1 at q*
        "bias=normal&bias_std=0.01&depth=64&width=256&input_dim=256&samples=4&input_std=0.205"
        "&run=tanh,orthogonal,gain:1.0421&run=tanh,xavier,gain:1.0421",
        PENNINGTON_TANH,
    ),
    DiagnosticsPreset(
        "pennington-relu",
        "Pennington et al.: ReLU, orthogonal | He",
        "depth=64&width=256&input_dim=256&samples=4&run=relu,orthogonal,gain:1.4142&run=relu,he_normal",
        PENNINGTON_RELU,
    ),
]
DIAGNOSTICS_PRESETS: dict[str, DiagnosticsPreset] = {p.name: p for p in _LIST}


def _key(piece: str) -> str:
    return unquote_plus(piece.partition("=")[0])


def expand_preset(query: str) -> str:
    """`preset=<a diagnostics preset>` replaced by that preset's query, less the keys the link
    gives itself (all the preset's run= when the link has a run=), as the share link's own presets
    are; any other `preset=` is left to the share-link codec."""
    pieces = [piece for piece in query.lstrip("?").split("&") if piece]
    named = [piece for piece in pieces if _key(piece) == "preset"]
    if len(named) != 1:
        return query  # none, or given twice: the codec answers
    preset = DIAGNOSTICS_PRESETS.get(unquote_plus(named[0].partition("=")[2]))
    if preset is None:
        return query
    given = {_key(piece) for piece in pieces} - {"preset"}
    kept = [piece for piece in preset.query.split("&") if _key(piece) not in given]
    return "&".join(kept + [piece for piece in pieces if _key(piece) != "preset"])
