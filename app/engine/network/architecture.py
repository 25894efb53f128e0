"""A run's architecture beyond the plain stack: normalization layers and residual blocks.

Six link fields, all optional; a run that sets none of them is the plain stack it always was
(its RunConfig carries no Architecture, so its answer is byte for byte what it was):

- block=plain|residual: residual stacks `depth` blocks y = x + s F(x) on `width` units, after a
  dense stem from the inputs (input_dim -> width, no activation)
- branch=1|2: F's layers, each an activation then a dense layer (F ends in its output projection)
- norm=none|batch|layer|rms: BatchNorm (batch statistics), LayerNorm or RMSNorm
- norm_at: plain stacks before|after the activation; residual blocks pre (x + s F(N(x)), and a
  final norm after the last block, as Pre-LN Transformers have) or post (N(x + s F(x)))
- branch_scale: s, the number the branch is multiplied by (default 1)
- res_init=none|depth|rezero|fixup: depth multiplies each branch's output projection by
  1/sqrt(2L) (GPT-2, L blocks); rezero makes s a learnable scalar, 0 at init (ReZero, SkipInit);
  fixup draws each branch's first layer He-scaled times L^(-1/(2m-2)) and its last layer 0, with
  zero biases and no normalization (Zhang et al. 2019, without its scalar multipliers and biases)

Canonical: a field at its default is left out, and one the architecture does not read (branch for
a plain stack, branch_scale under rezero) is dropped, as other unused parameters are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..params import ConfigError, ParamSpec

BLOCKS = ("plain", "residual")
NORMS = ("none", "batch", "layer", "rms")
NORM_AT = {"plain": ("before", "after"), "residual": ("pre", "post")}
RES_INITS = ("none", "depth", "rezero", "fixup")
BRANCH = ParamSpec("branch", 1, "layers in each residual branch (activation then dense)", "int", 1, 2)
BRANCH_SCALE = ParamSpec(
    "branch_scale", 1.0, "s in y = x + s F(x): the residual branch's multiplier", "float", 0.0, 100.0
)
ARCH_FIELDS = ("block", "branch", "norm", "norm_at", "branch_scale", "res_init")
CHOICES = {
    "block": BLOCKS,
    "norm": NORMS,
    "norm_at": ("before", "after", "pre", "post"),
    "res_init": RES_INITS,
}
DOCS = {
    "block": "plain stack, or residual blocks y = x + s F(x) after a dense stem (default plain)",
    "branch": BRANCH.doc,
    "norm": "normalization layer: none, batch (BatchNorm, batch statistics), layer, rms (default none)",
    "norm_at": "where the norm sits: before|after the activation (plain), pre|post (residual)",
    "branch_scale": BRANCH_SCALE.doc,
    "res_init": "residual init: none, depth (1/sqrt(2L) on each output projection), rezero, fixup",
}


@dataclass(frozen=True)
class Architecture:
    block: str = "plain"
    norm: str = "none"
    norm_at: str = "before"
    branch: int = 1
    branch_scale: float = 1.0
    res_init: str = "none"

    @property
    def residual(self) -> bool:
        return self.block == "residual"

    @property
    def learn_scale(self) -> bool:
        return self.res_init == "rezero"

    def fields(self) -> dict[str, object]:
        """The canonical link fields: those away from their defaults."""
        out: dict[str, object] = {}
        if self.residual:
            out["block"] = self.block
            if self.branch != BRANCH.default:
                out["branch"] = self.branch
        if self.norm != "none":
            out["norm"] = self.norm
            if self.norm_at != NORM_AT[self.block][0]:
                out["norm_at"] = self.norm_at
        if self.residual and not self.learn_scale and self.branch_scale != BRANCH_SCALE.default:
            out["branch_scale"] = self.branch_scale
        if self.residual and self.res_init != "none":
            out["res_init"] = self.res_init
        return out


def default_of(name: str, block: str = "plain") -> str | int | float:
    """The value a field takes when the link leaves it out."""
    return {
        "block": "plain",
        "branch": BRANCH.default,
        "norm": "none",
        "norm_at": NORM_AT[block][0],
        "branch_scale": BRANCH_SCALE.default,
        "res_init": "none",
    }[name]


def _choice(fields: Mapping[str, object], name: str, choices: tuple[str, ...], default: str) -> str:
    value = fields.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(name, f"unknown {name} {value!r}; one of {', '.join(choices)}")
    return value


def make_architecture(fields: Mapping[str, object]) -> Architecture | None:
    """The architecture the fields describe, or None for the plain stack without norm (a run that
    gives none of the fields, or only their defaults)."""
    if all(fields.get(name) is None for name in ARCH_FIELDS):
        return None
    block = _choice(fields, "block", BLOCKS, "plain")
    norm = _choice(fields, "norm", NORMS, "none")
    places = NORM_AT[block]
    norm_at = _choice(fields, "norm_at", CHOICES["norm_at"], places[0])
    if norm_at not in places:
        raise ConfigError("norm_at", f"is {places[0]} or {places[1]} for block={block}, not {norm_at}")
    res_init = _choice(fields, "res_init", RES_INITS, "none")
    branch_value = fields.get("branch")
    branch = int(BRANCH.check(BRANCH.default if branch_value is None else branch_value))
    scale_value = fields.get("branch_scale")
    scale = float(BRANCH_SCALE.check(BRANCH_SCALE.default if scale_value is None else scale_value))
    if block == "plain" and res_init != "none":
        raise ConfigError("res_init", "is for residual blocks (block=residual)")
    if res_init == "fixup" and norm != "none":
        raise ConfigError("norm", "must be none with res_init=fixup: Fixup trains without normalization")
    arch = Architecture(block, norm, norm_at if norm != "none" else places[0], branch, scale, res_init)
    if not arch.residual:  # a plain stack reads neither branch field
        arch = Architecture(block, norm, arch.norm_at)
    elif arch.learn_scale:  # ReZero's s starts at 0 whatever the link says
        arch = Architecture(block, norm, arch.norm_at, branch, 0.0, res_init)
    return None if not arch.fields() else arch


def check_fits(
    arch: Architecture | None,
    widths: tuple[int, ...],
    output_activation: str | None,
    elementwise: bool,
    data_dependent: bool,
) -> None:
    """Refuse what the layer networks do not build, naming the field."""
    if arch is None:
        return
    if arch.residual and not elementwise:
        # Its k pieces come from the dense layer before it; a branch begins with its activation.
        raise ConfigError(
            "activation",
            "maxout is for plain stacks: a residual branch begins with its activation, "
            "which has no dense layer before it to give maxout its k pieces per unit",
        )
    if data_dependent and arch.res_init in ("depth", "fixup"):
        raise ConfigError(
            "res_init",
            f"must be none or rezero with init=lsuv: LSUV rescales every dense layer to "
            f"unit variance, which would undo {arch.res_init}'s scaling of the branches",
        )
    if arch.residual:
        if len(set(widths)) != 1:
            raise ConfigError("width", "residual blocks need one width: the skip adds x to F(x)")
        if output_activation is not None:
            raise ConfigError("output_activation", "is for plain stacks: residual blocks end in their sum")


def fixup_scale(blocks: int, branch: int) -> float:
    """Fixup's factor on a branch's first layer, L^(-1/(2m-2)) (1 for one layer, which is 0)."""
    return 1.0 if branch == 1 else blocks ** (-1.0 / (2 * branch - 2))
