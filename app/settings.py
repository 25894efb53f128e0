"""Server settings, read once from environment variables (INITSCOPE_*).

Every limit on an experiment's size is here, under the name the catalog reports and an
environment variable of the same name: INITSCOPE_MAX_DEPTH sets Limits.max_depth, and so on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache

from app.engine.cost import Limits

ENV_PREFIX = "INITSCOPE_"


def env_name(limit: str) -> str:
    return ENV_PREFIX + limit.upper()


@dataclass(frozen=True)
class Settings:
    limits: Limits = field(default_factory=Limits)


def _read_limits(environ: Mapping[str, str]) -> Limits:
    values: dict[str, int] = {}
    for f in fields(Limits):
        raw = environ.get(env_name(f.name))
        if raw is None:
            continue
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise ValueError(f"{env_name(f.name)}={raw!r} is not an integer") from None
        if value < 1:
            raise ValueError(f"{env_name(f.name)} must be at least 1")
        values[f.name] = value
    return replace(Limits(), **values)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    return Settings(limits=_read_limits(os.environ if environ is None else environ))


@cache
def get_settings() -> Settings:
    """The process's settings (a FastAPI dependency; tests override it)."""
    return load_settings()
