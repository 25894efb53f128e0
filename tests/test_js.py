"""The pages' pure JavaScript functions, unit-tested with node's own test runner (tests/js/)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

JS_TESTS = Path(__file__).resolve().parent / "js"


def test_js_unit_tests_pass() -> None:
    node = shutil.which("node")
    assert node is not None, "node is missing: scripts/install-system-deps.sh installs it"
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))
    assert files, "no JavaScript tests found"
    done = subprocess.run([node, "--test", *files], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout
