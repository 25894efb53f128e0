"""The engine is a library: importing it pulls in no web framework, schema or plotting module."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import app.engine

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("fastapi", "starlette", "pydantic", "pydantic_core", "plotly", "jinja2", "httpx", "uvicorn")
# every module of every room (layers, network, measure, training, paths), not only the top level
ENGINE_MODULES = sorted(
    m.name for m in pkgutil.walk_packages(app.engine.__path__, "app.engine.") if not m.ispkg
)

SCRIPT = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_import(names: list[str]) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(out.stdout))


def _web(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)


def test_isolation_engine_modules_listed() -> None:
    expected = {
        "app.engine.layers.activations",
        "app.engine.layers.initializers",
        "app.engine.network.config",
        "app.engine.network.cost",
        "app.engine.network.experiment",
        "app.engine.network.forward",
        "app.engine.network.inputs",
        "app.engine.measure.stats",
        "app.engine.training.trainer",
        "app.engine.paths.surfaces",
        "app.engine.params",
    }
    assert set(ENGINE_MODULES) >= expected


def test_isolation_engine_imports_no_web_module() -> None:
    modules = _modules_after_import(ENGINE_MODULES)
    assert set(ENGINE_MODULES) <= modules
    assert _web(modules) == []


def test_isolation_check_detects_web_modules() -> None:
    """The check itself works: a web module imported in the child shows up."""
    assert "jinja2" in _web(_modules_after_import(["app.engine.params", "jinja2"]))
