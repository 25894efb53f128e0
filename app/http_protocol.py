"""uvicorn's HTTP protocol with a deadline on every request's header, and the security headers on
the answers uvicorn writes itself. `initscope serve` passes it to uvicorn as `http`.

Why: uvicorn has no header-read timeout. Its keep-alive timer starts only after a response, so a
client that opens connections and sends part of a request, or nothing, then waits (slowloris)
holds each one, and a place of INITSCOPE_LIMIT_CONCURRENCY, for as long as it likes. Here a timer
starts when a connection is made and when a request begins (its first byte), and stops when the
request's header is complete. If it fires first the connection is closed: with a 408 if a request
had begun, silently if not (as uvicorn closes an idle kept-alive connection). Bodies are not
timed: the app reads them, as it chooses.

uvicorn answers a malformed request (400) and a request beyond limit_concurrency (503) itself,
outside the app, so the app's SecurityHeaders middleware never sees those answers: here they get
the same headers, from app/security.py.

GET and HEAD /healthz are answered here, as soon as their header is read, with the bytes the app's
route answers (app/health.py) and the same headers. Why: under a flood, every request the loop has
read becomes a task that runs the app's whole stack (~0.3 ms each for a refusal), and a health
check queued behind 200 of them waited 100-160 ms; answered in the protocol it waits for no task,
so a monitor sees a live server as live however busy its app is, and beyond limit_concurrency
too (a liveness probe that got uvicorn's 503 there would have an overloaded server restarted).
A request with an Origin header (a page's fetch, which may need CORS headers) still goes to the
app.

So does a refusal of GET /api/v1/simulate, for the same reason: under a flood of uncached
experiments almost every request is one (the work budget is full), and each cost the worker
~310 us of CPU as a task of the app's whole stack; 200 clients back to back queued ~150 ms
behind each other, and a health check behind them. Here the app's own code decides
(app/api/simulate.py: the cache by link, the link's checks, the runner's budget, exactly as
the route would) and the answer is the app's 503 (its body, Retry-After and headers, as the
middleware adds them), counted by the runner; every other request (a cached link, one in
flight, an invalid one, one with an Origin header) goes to the app, which answers as before.

It is uvicorn's httptools protocol (httptools comes with uvicorn[standard], a dependency), so the
server never falls back to h11. It relies on uvicorn's internals (send_400_response,
_start_asgi_task, the parser callbacks): uvicorn is pinned, and tests/test_http_protocol.py runs a
real server against it. The timeout is the worker process's INITSCOPE_HEADER_TIMEOUT, read from
the environment like every other setting.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any, cast

from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.responses import Response
from uvicorn._types import ASGI3Application
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string
from uvicorn.server import ServerState

from . import health
from .api import simulate
from .security import HEADERS, NO_STORE, SecurityHeaders, _cache_control
from .settings import current_settings

# uvicorn's own 503 (beyond limit_concurrency), through the middleware that adds the headers
_SERVICE_UNAVAILABLE = cast(ASGI3Application, SecurityHeaders(cast(Any, service_unavailable)))


class HeaderTimeoutProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = current_settings().header_timeout
        self.header_timer: asyncio.TimerHandle | None = None
        self.request_begun = False  # a request's first bytes came, its header is not complete
        self.routed_app = _routed_app(self.app)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.request_begun = True
        if self.header_timer is None:  # else a new connection's: its first request has what is left
            self._start_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        self.request_begun = False
        super().on_headers_complete()

    def _start_header_timer(self) -> None:
        self.header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _header_timed_out(self) -> None:
        self.header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # An answer is still going out; the late header is a pipelined request's. Close the
            # connection once that answer is complete, as uvicorn does when shutting down.
            self.cycle.keep_alive = False
        elif self.request_begun:
            self._send_error(408, "Request header timed out.")
        else:
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        self._send_error(400, msg)

    def _send_error(self, status: int, message: str) -> None:
        """An answer of uvicorn's own, as its send_400_response writes it, with the headers."""
        body = message.encode("ascii")
        headers = [
            *self.server_state.default_headers,
            *HEADERS,
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"connection", b"close"),
        ]
        self.transport.write(STATUS_LINE[status] + _header_lines(headers) + b"\r\n" + body)
        self.transport.close()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        if _is_health_check(cycle):  # alive, even beyond limit_concurrency
            self._answer(cycle, 200, _HEALTH_HEADERS, health.BODY)
            return
        if app is service_unavailable:
            app = _SERVICE_UNAVAILABLE
        elif (refusal := self._refusal(cycle)) is not None:
            self._answer(cycle, *_as_sent(refusal))
            return
        super()._start_asgi_task(cycle, app)

    def _refusal(self, cycle: RequestResponseCycle) -> Response | None:
        """The app's 503 for an experiment link it would refuse (its work budget is full), made
        here without the app's stack; None for every other request, which the app answers."""
        scope = cast(dict[str, Any], cycle.scope)  # as Starlette reads it
        if (
            scope["method"] != "GET"
            or get_route_path(scope) != simulate.GET_PATH
            or self.flow.write_paused  # a client that does not read: the app waits for it
            or any(name == b"origin" for name, _ in scope["headers"])  # CORS: the app's
        ):
            return None
        if self.routed_app is None:
            return None
        try:
            return simulate.refusal_in_protocol(self.routed_app, URL(scope=scope).query)
        except Exception:  # whatever went wrong, the app meets it too, and answers as it does
            return None

    def _answer(self, cycle: RequestResponseCycle, status: int, headers: bytes, body: bytes) -> None:
        """Answer as the app would (`headers`: those after uvicorn's defaults), and complete the
        cycle as uvicorn's send does (the request has no body to wait for: the parser's later
        callbacks see a complete response)."""
        scope = cycle.scope
        head = STATUS_LINE[status] + _header_lines(self.server_state.default_headers) + headers
        if not cycle.keep_alive:
            head += b"connection: close\r\n"
        self.transport.write(head + b"\r\n" + (body if scope["method"] != "HEAD" else b""))
        if cycle.access_log:
            cycle.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(scope),
                scope["method"],
                get_path_with_query_string(scope),
                scope["http_version"],
                status,
            )
        cycle.response_complete = True
        cycle.message_event.set()
        if not cycle.keep_alive:
            self.transport.close()
        cycle.on_response()


