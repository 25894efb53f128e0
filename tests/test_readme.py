"""The README's "Use it from a script" examples run as written against a live server.

The only change made to them is the server's address: http://127.0.0.1:8000 becomes the live
server's (the command line reads it from INITSCOPE_URL instead), and curl gets `-sf` so that an
error answer fails the test.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.api.payload import CSV_COLUMNS
from tests.live import ROOT

README_URL = "http://127.0.0.1:8000"


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Use it from a script\n")
    end = re.compile(r"^#{2,3} ", re.M).search(text, start + 1)
    return text[start : end.start() if end else len(text)]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", _section(), re.S | re.M)


def _commands(program: str) -> list[str]:
    return [line for block in _blocks("sh") for line in block.splitlines() if line.startswith(program + " ")]


CURL = _commands("curl")
# `initscope serve` runs until stopped: test_cli starts the installed script's server instead.
CLI = [line for block in _blocks("sh") for line in block.splitlines() if "initscope " in line]
PYTHON = _blocks("python")


def test_readme_section_shows_curl_cli_and_python() -> None:
    assert len(CURL) >= 2
    assert any(line.startswith("initscope serve") for line in CLI)
    assert any(line.startswith("initscope simulate --preset saito-compare --format csv") for line in CLI)
    assert any(line.startswith("initscope report --preset") and "--out report.html" in line for line in CLI)
    assert any("from initscope.client import Client" in block for block in PYTHON)


def _check_outputs(stdout: str, folder: Path) -> None:
    """What an example printed or wrote is what the API gives: JSON, CSV or the HTML report."""
    assert stdout.strip() or any(folder.iterdir()), "the example printed and wrote nothing"
    if stdout.startswith("{"):
        assert json.loads(stdout)["runs"]
    for path in folder.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            assert json.loads(text)["runs"]
        elif path.suffix == ".csv":
            assert tuple(next(csv.reader(io.StringIO(text)))) == CSV_COLUMNS
        elif path.suffix == ".html":
            assert text.lstrip().lower().startswith("<!doctype html>") and "plotly" in text


def _bash(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{command}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", CURL, ids=[f"curl-{i}" for i in range(len(CURL))])
def test_readme_curl_example_runs(command: str, live_server: str, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is missing (scripts/install-system-deps.sh installs it)")
    assert README_URL in command
    command = command.replace(README_URL, live_server).replace("curl ", "curl -sf ", 1)
    done = _bash(command, tmp_path, dict(os.environ))
    assert done.returncode == 0, done.stderr
    _check_outputs(done.stdout, tmp_path)


@pytest.mark.parametrize(
    "command", [c for c in CLI if not c.startswith("initscope serve")], ids=lambda c: " ".join(c.split()[:4])
)
def test_readme_cli_example_runs(command: str, live_server: str, tmp_path: Path) -> None:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = _bash(command, tmp_path, {**os.environ, "PATH": path, "INITSCOPE_URL": live_server})
    assert (done.returncode, done.stderr) == (0, "")
    _check_outputs(done.stdout, tmp_path)


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{i}" for i in range(len(PYTHON))])
def test_readme_python_example_runs(code: str, live_server: str, tmp_path: Path) -> None:
    assert README_URL in code
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code.replace(README_URL, live_server)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    assert lines
    assert any(line.startswith("run=") or "&run=" in line for line in lines)  # a share link
    if "InitscopeError" in code:
        assert "422 runs[0].std: must be between 0 and 100" in lines
