"""Security headers on every response (a pure ASGI middleware: no per-request Python objects),
and a Cache-Control on every response that has none.

Every response includes an unexpected error's 500: Starlette answers those from its outermost
layer, around every middleware, so this one answers them itself (with the same plain "Internal
Server Error") before passing the exception on to be logged.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Pages load only their own scripts, styles and data; Plotly's PNG export draws on data:/blob: URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# For a response whose route set no Cache-Control (vendor assets set a long max-age, training
# streams no-store). JSON answers are not stored: an experiment's answer is the same for the same
# link, but only as long as the server's version is, and the server caches them itself. Everything
# else (pages, static files, exports) is revalidated on each use, so that it follows the server's
# version at once; static files have an ETag and Last-Modified, which makes that a cheap 304.
NO_STORE = (b"cache-control", b"no-store")
NO_CACHE = (b"cache-control", b"no-cache")
ERROR_BODY = b"Internal Server Error"
ERROR_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(ERROR_BODY)).encode()),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = message.get("headers", [])
                message["headers"] = [*headers, *HEADERS, *_cache_control(headers)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:  # else the client has a status already, and the connection is cut
                await send_with_headers(
                    {"type": "http.response.start", "status": 500, "headers": ERROR_HEADERS}
                )
                await send({"type": "http.response.body", "body": ERROR_BODY})
            raise


def _cache_control(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The Cache-Control to add to a response's headers: none if they have one."""
    json = False
    for name, value in headers:
        lower = name.lower()
        if lower == b"cache-control":
            return []
        if lower == b"content-type":
            json = value.startswith(b"application/json")
    return [NO_STORE if json else NO_CACHE]
