"""The HTTP server itself, over raw sockets against a real server started as `initscope serve`
starts it: a request's header has a deadline (INITSCOPE_HEADER_TIMEOUT), the server's own
answers (400, 408, 503) carry the security headers, and no answer names the server."""

from __future__ import annotations

import asyncio
import os
import selectors
import socket
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app import codec
from app.api.runner import Answer, Runner, compute
from app.engine.network.config import ExperimentConfig
from app.engine.network.cost import Limits, check_limits
from app.http_protocol import HeaderTimeoutProtocol
from app.main import create_app
from app.security import HEADERS
from app.settings import Settings
from tests.live import serve

# How long a test waits for something the server must do; far beyond what it should take.
DEADLINE = 30.0
# What slow clients send before stopping: nothing, part of a request line, part of a header.
PARTIAL = [b"", b"GET /heal", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Ag"]
HEALTH = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=DEADLINE)


def _read_to_eof(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a socket timeout fails)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _read_response(sock: socket.socket) -> tuple[bytes, dict[str, str], bytes]:
    """One response with a Content-Length, off a connection that stays open: status line,
    headers (lowercase names) and body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection; got {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        body += chunk
    return status.encode(), headers, body


def _headers(raw: bytes) -> dict[str, str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return {
        name.lower(): value.strip() for name, value in (line.split(":", 1) for line in head.split("\r\n")[1:])
    }


def _assert_security_headers(headers: dict[str, str]) -> None:
    for name, value in HEADERS:
        assert headers.get(name.decode()) == value.decode(), name
    assert "server" not in headers


def _wait_all_closed(socks: list[socket.socket]) -> dict[socket.socket, bytes]:
    """What each socket received until the server closed it; fails if some are still open at
    the deadline."""
    received = dict.fromkeys(socks, b"")
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + DEADLINE
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                try:
                    chunk = ready.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    received[ready] += chunk
                else:
                    selector.unregister(ready)
        still_open = len(selector.get_map())
    assert still_open == 0, f"{still_open} of {len(socks)} partial requests still open after {DEADLINE} s"
    return received


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def test_http_partial_headers_are_cut_at_the_header_timeout(sockets: list[socket.socket]) -> None:
    """Slowloris: connections that send part of a request (or nothing) and then wait are closed
    once INITSCOPE_HEADER_TIMEOUT has passed, with a 408 if a request had begun, while the
    server keeps answering everyone else. Two workers: the setting reaches each of them."""
    count = 50
    with serve({"INITSCOPE_HEADER_TIMEOUT": "1"}, options=("--workers", "2")) as (url, _):
        for i in range(count):
            sock = _connect(url)
            sockets.append(sock)
            sock.sendall(PARTIAL[i % len(PARTIAL)])
        assert httpx.get(f"{url}/healthz", timeout=DEADLINE).status_code == 200
        received = _wait_all_closed(sockets)
        for i, sock in enumerate(sockets):
            answer = received[sock]
            if PARTIAL[i % len(PARTIAL)] == b"":
                assert answer == b""  # an unused connection is closed silently, as when idle
            else:
                assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
                headers = _headers(answer)
                assert headers["connection"] == "close"
                _assert_security_headers(headers)
        assert httpx.get(f"{url}/healthz", timeout=DEADLINE).status_code == 200


def test_http_slow_complete_requests_on_a_kept_alive_connection() -> None:
    """A request whose header comes in pieces, within the timeout, is served; the timeout is per
    request: a kept-alive connection idle for longer than it (but within the keep-alive timeout)
    takes its next request, slow again."""
    environ = {"INITSCOPE_HEADER_TIMEOUT": "3", "INITSCOPE_TIMEOUT_KEEP_ALIVE": "10"}
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\nAccept: */*\r\n\r\n"
    pieces = [request[i : i + 16] for i in range(0, len(request), 16)]
    with serve(environ) as (url, _), _connect(url) as sock:
        for round_ in range(2):
            if round_:
                time.sleep(4)  # idle: longer than the header timeout, shorter than keep-alive
            for piece in pieces:
                sock.sendall(piece)
                time.sleep(0.1)
            status, headers, body = _read_response(sock)
            assert status == b"HTTP/1.1 200 OK" and body == b'{"status":"ok"}'
            assert "connection" not in headers  # kept alive


async def _pipelined_partial_header_behind_an_unfinished_answer() -> bytes:
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await send({"type": "http.response.body", "body": b"done"})

    config = Config(app=app, lifespan="off", log_config=None, server_header=False)
    state = ServerState()
    protocols: list[HeaderTimeoutProtocol] = []

    def protocol() -> HeaderTimeoutProtocol:
        protocols.append(HeaderTimeoutProtocol(config, state, {}))
        return protocols[-1]

    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\nX-Par")
        await writer.drain()
        deadline = time.monotonic() + DEADLINE
        # the header timer fired: the connection is to close once the answer is complete
        while not protocols or protocols[0].cycle is None or protocols[0].cycle.keep_alive:
            assert time.monotonic() < deadline, "the header timer did not fire"
            await asyncio.sleep(0.05)
        release.set()
        answer = await asyncio.wait_for(reader.read(), DEADLINE)  # to the end: closed
        writer.close()
        return answer
    finally:
        server.close()
        await server.wait_closed()


def test_http_header_timeout_behind_an_unfinished_answer_lets_it_finish(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pipelined request's header that does not come in time, while the answer to the request
    before it is still being made: that answer goes out whole, then the connection closes."""
    monkeypatch.setattr("app.http_protocol.current_settings", lambda: Settings(header_timeout=1))
    # in a thread of its own: after the browser tests, Playwright's loop runs in this one
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(asyncio.run, _pipelined_partial_header_behind_an_unfinished_answer()).result()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\ndone"), answer
    assert _headers(answer)["connection"] == "close"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"NOT A REQUEST\r\n\r\n",
    ],
    ids=["header-without-colon", "nul-in-target", "bad-request-line"],
)
def test_http_server_400_carries_the_security_headers(live_server: str, request_bytes: bytes) -> None:
    """uvicorn answers a malformed request itself, before the app (and its middleware) sees it."""
    with _connect(live_server) as sock:
        sock.sendall(request_bytes)
        answer = _read_to_eof(sock)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer
    _assert_security_headers(_headers(answer))