def _header_lines(headers: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(name + b": " + value + b"\r\n" for name, value in headers)


# The health answer's headers after uvicorn's defaults (the date), as the app's route sends them:
# made once, not per check.
_HEALTH_HEADERS = _header_lines(
    [
        (b"content-length", str(len(health.BODY)).encode("ascii")),
        (b"content-type", health.MEDIA_TYPE.encode("ascii")),
        *HEADERS,
        NO_STORE,
    ]
)


@lru_cache(maxsize=256)  # the refusals are made once each (app/api/simulate.py)
def _as_sent(response: Response) -> tuple[int, bytes, bytes]:
    """A response's status, headers after uvicorn's defaults (its own, then the middleware's, as
    the app sends them) and body."""
    headers = response.raw_headers
    return (
        response.status_code,
        _header_lines([*headers, *HEADERS, *_cache_control(headers)]),
        bytes(response.body),
    )


def _routed_app(app: object) -> Starlette | None:
    """create_app's app under uvicorn's wrappers (the proxy headers middleware), if it is one."""
    for _ in range(8):
        if isinstance(app, Starlette):
            return app if hasattr(app.state, "runner") else None
        app = getattr(app, "app", None)
    return None


def _is_health_check(cycle: RequestResponseCycle) -> bool:
    scope = cycle.scope
    return (
        scope["path"] == health.PATH
        and scope["method"] in ("GET", "HEAD")
        and not any(name == b"origin" for name, _ in scope["headers"])
    )
