"""The standalone HTML report: one file with plotly.js, the figure code and the data inside, so it
opens offline by double click. The figures are drawn by the same static/js/figures.js the pages use.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from .assets import STATIC_DIR, TEMPLATES_DIR
from .vendor import asset_path

_env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape())


@cache
def _scripts() -> tuple[str, str]:
    plotly = asset_path("plotly.min.js").read_text(encoding="utf-8")
    figures = (STATIC_DIR / "js" / "figures.js").read_text(encoding="utf-8")
    return plotly, figures


def _script_safe(text: str) -> Markup:
    # Inside <script>, only "</script" (and "<!--") could end the element early.
    return Markup(text.replace("</script", "<\\/script").replace("<!--", "<\\!--"))


def render(document: dict[str, Any]) -> str:
    plotly, figures = _scripts()
    data = orjson.dumps(document).decode().replace("<", "\\u003c")
    return _env.get_template("report.html").render(
        document=document,
        plotly_js=_script_safe(plotly),
        figures_js=_script_safe(figures),
        data_json=Markup(data),
    )