def test_http_limit_concurrency_503_carries_the_security_headers() -> None:
    """Beyond INITSCOPE_LIMIT_CONCURRENCY connections, uvicorn answers 503 itself, but a health
    check still gets its 200 (the server is alive); once they close, requests are served again."""
    limit = 5
    environ = {"INITSCOPE_LIMIT_CONCURRENCY": str(limit), "INITSCOPE_TIMEOUT_KEEP_ALIVE": "60"}
    status_request = b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n"
    with serve(environ) as (url, _):
        idle: list[socket.socket] = []
        try:
            # Connections kept alive after one request each, idle, count towards the limit: at
            # most `limit` - 1 get an answer (fewer if the readiness check's is not yet closed).
            for _ in range(limit):
                sock = _connect(url)
                idle.append(sock)
                sock.sendall(status_request)
                status, headers, _ = _read_response(sock)
                if status != b"HTTP/1.1 200 OK":
                    break
            assert status == b"HTTP/1.1 503 Service Unavailable" and 2 <= len(idle) <= limit, status
            assert headers["connection"] == "close"
            _assert_security_headers(headers)
            with _connect(url) as sock:
                sock.sendall(HEALTH)
                assert _read_response(sock)[0] == b"HTTP/1.1 200 OK"
        finally:
            for sock in idle:
                sock.close()
        deadline = time.monotonic() + DEADLINE
        while (code := httpx.get(f"{url}/api/v1/status", timeout=DEADLINE).status_code) != 200:
            assert time.monotonic() < deadline, f"still {code} after the idle connections closed"
            time.sleep(0.1)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/healthz"), ("HEAD", "/"), ("GET", "/nope"), ("POST", "/api/v1/simulate")],
)
def test_http_no_answer_names_the_server(live_server: str, method: str, path: str) -> None:
    response = httpx.request(method, f"{live_server}{path}", timeout=DEADLINE)
    assert response.status_code < 500
    assert "server" not in response.headers


