"""The liveness answer, in one place: the app's GET /healthz route and the HTTP protocol's fast
path (app/http_protocol.py) both answer with these bytes."""

from __future__ import annotations

PATH = "/healthz"
BODY = b'{"status":"ok"}'
MEDIA_TYPE = "application/json"
