"""Server settings, read once from environment variables (INITSCOPE_*).

Every limit on an experiment's size is here, under the name the catalog reports and an
environment variable of the same name: INITSCOPE_MAX_DEPTH sets Limits.max_depth, and so on.
The server's own settings follow the same rule (INITSCOPE_CACHE_BYTES sets Settings.cache_bytes);
they hold per worker process. INITSCOPE_CORS_ORIGINS is a comma-separated list of origins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache

from starlette.requests import Request

from .engine.network.cost import Limits

ENV_PREFIX = "INITSCOPE_"
# Set by `initscope serve` for its worker processes: a folder they share, for the registry of
# trainings (app/api/train_registry.py). Unset (tests, a bare uvicorn), each process is alone.
SHARED_DIR_VARIABLE = "INITSCOPE_SHARED_DIR"


def env_name(limit: str) -> str:
    return ENV_PREFIX + limit.upper()


@dataclass(frozen=True)
class Settings:
    limits: Limits = field(default_factory=Limits)
    cache_bytes: int = 128 << 20  # results kept, as served JSON (and gzip), per worker
    max_in_flight: int = 2  # experiments computed at once per worker (threads)
    # multiply-adds admitted at once per worker (running and waiting); beyond it a fast 503
    max_pending_macs: int = 2 * Limits().max_macs
    max_jobs: int = 2  # trainings running at once per worker (each on its own thread)
    cors_origins: tuple[str, ...] = ()  # none: browsers may call the API only from its own pages
    # The HTTP server's (uvicorn's), for every way initscope starts (initscope serve, make serve,
    # the Docker image): seconds an idle kept-alive connection stays open; connections and
    # requests at once per worker, beyond which new requests get a 503 (so a flood of slow or
    # half-open connections cannot exhaust the process); seconds a stopping server lets open
    # requests and streams finish before it cuts them (then trainings stop and are joined);
    # seconds a client has to send a request's whole header, from the connection's start or the
    # request's first byte, before the connection is closed (app/http_protocol.py: slowloris).
    timeout_keep_alive: int = 5
    limit_concurrency: int = 1000
    shutdown_seconds: int = 5
    header_timeout: int = 10
    # Sweeps (app/sweeps): at most max_sweeps running at once per worker (beyond, a 503); a sweep's
    # grid points and the multiply-adds of all its points together; the Dask scheduler to send
    # points to (tcp://host:port), or "" for a LocalCluster of the worker's own, started lazily.
    max_sweeps: int = 2
    max_sweep_points: int = 2500
    max_sweep_macs: int = 2 * 10**12
    dask_scheduler: str = ""


SERVER_SETTINGS = (
    "cache_bytes",
    "max_in_flight",
    "max_pending_macs",
    "max_jobs",
    "timeout_keep_alive",
    "limit_concurrency",
    "shutdown_seconds",
    "header_timeout",
    "max_sweeps",
    "max_sweep_points",
    "max_sweep_macs",
)


def _read_int(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(env_name(name))
    if raw is None:
        return None
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ValueError(f"{env_name(name)}={raw!r} is not an integer") from None
    if value < 1:
        raise ValueError(f"{env_name(name)} must be at least 1")
    return value


def _read_ints(environ: Mapping[str, str], names: list[str]) -> dict[str, int]:
    return {name: value for name in names if (value := _read_int(environ, name)) is not None}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    limits = replace(Limits(), **_read_ints(env, [f.name for f in fields(Limits)]))
    server = _read_ints(env, list(SERVER_SETTINGS))
    server.setdefault("max_pending_macs", 2 * limits.max_macs)  # two of the largest experiments
    origins = tuple(o.strip() for o in env.get(env_name("cors_origins"), "").split(",") if o.strip())
    scheduler = env.get(env_name("dask_scheduler"), "").strip()
    settings = Settings(limits=limits, cors_origins=origins, dask_scheduler=scheduler, **server)
    if settings.max_pending_macs < limits.max_macs:
        raise ValueError(
            f"{env_name('max_pending_macs')} must be at least {env_name('max_macs')} "
            f"({limits.max_macs}), or the largest allowed experiment could never run"
        )
    return settings


@cache
def current_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return load_settings()


def settings_of(request: Request) -> Settings:
    """The settings in force: the app's (create_app's). A test that changes them sets
    app.state.settings, which every route reads, dependency or not."""
    settings: Settings = request.app.state.settings
    return settings


async def get_settings(request: Request) -> Settings:
    """settings_of as a FastAPI dependency. async: a plain def dependency would cost every request
    a hop to the thread pool."""
    return settings_of(request)
