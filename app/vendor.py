"""Third-party browser assets served from installed Python packages, so nothing loads from a CDN.

Each asset is one named file route; the packages' folders are never mounted whole.
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse

router = APIRouter(include_in_schema=False)

ASSETS: dict[str, tuple[str, str, str]] = {
    # url name: (package, path inside it, media type)
    "plotly.min.js": ("plotly", "package_data/plotly.min.js", "text/javascript"),
    "swagger-ui-bundle.js": (
        "swagger_ui_bundle",
        "vendor/swagger-ui-5.31.0/swagger-ui-bundle.js",
        "text/javascript",
    ),
    "swagger-ui.css": ("swagger_ui_bundle", "vendor/swagger-ui-5.31.0/swagger-ui.css", "text/css"),
}
CACHE = "public, max-age=86400"


def asset_path(name: str) -> Path:
    package, inner, _ = ASSETS[name]
    return Path(str(files(package).joinpath(inner)))


@cache
def gzipped(name: str) -> bytes:
    """The asset compressed once per process (plotly.min.js: 4.8 MB to about 1.4 MB)."""
    return gzip.compress(asset_path(name).read_bytes(), compresslevel=6, mtime=0)


@router.get("/vendor/{name}", response_model=None)
def vendor_asset(name: str, request: Request) -> Response | FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, "no such asset")
    media_type = ASSETS[name][2]
    headers = {"Cache-Control": CACHE}
    if "gzip" in request.headers.get("accept-encoding", ""):
        # encoded here, so the GZip middleware passes it without the Vary it adds to the file
        headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(gzipped(name), media_type=media_type, headers=headers)
    return FileResponse(asset_path(name), media_type=media_type, headers=headers)
