"""The wheel: built from this tree, installed into a fresh virtualenv outside it, it serves.

Run from a folder that has an `app/` package of its own, so nothing of the source tree (or another
project's `app`) can stand in for what the wheel installed.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from app.presets import PRESETS
from tests.live import ROOT, free_port, wait_healthy

SHIPPED = ("static", "templates")
CLIENT_SCRIPT = """
from initscope.client import Client
with Client("{url}") as client:
    result = client.simulate(preset="saito-compare")
    print(len(result["runs"]), result["share"])
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The wheel, and a fresh virtualenv with it (and its dependencies) installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(tmp / "dist"), str(ROOT)], check=True)
    [wheel] = (tmp / "dist").glob("initscope-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "--disable-pip-version-check", "-q", wheel], check=True)
    return wheel, venv


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working folder with a user's own `app` package, which must not shadow initscope's."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("raise ImportError('a user project, not initscope')\n")
    return tmp_path


def test_wheel_ships_every_page_file(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in SHIPPED:
        files = [p for p in (ROOT / folder).rglob("*") if p.is_file() and not p.name.startswith(".")]
        assert files
        for path in files:
            assert f"initscope/{path.relative_to(ROOT).as_posix()}" in names
    assert "initscope/engine/training/data/mnist_5k.npz" in names
    assert not any(name.startswith("app/") for name in names)  # installed as initscope only


def test_wheel_serves_from_another_folder(installed: tuple[Path, Path], elsewhere: Path) -> None:
    _, venv = installed
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [venv / "bin" / "initscope", "serve", "--port", str(port), "--no-access-log"],
        cwd=elsewhere,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # A new install compiles the engine's kernels before it listens (~20 s of CPU, twice that
        # on a loaded 2-core machine), once.
        wait_healthy(url, server, seconds=240)
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and "/static/js/dashboard.js" in page.text
        assert httpx.get(f"{url}/static/js/dashboard.js").status_code == 200
        assert httpx.get(f"{url}/presets").status_code == 200
        preset = httpx.get(f"{url}/api/v1/simulate?{PRESETS['saito-compare'].query}")
        assert preset.status_code == 200 and len(preset.json()["runs"]) == 3
        plotly = httpx.get(f"{url}/vendor/plotly.min.js")
        assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
        docs = httpx.get(f"{url}/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        assert httpx.get(f"{url}/api/v1/train/presets").status_code == 200  # the MNIST subset ships
        # the client imports as initscope.client, the user's own app/ notwithstanding
        script = CLIENT_SCRIPT.format(url=url)
        done = subprocess.run(
            [venv / "bin" / "python", "-c", script], cwd=elsewhere, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[0] == "3"
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert b"Traceback" not in stderr
