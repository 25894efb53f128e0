"""One script from the pages' ES modules, for the standalone report: it has no server to load
modules from, and an inline module cannot import another.

The pages' modules import one another only in the one form this reads (`import { a, b } from
"./x.js";` and `export { a } from "./x.js";`), so bundling is taking each
module once, dependencies first, without those lines: the names they bring are then declared in
the same script. Two modules declaring the same top-level name would be a SyntaxError in the
bundle; tests/test_js_bundle.py loads the report's bundle in node to catch that.
"""

from __future__ import annotations

import re
from pathlib import Path

# `import { a, b } from "./x.js";` or `export { a } from "./x.js";` (the braces may span lines).
_LOCAL = re.compile(r'^(?:import|export)\s*\{[^}]*\}\s*from\s*"\./([\w-]+\.js)";\s*$', re.M)
_OTHER_IMPORT = re.compile(r"^\s*import\b", re.M)


class BundleError(ValueError):
    """A module the bundler cannot take apart: an import it does not understand, or a cycle."""


def bundle(entry: Path) -> str:
    """`entry` and every module it imports (from its folder), as one module script's text."""
    order: list[Path] = []
    visiting: set[Path] = set()

    def visit(path: Path) -> None:
        if path in order:
            return
        if path in visiting:
            raise BundleError(f"{path.name}: an import cycle")
        visiting.add(path)
        text = path.read_text(encoding="utf-8")
        if _OTHER_IMPORT.search(_LOCAL.sub("", text)):
            raise BundleError(f'{path.name}: an import that is not `import {{ ... }} from "./x.js";`')
        for name in _LOCAL.findall(text):
            visit(path.parent / name)
        visiting.discard(path)
        order.append(path)

    visit(entry)
    parts = [f"// ---- {p.name}\n{_LOCAL.sub('', p.read_text(encoding='utf-8')).strip()}\n" for p in order]
    return "\n".join(parts)
