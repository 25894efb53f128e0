"""The report's one-script bundle of the pages' figure modules (app/js_bundle.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.assets import STATIC_DIR
from app.js_bundle import BundleError, bundle

FIGURES = STATIC_DIR / "js" / "figures.js"


def _node_exports(path: Path) -> list[str]:
    node = shutil.which("node")
    assert node is not None, "node is missing: scripts/install-system-deps.sh installs it"
    script = (
        f"import({json.dumps(path.as_uri())}).then(m => console.log(JSON.stringify(Object.keys(m).sort())))"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    names: list[str] = json.loads(done.stdout)
    return names


def test_js_bundle_of_the_figures_loads_and_exports_what_the_pages_import(tmp_path: Path) -> None:
    # Two modules declaring one name, or a name a module uses without importing it, fail here.
    out = tmp_path / "bundle.mjs"
    out.write_text(bundle(FIGURES))
    exported = _node_exports(out)
    assert set(_node_exports(FIGURES)) <= set(exported)
    assert "import " not in out.read_text().replace("// ", "")  # no statement left to resolve


def test_js_bundle_takes_each_module_once_dependencies_first(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("export const A = 1;\n")
    (tmp_path / "b.js").write_text('import { A } from "./a.js";\nexport const B = A + 1;\n')
    (tmp_path / "c.js").write_text(
        'import { A } from "./a.js";\nimport { B } from "./b.js";\n'
        'export { A } from "./a.js";\nexport const C = A + B;\n'
    )
    text = bundle(tmp_path / "c.js")
    assert text.count("export const A") == 1
    assert text.index("const A") < text.index("const B") < text.index("const C")
    assert "from" not in text


@pytest.mark.parametrize(
    "source",
    [
        'import * as a from "./a.js";\n',  # a form the bundler does not read
        'import { A } from "https://example.org/a.js";\n',  # nothing leaves the report
        'import "./a.js";\n',  # a module run for its effects
    ],
)
def test_js_bundle_refuses_imports_it_cannot_resolve(tmp_path: Path, source: str) -> None:
    (tmp_path / "a.js").write_text("export const A = 1;\n")
    (tmp_path / "b.js").write_text(source)
    with pytest.raises(BundleError, match=r"b\.js"):
        bundle(tmp_path / "b.js")


def test_js_bundle_refuses_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text('import { B } from "./b.js";\nexport const A = 1;\n')
    (tmp_path / "b.js").write_text('import { A } from "./a.js";\nexport const B = 2;\n')
    with pytest.raises(BundleError, match="cycle"):
        bundle(tmp_path / "a.js")
