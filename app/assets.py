"""Where the pages' files are: static/ and templates/.

Installed from the wheel they sit inside the package (initscope/static, initscope/templates); in the
source checkout they sit at the repository's top level, beside app/. Found from this file's own
location either way, never from the current directory.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def asset_dir(name: str) -> Path:
    """The folder `name` ("static" or "templates") that ships with this package."""
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"initscope's {name}/ folder is missing (looked beside and inside {PACKAGE_DIR})")


STATIC_DIR = asset_dir("static")
TEMPLATES_DIR = asset_dir("templates")
