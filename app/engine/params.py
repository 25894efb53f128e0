"""Parameter specifications shared by the engine's registries.

Every registry entry (activation, initializer, bias, input) declares the parameters it reads as
`ParamSpec`s: name, default, bounds and a one-line description. Validation, defaults in share
links and the catalog all read these specs, so a parameter is described in exactly one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

ParamValue = float | int | str


class ConfigError(ValueError):
    """A configuration value the engine cannot accept; `field` names it for the user."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: ParamValue
    doc: str
    kind: Literal["float", "int", "choice"] = "float"
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def check(self, value: object) -> ParamValue:
        """Return `value` coerced to this parameter's type, or raise ConfigError naming the range."""
        if self.kind == "choice":
            if value not in self.choices:
                raise ConfigError(self.name, f"must be one of {', '.join(self.choices)}")
            return str(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(self.name, f"must be a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(self.name, "must be a finite number")
        if self.kind == "int":
            if value != int(value):
                raise ConfigError(self.name, "must be an integer")
            value = int(value)
        else:
            value = float(value)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ConfigError(self.name, f"must be {self.range_text()}")
        return value

    def range_text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"between {_fmt(self.low)} and {_fmt(self.high)}"
        if self.low is not None:
            return f"at least {_fmt(self.low)}"
        if self.high is not None:
            return f"at most {_fmt(self.high)}"
        return "any finite number"

    def describe(self) -> dict[str, object]:
        """The catalog entry for this parameter."""
        out: dict[str, object] = {
            "name": self.name,
            "type": self.kind,
            "default": self.default,
            "doc": self.doc,
        }
        if self.kind == "choice":
            out["choices"] = list(self.choices)
        else:
            out["min"] = self.low
            out["max"] = self.high
        return out


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def resolve_params(specs: tuple[ParamSpec, ...], given: dict[str, object | None]) -> dict[str, ParamValue]:
    """Checked values for `specs`, taking each from `given` unless it is None (then the default)."""
    resolved: dict[str, ParamValue] = {}
    for spec in specs:
        value = given.get(spec.name)
        resolved[spec.name] = spec.default if value is None else spec.check(value)
    return resolved