class _Transport(asyncio.Transport):
    """What a protocol writes, kept (no socket: the test is that the answer exists when
    data_received returns, before the loop has run anything)."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _received(data: bytes) -> tuple[bytes, bool, list[str]]:
    """What a protocol writes while handling `data` (before the loop runs any task), whether
    it closed the connection, and the paths the app was called with once the loop ran."""
    called: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = Config(app=app, lifespan="off", log_config=None, server_header=False)
    config.load()
    protocol = HeaderTimeoutProtocol(config, ServerState(), {})
    transport = _Transport()
    protocol.connection_made(transport)
    protocol.data_received(data)
    written = transport.written
    closed = transport.closed
    for _ in range(10):
        await asyncio.sleep(0)  # any task the request started runs now
    protocol.connection_lost(None)
    return written, closed, called


def _in_own_loop(data: bytes) -> tuple[bytes, bool, list[str]]:
    with ThreadPoolExecutor(1) as pool:  # Playwright's loop may run in this thread
        return pool.submit(asyncio.run, _received(data)).result()


def test_http_healthz_is_answered_in_the_protocol_before_any_task_runs() -> None:
    """Under a flood the loop runs every request it has read as a task of the app's whole stack
    before it gets to the next read; /healthz is answered where it is read, so a health check
    never waits behind them. Kept-alive and pipelined checks are answered each in turn, HEAD
    without the body, and none reaches the app."""
    written, closed, called = _in_own_loop(HEALTH + b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + HEALTH)
    answers = written.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert len(answers) == 3 and not closed and called == []
    assert [a.endswith(b'\r\n\r\n{"status":"ok"}') for a in answers] == [True, False, True]
    assert answers[1].endswith(b"\r\n\r\n") and b"content-length: 15\r\n" in answers[1]


@pytest.mark.parametrize(
    ("request_bytes", "app_paths"),
    [
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nOrigin: http://a.example\r\n\r\n", ["/healthz"]),  # CORS
        (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", ["/healthz"]),
        (b"GET /healthzz HTTP/1.1\r\nHost: x\r\n\r\n", ["/healthzz"]),
    ],
)
def test_http_other_requests_go_to_the_app(request_bytes: bytes, app_paths: list[str]) -> None:
    written, _, called = _in_own_loop(request_bytes)
    assert written == b"" and called == app_paths


def test_http_healthz_with_connection_close_closes() -> None:
    written, closed, _ = _in_own_loop(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"connection: close\r\n" in written and closed


def test_http_healthz_answers_as_the_apps_route_does(live_server: str) -> None:
    """The protocol's answer and the app's route's (as a test client gets it) are the same
    status, headers and body: a monitor cannot tell which answered."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app()) as client:
        routed = client.get("/healthz")
    with _connect(live_server) as sock:
        sock.sendall(HEALTH)
        status, headers, body = _read_response(sock)
    assert status == b"HTTP/1.1 200 OK" and body == routed.content
    headers.pop("date")
    assert headers == dict(routed.headers)


# Small experiments of one size: the test has CACHED answered first, then admits RUNNING, whose
# multiply-adds fill the work budget, and asks about links while it runs.
CACHED = "depth=2&width=20&samples=50&run=relu,he_normal&seed=1"
RUNNING = "depth=2&width=20&samples=50&run=relu,he_normal&seed=3"
ANOTHER = "depth=2&width=20&samples=50&run=relu,he_normal&seed=2"
RUNNING_SEED = 3


def _simulate(query: str, *headers: bytes) -> bytes:
    head = b"GET /api/v1/simulate?" + query.encode() + b" HTTP/1.1\r\nHost: x\r\n"
    return head + b"".join(headers) + b"\r\n"


def _without_date(answer: bytes) -> bytes:
    head, body = answer.split(b"\r\n\r\n", 1)
    lines = [line for line in head.split(b"\r\n") if not line.startswith(b"date: ")]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _complete(written: bytes) -> bool:
    if b"\r\n\r\n" not in written:
        return False
    body = written.split(b"\r\n\r\n", 1)[1]
    return len(body) >= int(_headers(written)["content-length"])


async def _answered(protocol: HttpToolsProtocol, request: bytes) -> tuple[bytes, bytes]:
    """What `protocol` wrote while reading `request` (before the loop ran anything), and its
    whole answer once the loop has run the app's task (the connection stays open)."""
    transport = _Transport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    at_once = transport.written
    deadline = time.monotonic() + DEADLINE
    while not _complete(transport.written):
        assert time.monotonic() < deadline, f"no whole answer: {transport.written!r}"
        await asyncio.sleep(0.001)
    protocol.connection_lost(None)
    return at_once, transport.written


