"""A real uvicorn on a free loopback port: for the live-server tests and the load benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Wait until `url`/healthz answers; fail at once if the process exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {seconds} s")


@contextmanager
def serve(
    environ: dict[str, str] | None = None, options: tuple[str, ...] = ()
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real server on a free loopback port, started as `initscope serve` starts it, with extra
    INITSCOPE_* settings and `initscope serve` options; yields its URL and process."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in finally) the server's log, shown on failure
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *options,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **(environ or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, proc
    except BaseException:
        log.seek(0)
        tail = log.read()[-20_000:].decode(errors="replace")
        print(f"--- the server's log (port {port}) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        log.close()
        proc.terminate()
        try:
            proc.wait(timeout=30)  # uvicorn first finishes the requests it holds
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