async def _with_a_full_budget(requests: list[bytes], release: Path) -> tuple[list[Any], ...]:
    """Each request, while a real experiment fills the work budget of a real app (with real
    engine processes), asked of the server's protocol and of uvicorn's own, where the app
    answers everything: both answers, and the app's refusal count after each pair."""
    limits = Limits()
    macs = check_limits(codec.to_experiment(codec.decode(RUNNING)), limits).macs
    app = create_app(Settings(max_pending_macs=macs))
    settings = app.state.settings
    work = partial(_held_until_released, str(release))
    runner = app.state.runner = Runner(settings.cache_bytes, 1, macs, work)
    config = Config(app=app, lifespan="off", log_config=None, server_header=False, access_log=False)
    config.load()  # as uvicorn serves it: under its proxy headers middleware
    try:
        await runner.answer(codec.to_experiment(codec.decode(CACHED)), macs, (CACHED, limits))
        running = asyncio.ensure_future(runner.answer(codec.to_experiment(codec.decode(RUNNING)), macs))
        await asyncio.sleep(0)  # admitted: the budget is full until it is answered
        assert runner.pending_macs == runner.max_pending_macs
        ours, uvicorns, rejected = [], [], []
        for request in requests:
            if request == _simulate(RUNNING):
                release.touch()  # the app waits for its answer
            ours.append(await _answered(HeaderTimeoutProtocol(config, ServerState(), {}), request))
            uvicorns.append(await _answered(HttpToolsProtocol(config, ServerState(), {}), request))
            rejected.append(runner.rejected)
        release.touch()
        await running
        return ours, uvicorns, rejected
    finally:
        runner.close()


def _held_until_released(release: str, config: ExperimentConfig) -> Answer:
    """An engine's work: RUNNING's answer waits until the test creates the file `release` (so
    the budget stays full while the test asks), every other experiment's is computed."""
    if config.runs[0].seed == RUNNING_SEED:
        deadline = time.monotonic() + DEADLINE
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.01)
    return compute(config)


def _in_a_thread(requests: list[bytes]) -> tuple[list[Any], ...]:
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(1) as pool:
        # in a thread of its own: Playwright's loop may run in this one
        return pool.submit(asyncio.run, _with_a_full_budget(requests, Path(folder) / "release")).result()


def test_http_refusal_is_answered_in_the_protocol_with_the_apps_503() -> None:
    """Under a flood of uncached experiments every refusal ran the app's whole stack as a task
    (~310 us of the worker's CPU each), and 200 clients queued behind each other. The protocol
    answers a refusal where it reads the request, before any task runs, with the bytes the app
    answers (status, headers, body and Retry-After), and the runner counts it as the app would."""
    requests = [
        _simulate(ANOTHER),
        _simulate(ANOTHER, b"Accept-Encoding: gzip\r\n"),
        _simulate(ANOTHER, b"Connection: close\r\n"),
        b"GET /api/v1/simulate?" + ANOTHER.encode() + b" HTTP/1.0\r\n\r\n",
    ]
    ours, uvicorns, rejected = _in_a_thread(requests)
    for (at_once, answer), (app_at_once, app_answer) in zip(ours, uvicorns, strict=True):
        assert at_once == answer and app_at_once == b""  # ours before any task ran
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), answer
        assert _without_date(answer) == _without_date(app_answer)
        assert b'"type":"overloaded"' in answer and b"\r\nretry-after: 1\r\n" in answer
    assert rejected == [2, 4, 6, 8]  # each counted once, whoever refused
    assert b"connection: close" in ours[2][1] and b"connection: close" in ours[3][1]


def test_http_the_app_answers_whatever_it_would_not_refuse() -> None:
    """With the budget full, the protocol answers nothing itself and the app answers as it
    would: a cached link from the cache, a link that is not valid and one over a limit (422s
    naming the field), a request with an Origin header (CORS is the app's: here its refusal),
    another method and path, and the link in flight once it is computed (the app waits for it)."""
    requests = [
        _simulate(CACHED),
        _simulate("run=relu,he_normal&depth=0"),
        _simulate("run=relu,he_normal&depth=500"),
        _simulate(ANOTHER, b"Origin: http://a.example\r\n"),
        b"POST /api/v1/simulate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        _simulate(ANOTHER).replace(b"/simulate?", b"/simulate/?"),
        _simulate(RUNNING),
    ]
    ours, uvicorns, rejected = _in_a_thread(requests)
    assert all(at_once == b"" for at_once, _ in ours)  # the app answered, in a task
    answers = [_without_date(answer) for _, answer in ours]
    for answer, (_, app_answer) in zip(answers[:-1], uvicorns, strict=False):
        assert answer == _without_date(app_answer)
    # The link in flight: the protocol's request waited for the computation; uvicorn's came
    # once it was cached. The same answer otherwise.
    assert b"x-cache: miss" in answers[-1]
    assert answers[-1].replace(b"x-cache: miss", b"x-cache: hit") == _without_date(uvicorns[-1][1])
    statuses = [int(answer[9:12]) for answer in answers]
    assert statuses[:4] == [200, 422, 422, 503] and 503 not in statuses[4:], statuses
    assert b"x-cache: hit" in answers[0] and statuses[-1] == 200
    assert b"depth" in answers[1] and b"max_depth" in answers[2]
    assert rejected == [0, 0, 0, 2, 2, 2, 2]  # the app's two refusals
